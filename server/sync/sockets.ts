import type { IncomingMessage } from 'node:http';
import * as decoding from 'lib0/decoding';
import type { WebSocket } from 'ws';
import { SocketCloseCode, SocketCloseReason } from '../../src/lib/shared/protocol.ts';
import { BackOfTheLine, type Sender } from './back-of-the-line.ts';

/** What one socket may send for documents it has not (yet) been let into. */
export interface SocketBudget {
	/** Bytes of frames for documents without an open connection (Hocuspocus queues them). */
	pendingBytes: number;
	/** Documents named but not (yet) connected. */
	pendingDocuments: number;
	/** Time from the upgrade until the first document is connected. */
	authenticateMs: number;
}

export const DEFAULT_SOCKET_BUDGET: SocketBudget = {
	pendingBytes: 8 * 1024 * 1024,
	pendingDocuments: 64,
	authenticateMs: 10_000
};

interface SocketState {
	ws: WebSocket;
	userId: string | null;
	connected: Set<string>;
	pending: Map<string, number>;
	pendingBytes: number;
	timer: ReturnType<typeof setTimeout> | undefined;
	/** Closed for breaking a rule: later frames are dropped. */
	closing?: boolean;
}

function documentNameOf(frame: Buffer): string | null {
	try {
		return decoding.readVarString(decoding.createDecoder(frame));
	} catch {
		return null;
	}
}

/**
 * Every sync socket's budget before it is let in (Hocuspocus queues a document's frames until its
 * authentication and load finish, and keeps queueing for a refused one), and how many sockets each
 * user holds. Keyed by the upgrade request, which Hocuspocus passes to every hook.
 */
export class SocketRegistry {
	readonly #sockets = new WeakMap<IncomingMessage, SocketState>();
	readonly #perUser = new Map<string, Set<SocketState>>();
	/** Hocuspocus's socket ids, known from the first authentication on a socket. */
	readonly #bySocketId = new Map<string, SocketState>();

	constructor(
		private readonly budget: SocketBudget = DEFAULT_SOCKET_BUDGET,
		private readonly socketsPerUser = Infinity,
		/** Where frames of users who were refused recently wait. */
		readonly line = new BackOfTheLine()
	) {}

	/**
	 * Watches a socket, then hands it to `handOff` (Hocuspocus's `handleConnection`), whose frame
	 * listeners then only hear frames that pass this socket's checks: every frame names its document
	 * (else the socket closes with `malformed-frame`), and frames for documents not yet let in stay
	 * within the pending budget. A recently refused user's frames wait behind everyone else's.
	 */
	admit(ws: WebSocket, request: IncomingMessage, handOff: () => void): void {
		const state: SocketState = { ws, userId: null, connected: new Set(), pending: new Map(), pendingBytes: 0, timer: undefined };
		this.#sockets.set(request, state);
		state.timer = setTimeout(() => {
			if (state.connected.size === 0) this.#close(state, SocketCloseReason.AuthenticationTimeout);
		}, this.budget.authenticateMs);
		state.timer.unref?.();
		const behind: Array<(data: Buffer, isBinary: boolean) => void> = [];
		const sender: Sender = {
			pause: () => ws.pause(),
			resume: () => ws.resume(),
			forward: (data, isBinary) => {
				for (const listener of behind) listener.call(ws, data, isBinary);
			}
		};
		ws.once('close', () => {
			clearTimeout(state.timer);
			this.line.forget(sender);
			for (const [socketId, other] of this.#bySocketId) if (other === state) this.#bySocketId.delete(socketId);
			if (state.userId) this.#perUser.get(state.userId)?.delete(state);
		});
		const before = new Set(ws.listeners('message'));
		handOff();
		behind.push(...(ws.listeners('message').filter((listener) => !before.has(listener)) as typeof behind));
		for (const listener of behind) ws.off('message', listener);
		ws.on('message', (data: Buffer, isBinary: boolean) => {
			if (this.#check(state, data)) this.line.offer(sender, state.userId, data, isBinary);
		});
	}

	/** Whether the frame goes on to Hocuspocus; a socket that broke a rule is closing and its frames stop here. */
	#check(state: SocketState, frame: Buffer): boolean {
		if (state.closing) return false;
		const name = documentNameOf(frame);
		if (name === null) {
			this.#close(state, SocketCloseReason.MalformedFrame);
			return false;
		}
		if (state.connected.has(name)) return true;
		state.pending.set(name, (state.pending.get(name) ?? 0) + frame.byteLength);
		state.pendingBytes += frame.byteLength;
		if (state.pending.size > this.budget.pendingDocuments || state.pendingBytes > this.budget.pendingBytes) {
			this.#close(state, SocketCloseReason.PendingBudget);
			return false;
		}
		return true;
	}

	#close(state: SocketState, reason: string): void {
		state.closing = true;
		state.ws.close(SocketCloseCode.PolicyViolation, reason);
	}

	/**
	 * The socket authenticated as `userId`: false when that user already holds as many other sockets
	 * as allowed (the document is then refused).
	 */
	claim(request: IncomingMessage | undefined, socketId: string, userId: string): boolean {
		const state = request && this.#sockets.get(request);
		if (!state) return true; // not a watched socket (a direct connection)
		this.#bySocketId.set(socketId, state);
		if (state.userId === userId) return true;
		let sockets = this.#perUser.get(userId);
		if (!sockets) this.#perUser.set(userId, (sockets = new Set()));
		if (sockets.size >= this.socketsPerUser) return false;
		state.userId = userId;
		sockets.add(state);
		return true;
	}

	connected(socketId: string, documentName: string): void {
		const state = this.#bySocketId.get(socketId);
		if (!state) return;
		state.connected.add(documentName);
		state.pendingBytes -= state.pending.get(documentName) ?? 0;
		state.pending.delete(documentName);
	}

	disconnected(socketId: string, documentName: string): void {
		this.#bySocketId.get(socketId)?.connected.delete(documentName);
	}
}
