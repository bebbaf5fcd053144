import { MessageType } from '@hocuspocus/server';
import * as decoding from 'lib0/decoding';
import { messageYjsSyncStep1, messageYjsSyncStep2, messageYjsUpdate } from 'y-protocols/sync';

export type Frame =
	/** `update` and `awareness` are views into the frame itself: writing to them changes what Hocuspocus reads next. */
	| { kind: 'update'; update: Uint8Array }
	| { kind: 'awareness'; update: Uint8Array }
	| { kind: 'broadcast-stateless' }
	/** Frames that cannot change the document: state vectors, queries, stateless, auth, close. */
	| { kind: 'passive' };

export class MalformedFrameError extends Error {}

/** Reads what a client frame asks of a document, without applying it. */
export function decodeFrame(frame: Uint8Array): Frame {
	try {
		const decoder = decoding.createDecoder(frame);
		decoding.readVarString(decoder);
		const type = decoding.readVarUint(decoder);
		switch (type) {
			case MessageType.Sync:
			case MessageType.SyncReply: {
				const step = decoding.readVarUint(decoder);
				if (step === messageYjsSyncStep1) return { kind: 'passive' };
				if (step === messageYjsSyncStep2 || step === messageYjsUpdate) {
					return { kind: 'update', update: decoding.readVarUint8Array(decoder) };
				}
				throw new MalformedFrameError(`unknown sync step ${step}`);
			}
			case MessageType.Awareness:
				return { kind: 'awareness', update: decoding.readVarUint8Array(decoder) };
			case MessageType.BroadcastStateless:
				return { kind: 'broadcast-stateless' };
			case MessageType.Auth:
			case MessageType.QueryAwareness:
			case MessageType.Stateless:
			case MessageType.CLOSE:
				return { kind: 'passive' };
			default:
				throw new MalformedFrameError(`unknown message type ${type}`);
		}
	} catch (error) {
		if (error instanceof MalformedFrameError) throw error;
		throw new MalformedFrameError('the frame could not be decoded');
	}
}

/**
 * Turns the update inside a frame into an empty one, in place (the rest of its bytes are never read).
 * Hocuspocus applies the frame after the hook: by then the server has applied exactly what it
 * accepted, so nothing of the client's bytes reaches the document unchecked.
 */
export function emptyUpdateInPlace(update: Uint8Array): void {
	// Yjs update v1: number of struct blocks, then number of delete-set clients.
	update[0] = 0;
	update[1] = 0;
}

/** Replaces the awareness update inside a frame, in place, with `replacement` (no longer than it). */
export function replaceAwarenessInPlace(update: Uint8Array, replacement: Uint8Array): void {
	if (replacement.byteLength > update.byteLength) throw new Error('a filtered awareness update cannot grow');
	update.set(replacement);
}
