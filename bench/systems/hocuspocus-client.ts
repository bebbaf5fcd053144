/**
 * A Hocuspocus client in Node for this project and the raw relay: one provider socket per device,
 * one provider per open document, the `ws` WebSocket counting what arrives.
 */
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import * as Y from 'yjs';
import { messagesMap, seqMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { encodeStateless, userDocName } from '../../src/lib/shared/protocol.ts';
import { countingWebSocket, type Counter } from '../measure.ts';
import type { Client, Room, User } from './types.ts';

export interface HocuspocusOptions {
	wsUrl: string;
	/** The document name of a conversation. */
	docName(conversationId: string): string;
	/**
	 * What acknowledges a message: `seq`, this project's sequence number (written once it is on
	 * disk); `sync-status`, Hocuspocus's own acknowledgement of an applied update (the raw relay's).
	 */
	ack: 'seq' | 'sync-status';
}

class HocuspocusRoom implements Room {
	readonly #sent = new Set<string>();
	#acked = 0;
	readonly #ackListeners: Array<() => void> = [];

	constructor(
		readonly doc: Y.Doc,
		readonly provider: HocuspocusProvider,
		private readonly user: User,
		ack: HocuspocusOptions['ack']
	) {
		if (ack === 'seq') {
			seqMap(doc).observe((event) => {
				let more = 0;
				for (const key of event.keysChanged) if (this.#sent.has(key)) more += 1;
				if (more) this.#ack(this.#acked + more);
			});
		} else {
			provider.on('unsyncedChanges', ({ number }: { number: number }) => this.#ack(Math.max(0, this.#sent.size - number)));
		}
	}

	#ack(count: number): void {
		if (count === this.#acked) return;
		this.#acked = count;
		for (const listener of this.#ackListeners) listener();
	}

	send(id: string, body: string): void {
		this.#sent.add(id);
		writeMessage(this.doc, { id, author: this.user.id, body });
	}

	sendBatch(ids: string[], body: string): void {
		this.doc.transact(() => {
			for (const id of ids) this.send(id, body);
		});
	}

	acked(): number {
		return this.#acked;
	}

	onAck(listener: () => void): void {
		this.#ackListeners.push(listener);
	}

	onMessage(listener: (id: string) => void): void {
		messagesMap(this.doc).observe((event) => {
			for (const [id, change] of event.changes.keys) if (change.action === 'add' && !this.#sent.has(id)) listener(id);
		});
	}

	onSequenced(listener: (seq: number) => void): void {
		seqMap(this.doc).observe((event) => {
			for (const [id, change] of event.changes.keys) {
				const seq = seqMap(this.doc).get(id);
				if (change.action === 'add' && seq !== undefined) listener(seq);
			}
		});
	}

	/** As the web client does: a delivered receipt when a newer message arrives, and a read receipt once it is on screen. */
	receipt(deliveredSeq: number, readSeq: number): void {
		this.provider.sendStateless(encodeStateless({ type: 'receipt', deliveredSeq }));
		this.provider.sendStateless(encodeStateless({ type: 'receipt', readSeq }));
	}

	size(): number {
		return messagesMap(this.doc).size;
	}

	encodeState(): Uint8Array {
		return Y.encodeStateAsUpdate(this.doc);
	}

	close(): void {
		this.provider.destroy();
	}
}

/** Resolves once the provider has synced; rejects when the server refuses it. */
function synced(provider: HocuspocusProvider, name: string): Promise<void> {
	return new Promise((resolve, reject) => {
		if (provider.isSynced) return resolve();
		provider.on('synced', () => resolve());
		provider.on('authenticationFailed', ({ reason }: { reason: string }) => reject(new Error(`${name} refused: ${reason}`)));
	});
}

export function hocuspocusClient(options: HocuspocusOptions, user: User, counter: Counter): Client {
	const socket = new HocuspocusProviderWebsocket({ url: options.wsUrl, WebSocketPolyfill: countingWebSocket(counter) });
	const providers: HocuspocusProvider[] = [];
	const attach = (name: string, document: Y.Doc, awareness?: null) => {
		const provider = new HocuspocusProvider({ websocketProvider: socket, name, document, token: user.token, ...(awareness === null ? { awareness } : {}) });
		provider.attach();
		providers.push(provider);
		return provider;
	};
	return {
		async open(conversationId, resume) {
			const name = options.docName(conversationId);
			const doc = resume instanceof HocuspocusRoom ? resume.doc : new Y.Doc();
			const provider = attach(name, doc);
			const room = new HocuspocusRoom(doc, provider, user, options.ack);
			await synced(provider, name);
			return room;
		},
		async openInbox() {
			// Like the web client's user channel: an empty document without awareness, only stateless frames.
			const name = userDocName(user.id);
			await synced(attach(name, new Y.Doc(), null), name);
		},
		close() {
			for (const provider of providers) provider.destroy();
			socket.destroy();
		}
	};
}
