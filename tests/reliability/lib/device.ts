import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import * as Y from 'yjs';
import { carryInto, messagesMap, seqMap, unacknowledged as unacknowledgedIn } from '../../../src/lib/shared/conversation-doc.ts';
import { QuietWebSocket } from '../../utils/quiet-websocket.ts';
import { CloseReason, conversationDocName, decodeServerStateless, RefusalCode, type MessageValue, type StoredMessageValue } from '../../../src/lib/shared/protocol.ts';

/** Closes after which the web app reconnects with a fresh socket and nothing is lost. */
export const RETRYABLE: ReadonlySet<string> = new Set([CloseReason.Reloading, CloseReason.UpdateIncomplete, CloseReason.RateLimited]);

/** Where a device reaches the server: REST (for the current epoch) and the sync endpoint. */
export interface Endpoint {
	url: string;
	wsUrl: string;
}

/** The conversation's current epoch (`ConversationDto.epoch`), over REST. Plain fetch: the honest-traffic process loads no server code. */
export async function currentEpoch(url: string, conversationId: string, token: string): Promise<number> {
	const response = await fetch(`${url}/api/conversations/${conversationId}`, { headers: { authorization: `Bearer ${token}` } });
	if (response.status !== 200) throw new Error(`conversation ${conversationId}: ${response.status}`);
	const { conversation } = (await response.json()) as { conversation: { epoch: number } };
	return conversation.epoch;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A promise with its resolve function (Promise.withResolvers, which Node 20 lacks). */
function deferred(): { promise: Promise<void>; resolve: () => void } {
	let resolve!: () => void;
	const promise = new Promise<void>((r) => (resolve = r));
	return { promise, resolve };
}

export interface DeviceEvents {
	/** A message id got its sequence number on this device (the durable "sent", DUR-1), in whichever epoch. */
	onAck?(id: string, seq: number): void;
	/** A message key changed in this device's document (written here, arrived, or deleted), in whichever epoch. */
	onMessage?(id: string): void;
}

/**
 * One device of a user: a Y.Doc that outlives connections (its local state, as IndexedDB keeps
 * it) and, while online, a stock HocuspocusProvider on its own socket. Refusals (update-refused
 * notices, non-retryable closes) and retryable closes are counted by reason.
 *
 * It follows the conversation's epochs as docs/protocol.md tells clients to (EPOCH-3): when its
 * epoch ends (the `epoch-ended` message, or a close or refusal with that reason) it opens the
 * current epoch's document, a fresh Y.Doc into which it writes its messages that have no sequence
 * number yet, same ids and values. Moving on is not a refusal: it is counted in `moves` only.
 */
export class Device {
	doc!: Y.Doc;
	/** The epoch whose document `doc` is. */
	epoch = 0;
	/** How many times this device moved into a newer epoch. */
	moves = 0;
	/** How many of those moves had to ask the server for the current epoch (a refusal or close that did not name it). */
	lookedUp = 0;
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
	/** The server while this device means to be online (from `connect` to `disconnect`): a move reconnects to it. */
	#server: Endpoint | null = null;
	/** Resolves on the first sync after `connect`, in whichever epoch the device ends up. */
	#synced = deferred();
	#lookingUp: Promise<void> | null = null;
	#onSeq = (event: Y.YMapEvent<number>) => {
		for (const key of event.keysChanged) {
			const seq = seqMap(this.doc).get(key);
			if (seq !== undefined) this.events.onAck?.(key, seq);
		}
	};
	#onMessages = (event: Y.YMapEvent<StoredMessageValue>) => {
		for (const key of event.keysChanged) this.events.onMessage?.(key);
	};

	constructor(
		readonly label: string,
		readonly userId: string,
		readonly token: string,
		readonly conversationId: string,
		private readonly events: DeviceEvents = {}
	) {
		this.#adopt(new Y.Doc());
	}

	get online(): boolean {
		return this.provider !== null;
	}

	/** Connects a stock provider to the document of this device's epoch; the promise resolves once synced (after any move). */
	connect(server: Endpoint): Promise<void> {
		this.#server = server;
		if (!this.provider) {
			this.#synced = deferred();
			this.#attach();
		}
		return this.#synced.promise;
	}

	disconnect(): void {
		this.#server = null;
		this.#detach();
	}

	/** A reload: the local state is read back into a new Y.Doc (a new clientID, as after a page load with y-indexeddb). */
	reload(): void {
		const old = this.doc;
		const state = Y.encodeStateAsUpdate(old);
		const doc = new Y.Doc();
		Y.applyUpdate(doc, state);
		this.#adopt(doc);
		old.destroy();
	}

	/**
	 * A second provider on this device's Y.Doc and epoch (another tab sharing its local state): both
	 * send the same items. When the epoch ends, each moves on by itself, as two tabs would.
	 */
	twin(label: string): Device {
		const twin = new Device(label, this.userId, this.token, this.conversationId);
		twin.#adopt(this.doc);
		twin.epoch = this.epoch;
		return twin;
	}

	/** Writes a message value as the app does (`writeMessage`: the body trimmed). */
	write(value: MessageValue): void {
		messagesMap(this.doc).set(value.id, { ...value, body: value.body.trim() });
	}

	/** The message ids this device holds written by its user and not acknowledged yet. */
	unacknowledged(): string[] {
		return unacknowledgedIn(this.doc, this.userId).map((message) => message.id);
	}

	/** Makes `doc` this device's document, watched for acknowledgements and messages. */
	#adopt(doc: Y.Doc): void {
		if (this.doc) {
			seqMap(this.doc).unobserve(this.#onSeq);
			messagesMap(this.doc).unobserve(this.#onMessages);
		}
		this.doc = doc;
		seqMap(doc).observe(this.#onSeq);
		messagesMap(doc).observe(this.#onMessages);
	}

	#attach(): void {
		const server = this.#server!;
		const socket = new HocuspocusProviderWebsocket({ url: server.wsUrl, WebSocketPolyfill: QuietWebSocket, delay: 50, minDelay: 50, maxDelay: 400 });
		const synced = this.#synced;
		// Callbacks of a provider this device has already replaced (a move) are late news: ignored.
		const current = () => this.provider === provider;
		const provider: HocuspocusProvider = new HocuspocusProvider({
			websocketProvider: socket,
			name: conversationDocName(this.conversationId, this.epoch),
			document: this.doc,
			token: this.token,
			awareness: null,
			onSynced: () => synced.resolve(),
			onAuthenticationFailed: ({ reason }) => {
				if (current()) this.#closed(reason);
			},
			onClose: ({ event }) => {
				if (event.reason && current()) this.#closed(event.reason);
			},
			onStateless: ({ payload }) => {
				if (current()) this.#stateless(payload);
			}
		});
		provider.attach();
		this.provider = provider;
		this.socket = socket;
		this.needsReconnect = false;
	}

	#detach(): void {
		this.provider?.destroy();
		this.socket?.destroy();
		this.provider = null;
		this.socket = null;
	}

	#stateless(payload: string): void {
		const message = decodeServerStateless(payload);
		if (message?.type === 'update-refused' && message.code === RefusalCode.MessageDeleted) {
			// An edit that crossed its deletion on another device of the same user (ERASE-3): honest, and
			// handled as the web app does: the message is deleted here too, and the device reconnects.
			for (const id of message.messageIds) {
				const value = messagesMap(this.doc).get(id);
				if (value) messagesMap(this.doc).set(id, { author: value.author, body: '', createdAt: value.createdAt, deletedAt: Date.now() });
			}
			count(this.retries, 'message-deleted');
			this.#deletionRefused = true;
		} else if (message?.type === 'update-refused') {
			count(this.refusals, `update-refused:${message.code}`);
			this.refusalMessages.push(`${this.label}: ${message.code}: ${message.message} [${message.messageIds.join(',')}]`);
		} else if (message?.type === 'epoch-ended') {
			this.#moveTo(message.epoch);
		}
	}

	/** The last refusal was `message-deleted`: the close that follows it is not a failure. */
	#deletionRefused = false;

	#closed(reason: string): void {
		if (reason === CloseReason.EpochEnded) {
			// A refusal or a close without the stateless message (an update sent back, a connect to an ended epoch): ask which epoch is current.
			if (!this.#lookingUp) this.#lookingUp = this.#lookUpEpoch().finally(() => (this.#lookingUp = null));
		} else if (reason === CloseReason.UpdateRefused && this.#deletionRefused) {
			this.#deletionRefused = false;
			this.needsReconnect = true;
		} else if (RETRYABLE.has(reason)) {
			count(this.retries, reason);
			this.needsReconnect = true;
		} else {
			count(this.refusals, reason);
		}
	}

	/** Moves to the conversation's current epoch; the server may be down for a moment (a kill), so it tries again while this device means to be online. */
	async #lookUpEpoch(): Promise<void> {
		while (this.#server) {
			try {
				if (this.#moveTo(await currentEpoch(this.#server.url, this.conversationId, this.token))) this.lookedUp += 1;
				return;
			} catch {
				await sleep(100);
			}
		}
	}

	/**
	 * Opens `epoch`'s document (EPOCH-3): a fresh Y.Doc holding this device's unacknowledged messages,
	 * same ids and values, reconnected if the device is online. The old document is dropped, not
	 * destroyed: a twin may still hold it. False when `epoch` is not newer than the device's.
	 */
	#moveTo(epoch: number): boolean {
		if (epoch <= this.epoch) return false;
		const carried = unacknowledgedIn(this.doc, this.userId);
		this.#detach();
		this.#adopt(new Y.Doc());
		carryInto(this.doc, carried);
		this.epoch = epoch;
		this.moves += 1;
		if (this.#server) this.#attach();
		return true;
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

/** Moves into new epochs over some devices, and how many of them had to look the epoch up. */
export interface MoveCounts {
	moves: number;
	lookedUp: number;
}

export function countMoves(devices: Iterable<Device>): MoveCounts {
	const counts: MoveCounts = { moves: 0, lookedUp: 0 };
	for (const device of devices) {
		counts.moves += device.moves;
		counts.lookedUp += device.lookedUp;
	}
	return counts;
}

export function formatMoves({ moves, lookedUp }: MoveCounts): string {
	return `${moves} (${lookedUp} after a refusal or close that did not name the new epoch)`;
}

export function formatCounts(map: Map<string, number>): string {
	return map.size === 0 ? 'none' : [...map].map(([k, n]) => `${k} ${n}`).join(', ');
}
