import * as decoding from 'lib0/decoding';

/** Hocuspocus frame types (packages/server/src/types.ts). */
const MessageType = {
	Sync: 0,
	Awareness: 1,
	Auth: 2,
	QueryAwareness: 3,
	SyncReply: 4,
	Stateless: 5,
	BroadcastStateless: 6,
	Close: 7
} as const;

const SyncStep1 = 0;
const SyncStep2 = 1;
const SyncUpdate = 2;

export type Frame =
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
				if (step === SyncStep1) return { kind: 'passive' };
				if (step === SyncStep2 || step === SyncUpdate) {
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
			case MessageType.Close:
				return { kind: 'passive' };
			default:
				throw new MalformedFrameError(`unknown message type ${type}`);
		}
	} catch (error) {
		if (error instanceof MalformedFrameError) throw error;
		throw new MalformedFrameError('the frame could not be decoded');
	}
}

/** The client ids named in an awareness update (y-protocols/awareness encoding). */
export function awarenessClientIds(update: Uint8Array): number[] {
	try {
		const decoder = decoding.createDecoder(update);
		const count = decoding.readVarUint(decoder);
		const ids: number[] = [];
		for (let i = 0; i < count; i++) {
			ids.push(decoding.readVarUint(decoder));
			decoding.readVarUint(decoder);
			decoding.readVarString(decoder);
		}
		return ids;
	} catch {
		throw new MalformedFrameError('the awareness update could not be decoded');
	}
}
