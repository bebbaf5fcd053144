/**
 * A Hocuspocus client in Node for this project and the raw relay: one provider socket per device,
 * one provider per open document, the `ws` WebSocket counting what arrives. With `epochs` (this
 * project), a room follows its conversation from epoch to epoch as server/SPEC.md tells devices to
 * (EPOCH-3), and pages in over REST what it missed of ended epochs while it was away.
 */
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import * as Y from 'yjs';
import { carryInto, messagesMap, seqMap, unacknowledged, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { HISTORY_PAGE_MAX } from '../../src/lib/shared/limits.ts';
import { CloseReason, decodeServerStateless, encodeStateless, userDocName } from '../../src/lib/shared/protocol.ts';
import { countingWebSocket, type Counter } from '../measure.ts';
import type { Epochs, HistoryPage } from './epochs.ts';
import type { Client, Room, User } from './types.ts';

export interface HocuspocusOptions {
	wsUrl: string;
	/** The document name of an epoch of a conversation (the raw relay has no epochs: always 0). */
	docName(conversationId: string, epoch: number): string;
	/**
	 * What acknowledges a message: `seq`, this project's sequence number (written once it is on
	 * disk; a message is also delivered to others only once its sequence number is in);
	 * `sync-status`, Hocuspocus's own acknowledgement of an applied update (the raw relay's).
	 */
	ack: 'seq' | 'sync-status';
	/** This project's epochs; without them a room stays in its one document. */
	epochs?: Epochs;
}

/** One user's socket: rooms open their documents on it. */
interface Device {
	options: HocuspocusOptions;
	user: User;
	/** What the device receives, on its socket and over REST. */
	counter: Counter;
	rooms: Set<HocuspocusRoom>;
	/** A provider for document `name` on the device's socket (`awareness: null`: none). */
	attach(name: string, document: Y.Doc, awareness?: null): HocuspocusProvider;
}

/** Resolves once the provider has synced; rejects when the server refuses it. */
function synced(provider: HocuspocusProvider, name: string): Promise<void> {
	return new Promise((resolve, reject) => {
		if (provider.isSynced) return resolve();
		provider.on('synced', () => resolve());
		provider.on('authenticationFailed', ({ reason }: { reason: string }) => reject(new Error(`${name} refused: ${reason}`)));
	});
}

/** The first sequence number of an epoch: the lowest of the unbroken run of the newest in its document; undefined when it holds none. */
function epochStart(doc: Y.Doc): number | undefined {
	const [newest, ...older] = [...seqMap(doc).values()].sort((a, b) => b - a);
	let start = newest;
	for (const seq of older) {
		if (seq !== start! - 1) break;
		start = seq;
	}
	return start;
}

/** The first page of what a device missed, asked for at opening: messages after the newest it had, before `before`. */
interface EarlyPage {
	page: Promise<HistoryPage>;
	before: number | undefined;
	limit: number;
}

class HocuspocusRoom implements Room {
	#device: Device;
	#epoch: number;
	/** The newest epoch the server named in an `epoch-ended` message. */
	#heard = 0;
	#doc = new Y.Doc();
	#provider!: HocuspocusProvider;
	/** Settles once the open document has synced and what was missed is paged in; rejects when the server refuses the document. */
	#ready!: Promise<void>;
	/** The open document has synced: from then on, the device sees its epoch to the end. */
	#live = false;
	#closed = false;
	/** Moves to later epochs, one after another. */
	#moving: Promise<void> | null = null;
	/** Set when an epoch ended while the device was not there: it holds everything up to this sequence number, and pages in the rest. */
	#missedAfter: number | undefined;

	readonly #sent = new Set<string>();
	/** Every message id the device has held, in any epoch's document or from the history. */
	readonly #held = new Set<string>();
	/** Every message id whose sequence number the device has seen, anywhere. */
	readonly #sequenced = new Set<string>();
	#newest: number | undefined;
	#acked = 0;
	readonly #ackListeners: Array<() => void> = [];
	readonly #messageListeners: Array<(id: string) => void> = [];
	readonly #sequencedListeners: Array<(seq: number) => void> = [];

	constructor(
		device: Device,
		readonly conversationId: string,
		epoch: number
	) {
		this.#device = device;
		this.#epoch = epoch;
		this.#watch(this.#doc);
		this.#open();
	}

	/** Resolves once the room's document (of its current epoch) has synced and what it missed is here; rejects when the server refuses it. */
	async ready(): Promise<void> {
		for (;;) {
			const ready = this.#ready;
			try {
				await ready;
			} catch (error) {
				// A refusal for an ended epoch moves the room on; any other is the caller's.
				await this.#moving;
				if (ready === this.#ready) throw error;
			}
			if (ready === this.#ready) return;
		}
	}

	/**
	 * The same room on another socket of the device (it came back online): its documents and what it
	 * held stay. An epoch its conversation list already names (the web client refreshes it on every
	 * reconnect) is opened at once, without a refusal first.
	 */
	reopen(device: Device): this {
		this.#device = device;
		this.#closed = false;
		const known = device.options.epochs?.known(this.conversationId) ?? 0;
		if (known > this.#epoch) {
			this.#missedAfter ??= this.#newest;
			this.#switchDocument(known);
		}
		this.#open();
		return this;
	}

	/** Opens the current epoch's document on the device's socket. */
	#open(): void {
		const { options } = this.#device;
		const name = options.docName(this.conversationId, this.#epoch);
		const provider = this.#device.attach(name, this.#doc);
		this.#device.rooms.add(this);
		this.#provider = provider;
		this.#live = false;
		provider.on('synced', () => (this.#live = true));
		const early = this.#askMissedEarly();
		this.#ready = synced(provider, name).then(() => this.#pageInMissed(early));
		this.#ready.catch(() => {}); // ready() reports it, unless a move follows
		if (options.ack === 'sync-status') {
			provider.on('unsyncedChanges', ({ number }: { number: number }) => this.#ack(Math.max(0, this.#sent.size - number)));
		}
		if (options.epochs) this.#followEpochs(provider);
	}

	/**
	 * The server ends an epoch with an `epoch-ended` message naming the next, then a close (which
	 * needs nothing more once the next epoch is known, EPOCH-5); an ended epoch is refused at opening.
	 */
	#followEpochs(provider: HocuspocusProvider): void {
		const epoch = this.#epoch;
		provider.on('stateless', ({ payload }: { payload: string }) => {
			const message = decodeServerStateless(payload);
			if (message?.type === 'epoch-ended') {
				this.#heard = Math.max(this.#heard, message.epoch);
				this.#epochEnded(message.epoch, message.firstSeq);
			}
		});
		const refused = ({ reason }: { reason: string }) => {
			if (reason === CloseReason.EpochEnded && this.#heard <= epoch) this.#epochEnded(null);
		};
		provider.on('authenticationFailed', refused);
		provider.on('close', ({ event }: { event: { reason: string } }) => refused(event));
	}

	/** `epoch`: the current one (its messages start at `firstSeq`), or null when the server did not say. */
	#epochEnded(epoch: number | null, firstSeq?: number): void {
		// Not there until the end (refused at opening, or closed before it synced): ended epochs may hold messages it never saw.
		if (!this.#live) this.#missedAfter ??= this.#newest;
		// In a later microtask at the earliest: out of the provider's handler before the move destroys the provider.
		const move = (this.#moving ?? Promise.resolve())
			.then(() => this.#moveTo(epoch, firstSeq))
			.catch((error: unknown) => console.error(`  ${this.conversationId}: following its epochs failed:`, error));
		this.#moving = move;
		void move.finally(() => {
			if (this.#moving === move) this.#moving = null;
		});
	}

	/** Opens the current epoch in a fresh document, with this device's messages not yet acknowledged written into it (EPOCH-3). */
	async #moveTo(epoch: number | null, firstSeq?: number): Promise<void> {
		const epochs = this.#device.options.epochs!;
		const { user, counter } = this.#device;
		const current = epoch ?? (await epochs.current(this.conversationId, user, counter));
		if (this.#closed || current <= this.#epoch) return;
		this.#provider.destroy();
		this.#switchDocument(current, firstSeq);
		this.#open();
	}

	/** A fresh document for `epoch`, with the messages not yet acknowledged written into it. */
	#switchDocument(epoch: number, firstSeq?: number): void {
		const carried = unacknowledged(this.#doc, this.#device.user.id);
		this.#doc.destroy();
		this.#doc = new Y.Doc();
		this.#watch(this.#doc);
		carryInto(this.#doc, carried);
		this.#epoch = epoch;
		this.#device.options.epochs!.reached(this.conversationId, epoch, firstSeq);
	}

	/**
	 * What the device missed of ended epochs, asked for while the document syncs: forwards from the
	 * newest message it holds, up to where the epoch's messages start when its conversation list says.
	 */
	#askMissedEarly(): EarlyPage | null {
		const epochs = this.#device.options.epochs;
		const after = this.#missedAfter;
		if (!epochs || after === undefined) return null;
		const before = epochs.known(this.conversationId) === this.#epoch ? epochs.knownFirstSeq(this.conversationId) : undefined;
		const limit = before === undefined ? HISTORY_PAGE_MAX : Math.min(HISTORY_PAGE_MAX, before - 1 - after);
		if (limit <= 0) return null;
		const page = this.#history({ after, before, limit });
		page.catch(() => {}); // #pageInMissed reports it
		return { page, before, limit };
	}

	/**
	 * Pages in over REST what the device missed of ended epochs, up to just before this epoch's
	 * messages: `early` (asked for at opening) brings the first page after the newest it had.
	 */
	async #pageInMissed(early: EarlyPage | null): Promise<void> {
		let after = this.#missedAfter;
		if (after === undefined) return;
		const end = early?.before ?? epochStart(this.#doc);
		if (early) {
			const page = await early.page;
			if (page.messages.length < early.limit) return this.#caughtUp();
			after = page.messages.at(-1)!.seq;
		}
		if (end !== undefined) {
			// Sequence numbers have no gaps: every page of the range is known up front, and asked for at once.
			const pages: Array<Promise<HistoryPage>> = [];
			for (let from = after; from + 1 < end; from += HISTORY_PAGE_MAX) pages.push(this.#history({ after: from, before: end, limit: HISTORY_PAGE_MAX }));
			await Promise.all(pages);
			return this.#caughtUp();
		}
		// The epoch holds none of its messages yet: forwards until a page reaches the newest.
		for (;;) {
			const page = await this.#history({ after, limit: HISTORY_PAGE_MAX });
			if (page.messages.length < HISTORY_PAGE_MAX) break;
			after = page.messages.at(-1)!.seq;
		}
		this.#caughtUp();
	}

	#caughtUp(): void {
		this.#missedAfter = undefined;
	}

	/** One page of history (the newest when no bound is given): the device holds its messages from then on. */
	async #history(range: { before?: number; after?: number; limit: number }): Promise<HistoryPage> {
		const { options, user, counter } = this.#device;
		const page = await options.epochs!.history(this.conversationId, user, counter, range);
		let own = 0;
		for (const { id, seq } of page.messages) {
			this.#hold(id);
			own += this.#sequence(id, seq);
		}
		if (own) this.#ack(this.#acked + own);
		return page;
	}

	/** Makes sure the device holds the newest `count` messages: when its epoch holds fewer, one page of the history before them. */
	async loadLastPage(count: number): Promise<void> {
		if (!this.#device.options.epochs || seqMap(this.#doc).size >= count) return;
		await this.#history({ before: epochStart(this.#doc), limit: count });
	}

	#watch(doc: Y.Doc): void {
		messagesMap(doc).observe((event) => {
			for (const [id, change] of event.changes.keys) if (change.action === 'add') this.#hold(id);
		});
		const seqs = seqMap(doc);
		seqs.observe((event) => {
			let own = 0;
			for (const id of event.keysChanged) {
				const seq = seqs.get(id);
				if (seq !== undefined) own += this.#sequence(id, seq);
			}
			if (own) this.#ack(this.#acked + own);
		});
	}

	/** A message in the device's hands for the first time (a carried or repeated one is not new). */
	#hold(id: string): void {
		if (this.#held.has(id)) return;
		this.#held.add(id);
		if (this.#device.options.ack === 'sync-status' && !this.#sent.has(id)) for (const listener of this.#messageListeners) listener(id);
	}

	/** A message's sequence number, seen for the first time in any epoch or the history; 1 when it acknowledges one this room sent. */
	#sequence(id: string, seq: number): number {
		if (this.#sequenced.has(id)) return 0;
		this.#sequenced.add(id);
		if (this.#newest === undefined || seq > this.#newest) this.#newest = seq;
		for (const listener of this.#sequencedListeners) listener(seq);
		if (this.#sent.has(id)) return 1;
		if (this.#device.options.ack === 'seq') for (const listener of this.#messageListeners) listener(id);
		return 0;
	}

	#ack(count: number): void {
		if (count === this.#acked) return;
		this.#acked = count;
		for (const listener of this.#ackListeners) listener();
	}

	send(id: string, body: string): void {
		this.#sent.add(id);
		writeMessage(this.#doc, { id, author: this.#device.user.id, body });
	}

	sendBatch(ids: string[], body: string): void {
		this.#doc.transact(() => {
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
		this.#messageListeners.push(listener);
	}

	onSequenced(listener: (seq: number) => void): void {
		this.#sequencedListeners.push(listener);
	}

	/** As the web client does: a delivered receipt when a newer message arrives, and a read receipt once it is on screen. */
	receipt(deliveredSeq: number, readSeq: number): void {
		this.#provider.sendStateless(encodeStateless({ type: 'receipt', deliveredSeq }));
		this.#provider.sendStateless(encodeStateless({ type: 'receipt', readSeq }));
	}

	size(): number {
		return this.#held.size;
	}

	encodeState(): Uint8Array {
		return Y.encodeStateAsUpdate(this.#doc);
	}

	close(): void {
		this.#closed = true;
		this.#provider.destroy();
		this.#device.rooms.delete(this);
	}
}

export function hocuspocusClient(options: HocuspocusOptions, user: User, counter: Counter): Client {
	const socket = new HocuspocusProviderWebsocket({ url: options.wsUrl, WebSocketPolyfill: countingWebSocket(counter) });
	const channels: HocuspocusProvider[] = [];
	const device: Device = {
		options,
		user,
		counter,
		rooms: new Set(),
		attach(name, document, awareness) {
			const provider = new HocuspocusProvider({ websocketProvider: socket, name, document, token: user.token, ...(awareness === null ? { awareness } : {}) });
			provider.attach();
			return provider;
		}
	};
	return {
		async open(conversationId, resume) {
			const room =
				resume instanceof HocuspocusRoom ? resume.reopen(device) : new HocuspocusRoom(device, conversationId, options.epochs?.known(conversationId) ?? 0);
			await room.ready();
			return room;
		},
		async openInbox() {
			// Like the web client's user channel: an empty document without awareness, only stateless frames.
			const name = userDocName(user.id);
			const provider = device.attach(name, new Y.Doc(), null);
			channels.push(provider);
			await synced(provider, name);
		},
		close() {
			for (const room of [...device.rooms]) room.close();
			for (const provider of channels) provider.destroy();
			socket.destroy();
		}
	};
}
