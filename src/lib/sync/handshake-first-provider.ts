import { HocuspocusProvider } from '@hocuspocus/provider';
import * as decoding from 'lib0/decoding';

/** y-protocols' message numbers, as Hocuspocus frames them: document name, message type, sync step. */
const MESSAGE_SYNC = 0;
const SYNC_STEP_1 = 0;
/** WebSocket.OPEN, also where no WebSocket global exists (Node, with a polyfill). */
const OPEN = 1;

/** Whether a frame from the server is its sync step 1: it asks this device for everything it lacks. */
export function isSyncStep1(frame: ArrayBuffer | Uint8Array): boolean {
	try {
		const decoder = decoding.createDecoder(frame instanceof Uint8Array ? frame : new Uint8Array(frame));
		decoding.readVarString(decoder);
		return decoding.readVarUint(decoder) === MESSAGE_SYNC && decoding.readVarUint(decoder) === SYNC_STEP_1;
	} catch {
		return false;
	}
}

/**
 * A provider that hands the server this device's changes in the order they were made (ORDER-2).
 *
 * The stock provider sends each change of the document as it happens, and keeps the ones made
 * without a socket for the next one, which sends them as soon as the server first answers. Changes
 * older than the page (written before a reload while offline) only reach the server in the
 * device's reply to the server's sync step 1, a round trip later: a message written after the
 * reload overtook the ones written before it and took an earlier sequence number.
 *
 * Here a change is sent only once this connection has answered the server's sync step 1. Before
 * that it is not sent at all: the answer is computed when the server asks, from the whole document,
 * so it carries every change made until then, older ones included, in one update.
 */
export class HandshakeFirstProvider extends HocuspocusProvider {
	/**
	 * This connection answered the server's sync step 1. A plain field, not a private one: the base
	 * class's constructor binds the handlers below before a subclass's fields exist.
	 */
	declare answeredServer: boolean | undefined;

	override documentUpdateHandler(update: Uint8Array, origin: unknown): void {
		// A socket closing (the app dropped it) or closed by force (no close event reaches this provider)
		// would keep the change for the next socket, which sends it before this connection's answer.
		if (this.answeredServer !== true || this.configuration.websocketProvider.webSocket?.readyState !== OPEN) return;
		super.documentUpdateHandler(update, origin);
	}

	override onMessage(event: Parameters<HocuspocusProvider['onMessage']>[0]): void {
		// The answer is sent while the base class handles the frame.
		super.onMessage(event);
		if (isSyncStep1(event.data as ArrayBuffer)) this.answeredServer = true;
	}

	override async onOpen(event: Parameters<HocuspocusProvider['onOpen']>[0]): Promise<void> {
		this.answeredServer = false;
		return super.onOpen(event);
	}

	override onClose(): void {
		this.answeredServer = false;
		super.onClose();
	}
}
