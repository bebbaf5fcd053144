import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { messagesMap, seqMap } from '../../../src/lib/shared/conversation-doc.ts';
import { CloseReason, conversationDocName, decodeServerStateless, type MessageValue } from '../../../src/lib/shared/protocol.ts';

/**
 * ws emits 'error' when a socket that is still connecting is closed, which the provider does when
 * it is destroyed or reconnects at that moment, after it removed its own listeners: in Node (not in
 * a browser) that would throw. This socket always has a listener.
 */
export class QuietWebSocket extends WebSocket {
	constructor(...args: ConstructorParameters<typeof WebSocket>) {
		super(...args);
		this.on('error', () => {});
	}
}

/** Closes after which the web app reconnects with a fresh socket and nothing is lost. */
export const RETRYABLE: ReadonlySet<string> = new Set([CloseReason.Reloading, CloseReason.UpdateIncomplete, CloseReason.RateLimited]);

export interface DeviceEvents {
	/** A message id got its sequence number on this device (the durable "sent", DUR-1). */
	onAck?(id: string, seq: number): void;
}

/**
 * One device of a user: a Y.Doc that outlives connections (its local state, as IndexedDB keeps
 * it) and, while online, a stock HocuspocusProvider on its own socket. Refusals (update-refused
 * notices, non-retryable closes) and retryable closes are counted by reason.
 */
export class Device {
	doc: Y.Doc;
	provider: HocuspocusProvider | null = null;
	socket: HocuspocusProviderWebsocket | null = null;
	/** `update-refused` notices and closes that are not retryable, by reason. */
	readonly refusals = new Map<string, number>();
	/** The text of each `update-refused` notice. */
	readonly refusalMessages: string[] = [];
	/** Retryable closes, by reason. */
	readonly retries = new Map<string, number>();
	/** Set when a retryable close asks for a fresh socket. */
	needsReconnect = false;
	#observer = (event: Y.YMapEvent<number>) => {
		for (const key of event.keysChanged) {
			const seq = seqMap(this.doc).get(key);
			if (seq !== undefined) this.events.onAck?.(key, seq);
		}
	};

	constructor(
		readonly label: string,
		readonly userId: string,
		readonly token: string,
		readonly conversationId: string,
		private readonly events: DeviceEvents = {}
	) {
		this.doc = new Y.Doc();
		seqMap(this.doc).observe(this.#observer);
	}

	get online(): boolean {
		return this.provider !== null;
	}

	/** Connects a stock provider to the document; resolves at once (use `synced` to wait). */
	connect(wsUrl: string): Promise<void> {
		if (this.provider) return Promise.resolve();
		const socket = new HocuspocusProviderWebsocket({ url: wsUrl, WebSocketPolyfill: QuietWebSocket, delay: 50, minDelay: 50, maxDelay: 400 });
		let markSynced: () => void = () => {};
		const synced = new Promise<void>((resolve) => (markSynced = resolve));
		const provider = new HocuspocusProvider({
			websocketProvider: socket,
			name: conversationDocName(this.conversationId),
			document: this.doc,
			token: this.token,
			awareness: null,
			onSynced: () => markSynced(),
			onAuthenticationFailed: ({ reason }) => this.#closed(reason),
			onClose: ({ event }) => {
				if (event.reason) this.#closed(event.reason);
			},
			onStateless: ({ payload }) => {
				const message = decodeServerStateless(payload);
				if (message?.type === 'update-refused') {
					count(this.refusals, `update-refused:${message.code}`);
					this.refusalMessages.push(`${this.label}: ${message.code}: ${message.message} [${message.messageIds.join(',')}]`);
				}
			}
		});
		provider.attach();
		this.provider = provider;
		this.socket = socket;
		this.needsReconnect = false;
		return synced;
	}

	#closed(reason: string): void {
		if (RETRYABLE.has(reason)) {
			count(this.retries, reason);
			this.needsReconnect = true;
		} else {
			count(this.refusals, reason);
		}
	}

	disconnect(): void {
		this.provider?.destroy();
		this.socket?.destroy();
		this.provider = null;
		this.socket = null;
	}

	/** A reload: the local state is read back into a new Y.Doc (a new clientID, as after a page load with y-indexeddb). */
	reload(): void {
		const state = Y.encodeStateAsUpdate(this.doc);
		seqMap(this.doc).unobserve(this.#observer);
		this.doc.destroy();
		this.doc = new Y.Doc();
		Y.applyUpdate(this.doc, state);
		seqMap(this.doc).observe(this.#observer);
	}

	/** Writes a message value as the app does (`writeMessage`: the body trimmed). */
	write(value: MessageValue): void {
		messagesMap(this.doc).set(value.id, { ...value, body: value.body.trim() });
	}

	/** The message ids this device holds written by its user and not acknowledged yet. */
	unacknowledged(): string[] {
		const seqs = seqMap(this.doc);
		return [...messagesMap(this.doc).entries()].filter(([id, v]) => v.author === this.userId && !seqs.has(id)).map(([id]) => id);
	}
}

export function count(map: Map<string, number>, key: string, by = 1): void {
	map.set(key, (map.get(key) ?? 0) + by);
}

export function sum(maps: Iterable<Map<string, number>>): Map<string, number> {
	const total = new Map<string, number>();
	for (const map of maps) for (const [key, n] of map) count(total, key, n);
	return total;
}

export function formatCounts(map: Map<string, number>): string {
	return map.size === 0 ? 'none' : [...map].map(([k, n]) => `${k} ${n}`).join(', ');
}
