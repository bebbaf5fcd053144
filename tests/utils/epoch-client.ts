import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { monotonicFactory } from 'ulid';
import * as Y from 'yjs';
import { carryInto, seqMap, unacknowledged, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { CloseReason, conversationDocName, decodeServerStateless } from '../../src/lib/shared/protocol.ts';
import { QuietWebSocket } from './quiet-websocket.ts';
import { api, type Account } from './server.ts';

/** Ids in the order a device writes them, as the web app makes them (same-millisecond messages keep their order). */
const ulid = monotonicFactory();

/**
 * A device that follows a conversation's epochs as docs/protocol.md tells clients to: when its
 * epoch ends (an `epoch-ended` message or close, or a refusal naming it), it opens the current
 * epoch's document and writes there the messages it has not seen acknowledged, same ids.
 */
export class EpochClient {
	doc = new Y.Doc();
	epoch: number;
	/** Every sequence number this device saw, by message id (acknowledgements of any epoch). */
	readonly acked = new Map<string, number>();
	/** Every reason the server gave (auth refusals and closes), in order. */
	readonly reasons: string[] = [];
	/** Epochs this device moved into. */
	readonly moves: number[] = [];
	#socket: HocuspocusProviderWebsocket | null = null;
	#provider: HocuspocusProvider | null = null;
	#moving: Promise<void> | null = null;
	#online = false;

	constructor(
		readonly url: string,
		readonly wsUrl: string,
		readonly conversationId: string,
		readonly account: Account,
		epoch = 0
	) {
		this.epoch = epoch;
		this.#watch(this.doc);
	}

	connect(): void {
		this.#online = true;
		this.#attach();
	}

	/** Drops the connection; writes stay in the document until the next connect. */
	disconnect(): void {
		this.#online = false;
		this.#detach();
	}

	send(body: string, id = ulid()): string {
		writeMessage(this.doc, { id, author: this.account.id, body });
		return id;
	}

	/** Resolves once every id is acknowledged (in whichever epoch). */
	async whenAcked(ids: string[], timeoutMs = 15_000): Promise<void> {
		const start = Date.now();
		while (!ids.every((id) => this.acked.has(id))) {
			if (Date.now() - start > timeoutMs) {
				const missing = ids.filter((id) => !this.acked.has(id));
				throw new Error(`${missing.length} of ${ids.length} not acknowledged; epoch ${this.epoch}; reasons ${this.reasons.slice(-5).join(', ')}`);
			}
			await new Promise((resolve) => setTimeout(resolve, 10));
		}
	}

	destroy(): void {
		this.disconnect();
	}

	#watch(doc: Y.Doc): void {
		const seqs = seqMap(doc);
		const record = () => {
			for (const [id, seq] of seqs) this.acked.set(id, seq);
		};
		record();
		seqs.observe(record);
	}

	#attach(): void {
		this.#socket = new HocuspocusProviderWebsocket({ url: this.wsUrl, WebSocketPolyfill: QuietWebSocket, delay: 50, minDelay: 50, maxDelay: 300 });
		const provider = new HocuspocusProvider({
			websocketProvider: this.#socket,
			name: conversationDocName(this.conversationId, this.epoch),
			document: this.doc,
			token: this.account.token,
			onAuthenticationFailed: ({ reason }) => this.#onReason(reason, null),
			onClose: ({ event }) => {
				if (event.reason) this.#onReason(event.reason, null);
			},
			onStateless: ({ payload }) => {
				const message = decodeServerStateless(payload);
				if (message?.type === 'epoch-ended') this.#onReason(CloseReason.EpochEnded, message.epoch);
			}
		});
		provider.attach();
		this.#provider = provider;
	}

	#detach(): void {
		this.#provider?.destroy();
		this.#socket?.destroy();
		this.#provider = null;
		this.#socket = null;
	}

	#onReason(reason: string, epoch: number | null): void {
		this.reasons.push(reason);
		if (reason === CloseReason.EpochEnded) this.#moving ??= this.#move(epoch).finally(() => (this.#moving = null));
		else if (reason !== 'provider_initiated' && this.#online && this.#provider && reason !== CloseReason.NotAMember) {
			// A document the server closed cannot be reopened on the same socket: start a fresh one.
			setTimeout(() => {
				if (!this.#online || this.#moving) return;
				this.#detach();
				this.#attach();
			}, 50);
		}
	}

	/** Opens the current epoch with this device's unacknowledged messages carried over. */
	async #move(epoch: number | null): Promise<void> {
		const current = epoch ?? (await this.#currentEpoch());
		if (current <= this.epoch) return;
		this.#detach();
		const carried = unacknowledged(this.doc, this.account.id);
		this.doc.destroy();
		this.doc = new Y.Doc();
		this.#watch(this.doc);
		carryInto(this.doc, carried);
		this.epoch = current;
		this.moves.push(current);
		if (this.#online) this.#attach();
	}

	async #currentEpoch(): Promise<number> {
		const { body } = await api<{ conversation: { epoch: number } }>(this.url, `/api/conversations/${this.conversationId}`, { token: this.account.token });
		return body.conversation.epoch;
	}
}
