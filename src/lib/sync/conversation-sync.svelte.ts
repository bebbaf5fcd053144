import type { HocuspocusProvider } from '@hocuspocus/provider';
import { monotonicFactory } from 'ulid';
import { IndexeddbPersistence, storeState } from 'y-indexeddb';
import * as Y from 'yjs';
import { api } from '$lib/client/api';
import type { HistoryRow } from '$lib/client/history-cache';
import { watchDatabase, whenLoaded } from '$lib/client/document-database';
import { deleteDatabase } from '$lib/client/indexed-db';
import { docDatabaseName, idbBarrier, readCachedMe, readJson, userKey, writeJson } from '$lib/client/local-data';
import {
	carryInto,
	deleteForEveryone,
	editMessage,
	mergeReactions,
	messageOf,
	messagesMap,
	orderedMessages,
	reactionEntries,
	reactionsMap,
	seqMap,
	setReactions,
	toggledReactions,
	unacknowledged,
	writeMessage
} from '$lib/shared/conversation-doc';
import type { ReactionDto } from '$lib/shared/api-types';
import { checkMessageBody, isReaction } from '$lib/shared/limits';
import { reasonText } from '$lib/shared/reason-text';
import { CloseReason, decodeServerStateless, encodeStateless, reactionKey, RefusalCode, type ClientStateless, type MessageValue, type ServerStateless, type SystemEvent } from '$lib/shared/protocol';
import { TypingSignal, TypingTracker } from '$lib/shared/typing';
import type { AttachmentView } from '$lib/client/attachments';
import { IMAGE_TYPES } from '$lib/shared/files';
import { OlderHistory } from './older-history.ts';
import type { ConversationHost } from './conversation-host.ts';

const nextId = monotonicFactory();

/** How a reaction change sits in the list of unconfirmed changes, beside message ids. */
const REACTED = 'reacted:';

export type Delivery = 'sending' | 'sent' | 'failed';

export interface ChatMessage {
	id: string;
	author: string;
	body: string;
	createdAt: number;
	seq?: number;
	delivery: Delivery;
	/** Why the server refused it, for failed messages. */
	reason?: string;
	event?: SystemEvent;
	/** Set once its author edited it. */
	editedAt?: number;
	/** Set once its author deleted it for everyone: `body` is empty, the timeline shows a placeholder. */
	deletedAt?: number;
	/** The message it replies to. */
	replyTo?: string;
	/** Each emoji with who reacted with it (none on a deleted message). */
	reactions?: ReactionDto[];
	/** Files it carries: uploaded ones by id, ones still on this device with a local URL. */
	attachments?: AttachmentView[];
	/** 0 to 1 while its files upload. */
	progress?: number;
}

interface FailedMessage {
	id: string;
	body: string;
	createdAt: number;
	reason: string;
}

/** Messages of ended epochs loaded at a time: the first screen, then each page as the reader scrolls up. */
export const HISTORY_PAGE = 50;

/** Which epoch a conversation is in, and where its messages start. */
export interface EpochPosition {
	epoch: number;
	firstSeq: number;
}
const FIRST_EPOCH: EpochPosition = { epoch: 0, firstSeq: 1 };

function historyRow(conversationId: string, message: MessageValue & { reactions?: ReactionDto[] }, seq: number): HistoryRow {
	const { id, author, body, createdAt, editedAt, deletedAt, event, replyTo, reactions, attachments } = message;
	return {
		conversationId,
		id,
		seq,
		author,
		body,
		createdAt,
		editedAt: editedAt ?? null,
		deletedAt: deletedAt ?? null,
		event: event ?? null,
		replyTo: replyTo ?? null,
		reactions: reactions ?? [],
		attachments: deletedAt ? [] : (attachments ?? [])
	};
}

/** A history row as the timeline shows it (a deleted one as its placeholder). */
function chatMessageOf(row: HistoryRow, reactions: ReactionDto[]): ChatMessage {
	const { id, seq, author, body, createdAt, event, editedAt, deletedAt, replyTo, attachments } = row;
	return {
		id,
		seq,
		author,
		body,
		createdAt,
		delivery: 'sent',
		...(event ? { event } : {}),
		...(editedAt !== null ? { editedAt } : {}),
		...(deletedAt !== null ? { deletedAt } : {}),
		...(replyTo ? { replyTo } : {}),
		...(deletedAt === null && attachments?.length ? { attachments } : {}),
		...(deletedAt === null && reactions.length > 0 ? { reactions } : {})
	};
}

/** A history row as a document value: what an edit or deletion of a message of an ended epoch starts from. */
function valueOf(row: HistoryRow): MessageValue {
	return {
		id: row.id,
		author: row.author,
		body: row.body,
		createdAt: row.createdAt,
		...(row.editedAt !== null ? { editedAt: row.editedAt } : {}),
		...(row.replyTo ? { replyTo: row.replyTo } : {}),
		...(row.attachments?.length ? { attachments: row.attachments } : {})
	};
}

/** Object URLs of files still on this device (one per stored file, for as long as the page lives). */
const localUrls = new WeakMap<Blob, string>();

function localUrlOf(blob: Blob): string {
	let url = localUrls.get(blob);
	if (!url) localUrls.set(blob, (url = URL.createObjectURL(blob)));
	return url;
}

/** An image's size as this browser decodes it (upright), so the message has its shape before the upload; nothing for other files. */
async function imageSize(file: File): Promise<{ width?: number; height?: number }> {
	if (!IMAGE_TYPES.has(file.type)) return {};
	try {
		const bitmap = await createImageBitmap(file);
		const size = { width: bitmap.width, height: bitmap.height };
		bitmap.close();
		return size;
	} catch {
		return {};
	}
}

/** How often a refusal that names no message may start this device's copy of a conversation afresh. */
const REBUILD_AT_MOST_EVERY_MS = 10 * 60_000;

export type Access = 'ok' | 'not-a-member' | 'conversation-not-found';

/** Messages and my reaction lists kept in localStorage to be written into a document again. */
interface Kept {
	messages: MessageValue[];
	reactions: Array<[string, string[]]>;
}

/** `more` over `base`: one entry per message, the later one winning. */
function mergeKept(base: Kept, more: Kept): Kept {
	return {
		messages: [...new Map([...base.messages, ...more.messages].map((m) => [m.id, m])).values()],
		reactions: [...new Map([...base.reactions, ...more.reactions])]
	};
}

/**
 * One conversation on this device: the current epoch's Y.Doc stored in IndexedDB, synced through
 * the shared socket, shared live with this user's other tabs, and the messages of ended epochs from
 * the history (cached on the device, paged in from the server as the reader scrolls up). Messages
 * are written locally first and show "sending" until the server's sequence number arrives; refused
 * ones move to a "failed" list with the reason. When the epoch ends, the unacknowledged messages are
 * written into the next epoch's document (EPOCH-3).
 */
export class ConversationSync {
	/** What the document and the history hold, and messages this device could not send. */
	#list = $state.raw<ChatMessage[]>([]);
	/** The timeline: {@link #list} and the messages with files still on their way from this device. */
	messages = $derived.by(() => this.#withOutbox(this.#list));
	access = $state<Access>('ok');
	/** True once the locally stored document has been read. */
	loaded = $state(false);
	/**
	 * False when this browser refuses the app a database (site storage off, or refused to an embedded
	 * frame): the conversation then lives in memory, loaded from the server, and what is unsent is
	 * kept in localStorage instead (see {@link #keepWithoutDatabase}).
	 */
	storedOnDevice = $state(true);
	/** Older messages exist than those in `messages` (scrolling up loads them). */
	hasOlder = $state(false);
	/** Other members typing right now. */
	typingUsers = $state.raw<string[]>([]);
	#typing = new TypingTracker();
	#typingTimer: ReturnType<typeof setTimeout> | undefined;
	#typingSignal = new TypingSignal();
	/** Highest seq this device told the server it has, and has read. */
	#deliveredSent = 0;
	#readWanted = 0;
	#failed: FailedMessage[];
	#doc!: Y.Doc;
	#persistence!: IndexeddbPersistence;
	#provider!: HocuspocusProvider;
	#channel: BroadcastChannel | null = null;
	/** Ids written here but not yet known to be in IndexedDB: not shown until they are. */
	#unstored = new Set<string>();
	#refusal: Extract<ServerStateless, { type: 'update-refused' }> | null = null;
	#destroyed = false;
	/** The epoch whose document is open. */
	#epoch: EpochPosition;
	/** Messages of ended epochs shown before the document's. */
	#older: OlderHistory;

	constructor(
		private readonly hub: ConversationHost,
		readonly userId: string,
		readonly conversationId: string
	) {
		this.#failed = readJson<FailedMessage[]>(this.#key('failed')) ?? [];
		// The epoch this device holds, whose unsent messages must be carried forward; a conversation
		// never opened here starts at the current epoch, which its summary names.
		const summary = hub.inbox.get(conversationId);
		const stored = this.#storedEpoch();
		this.#epoch = stored ?? (summary ? { epoch: summary.epoch ?? 0, firstSeq: summary.epochFirstSeq ?? 1 } : FIRST_EPOCH);
		writeJson(this.#key(`epoch:${conversationId}`), this.#epoch);
		this.#older = new OlderHistory(hub.history, conversationId, this.#epoch.firstSeq, () => this.#render());
		this.#open();
		if (summary) this.followEpoch({ epoch: summary.epoch ?? 0, firstSeq: summary.epochFirstSeq ?? 1 });
		if (typeof window !== 'undefined') addEventListener('storage', this.#onStorage);
	}

	/** Loads the page of history just older than what is shown; resolves with the number of messages added. */
	async loadOlder(): Promise<number> {
		const before = this.messages.length;
		await this.#older.older(HISTORY_PAGE);
		this.#render();
		return this.messages.length - before;
	}

	/** The first screen: the document's messages, and enough history before them to fill a screen. */
	async #fillFirstScreen(): Promise<void> {
		const inEpoch = [...seqMap(this.#doc).values()].filter((seq) => seq >= this.#older.end).length;
		await this.#older.fill(HISTORY_PAGE - inEpoch);
		this.#render();
	}

	/**
	 * The conversation's current epoch (the server said so, or the inbox did): when it is newer than
	 * the open document's, the acknowledged messages go to the history and the unacknowledged ones
	 * into the new epoch's document (EPOCH-3).
	 */
	followEpoch(next: EpochPosition): void {
		if (this.#destroyed || next.epoch <= this.#epoch.epoch) return;
		if (next.epoch > (this.#wantedEpoch?.epoch ?? -1)) this.#wantedEpoch = next;
		if (!this.#moving) this.#moving = this.#moveEpochs().finally(() => (this.#moving = null));
	}

	/** The newest epoch heard of, and the move to it under way. */
	#wantedEpoch: EpochPosition | null = null;
	#moving: Promise<void> | null = null;

	async #moveEpochs(): Promise<void> {
		for (;;) {
			// The unacknowledged messages are read from the document as stored on this device: wait until it is loaded.
			if (!(await this.#loaded()) || !(await this.#rewriteDone())) return;
			const next = this.#wantedEpoch;
			if (this.#destroyed || !next || next.epoch <= this.#epoch.epoch) return;
			this.#moveTo(next);
		}
	}

	#moveTo(next: EpochPosition): void {
		const doc = this.#doc;
		const shown = new Map(this.messages.map((m) => [m.id, m]));
		const archived = orderedMessages(doc).flatMap((m) => (m.seq === undefined ? [] : [historyRow(this.conversationId, { ...m, reactions: shown.get(m.id)?.reactions }, m.seq)]));
		// Reactions written in this epoch to messages of earlier ones: their history rows take them.
		const entries = reactionEntries(doc);
		const inDocument = new Set(archived.map((row) => row.id));
		for (const row of this.#older.rows) {
			if (entries.has(row.id) && !inDocument.has(row.id)) archived.push({ ...row, reactions: mergeReactions(row.reactions ?? [], entries.get(row.id)) });
		}
		const previousEnd = this.#older.end;
		this.#older.moveEnd(next.firstSeq, archived);
		// This device's copy of the ended epoch may miss what happened while it was away (an edit, a
		// deletion whose body it still holds, reactions): the server's rows replace it.
		void this.#older.refreshRecent(next.firstSeq - previousEnd).then(() => this.#render());
		const oldDatabase = this.#databaseName();
		// Kept before the device's epoch moves: a tab closed in between writes them at its next start.
		this.#keepForRewrite(doc);
		this.#epoch = next;
		writeJson(this.#key(`epoch:${this.conversationId}`), next);
		this.#reopen({ freshSocket: false });
		// Not when the database failed to open: it may hold what this start could not read (a passing failure).
		const onDevice = this.storedOnDevice;
		void this.#rewriteDone().then((done) => done && onDevice && deleteDatabase(oldDatabase));
	}

	/** Asks the server for the current epoch (after a refusal saying that `ended` ended). */
	async #findEpoch(ended: number): Promise<void> {
		try {
			const { conversation } = await api.conversation(this.conversationId);
			// Not newer than the refused one: the close came from a race with the roll-over itself; connect
			// again. Newer, and this device got there meanwhile (EPOCH-5): nothing to do.
			if (conversation.epoch <= ended) this.hub.reconnectSoon();
			else this.followEpoch({ epoch: conversation.epoch, firstSeq: conversation.epochFirstSeq });
		} catch {
			this.hub.reconnectSoon();
		}
	}

	/** The epoch this device's document of the conversation is in; null when it never opened it. */
	#storedEpoch(): EpochPosition | null {
		return readJson<EpochPosition>(this.#key(`epoch:${this.conversationId}`));
	}

	/** Stores the message on this device, shows it, and lets the provider deliver it whenever it can. */
	async send(text: string, replyTo?: string): Promise<void> {
		const checked = checkMessageBody(text);
		if (!checked.ok) throw new Error(reasonText(checked.code));
		this.stopTyping();
		const id = nextId();
		this.#unstored.add(id);
		try {
			writeMessage(this.#doc, { id, author: this.userId, body: checked.body, replyTo });
			// Once it is in the document nothing rejects: the composer would offer to send it again.
			await this.#stored();
		} finally {
			this.#unstored.delete(id);
			this.#render();
		}
	}

	/**
	 * Replaces the text of one of my messages (marked edited on every device). A message of an ended
	 * epoch is written into the current one with the edit (it keeps its seq, EPOCH-3). Offline, the
	 * edit is stored here and sent when the device reconnects, like a message.
	 */
	async edit(id: string, text: string): Promise<void> {
		const checked = checkMessageBody(text);
		if (!checked.ok) throw new Error(reasonText(checked.code));
		const unsent = this.#unsentBody(id) !== undefined;
		const previous = this.#older.rows.find((row) => row.id === id);
		if (unsent) {
			// Not on the server yet: the new text simply replaces the old, with no "edited" mark.
			const current = messageOf(this.#doc, id)!;
			messagesMap(this.#doc).set(id, { author: current.author, body: checked.body, createdAt: current.createdAt, ...(current.attachments ? { attachments: current.attachments } : {}) });
		} else if (editMessage(this.#doc, id, checked.body, previous && valueOf(previous))) this.#noteChanged(id);
		else return;
		await this.#stored();
	}

	/**
	 * Deletes one of my messages for everyone: a tombstone replaces it (ERASE-1), and this device's
	 * stored copy of the document is rewritten without the body. A message not sent yet is simply
	 * dropped.
	 */
	async deleteForEveryone(id: string): Promise<void> {
		if (this.#unsentBody(id) !== undefined) {
			messagesMap(this.#doc).delete(id);
		} else {
			const previous = this.#older.rows.find((row) => row.id === id);
			if (!deleteForEveryone(this.#doc, id, previous && valueOf(previous))) return;
			this.#noteChanged(id);
		}
		await this.#stored();
	}

	/**
	 * Adds my reaction `emoji` to a message, or takes it back if it is there: my whole list for that
	 * message is written (REACT-3), offline first like a message.
	 */
	async react(messageId: string, emoji: string): Promise<void> {
		if (!isReaction(emoji)) return;
		const message = this.messages.find((m) => m.id === messageId);
		if (!message || message.deletedAt !== undefined || message.event) return;
		setReactions(this.#doc, messageId, this.userId, toggledReactions(message.reactions ?? [], this.userId, emoji));
		this.#noteChanged(REACTED + messageId);
		this.#forgetCarriedReaction(messageId);
		await this.#stored();
	}

	/**
	 * Resolves once what was written into the document is in IndexedDB. If the database closed under
	 * the write, once the reopened document has the unsent messages on disk (see {@link #databaseLost}).
	 */
	async #stored(): Promise<void> {
		// After a reopen, the message is on disk once the new document's rewrite carried it there.
		if (!(await this.#loaded()) || !(await this.#rewriteDone())) return;
		const persistence = this.#persistence;
		try {
			if (persistence.db) await idbBarrier(persistence.db);
		} catch {
			// The connection closed under it, perhaps before telling so: reopen now (once), and wait for the rewrite.
			if (this.#persistence === persistence) this.#reopen();
			await this.#rewriteDone();
		}
	}

	/**
	 * Edits and deletions that reached the document (from this tab or any other device): the history
	 * this device keeps follows them, and after a deletion the stored document is written again whole,
	 * so IndexedDB holds the garbage-collected state and not the update that carried the body.
	 */
	#onValuesChanged(doc: Y.Doc, keys: Iterable<string>): void {
		const seqs = seqMap(doc);
		const rows: HistoryRow[] = [];
		let erased = false;
		for (const id of keys) {
			const message = messageOf(doc, id);
			const seq = seqs.get(id) ?? this.#older.rows.find((row) => row.id === id)?.seq;
			if (!message || seq === undefined || (message.editedAt === undefined && message.deletedAt === undefined)) continue;
			rows.push(historyRow(this.conversationId, { ...message, reactions: this.messages.find((m) => m.id === id)?.reactions }, seq));
			if (message.deletedAt !== undefined) erased = true;
		}
		if (rows.length > 0) void this.hub.history.put(rows).catch(() => {});
		if (erased) void this.#compactStoredDocument(doc);
	}

	#compacting = false;
	#compactAgain = false;

	/** Rewrites the stored document as one garbage-collected state (y-indexeddb's own trim, forced), one run at a time. */
	async #compactStoredDocument(doc: Y.Doc): Promise<void> {
		if (this.#compacting) {
			this.#compactAgain = true;
			return;
		}
		this.#compacting = true;
		try {
			do {
				this.#compactAgain = false;
				if (!(await this.#loaded()) || this.#doc !== doc || !this.#persistence.db) return;
				await storeState(this.#persistence, true);
			} while (this.#compactAgain);
		} catch {
			// The database closed (another tab rebuilt it): the next deletion tries again.
		} finally {
			this.#compacting = false;
		}
	}

	/**
	 * Sends files (several at once, with one caption): stored on this device first (the message shows
	 * once they are), uploaded and sent whenever the server is reachable, by whichever tab is open.
	 */
	async sendFiles(files: File[], caption: string, replyTo?: string): Promise<void> {
		const body = caption.trim();
		if (body) {
			const checked = checkMessageBody(body);
			if (!checked.ok) throw new Error(reasonText(checked.code));
		}
		this.stopTyping();
		const stored = await Promise.all(
			files.map(async (file) => ({ name: file.name || 'file', type: file.type, size: file.size, blob: file as Blob, ...(await imageSize(file)) }))
		);
		await this.hub.outbox.add({ id: nextId(), conversationId: this.conversationId, body, createdAt: Date.now(), ...(replyTo ? { replyTo } : {}), files: stored });
	}

	/** Shows this conversation's messages with files still on this device after the others (a failed one with its reason). */
	#withOutbox(list: ChatMessage[]): ChatMessage[] {
		const outbox = this.hub.outbox;
		const items = outbox.pending(this.conversationId);
		if (items.length === 0) return list;
		const progress = outbox.progress;
		const shown = new Set(list.map((m) => m.id));
		const extra: ChatMessage[] = [];
		for (const item of items) {
			if (shown.has(item.id)) {
				outbox.forget(item.id);
				continue;
			}
			extra.push({
				id: item.id,
				author: this.userId,
				body: item.body,
				createdAt: item.createdAt,
				...(item.replyTo ? { replyTo: item.replyTo } : {}),
				attachments: item.files.map((file) => ({ ...(file.upload ?? { name: file.name, type: file.type, size: file.size, ...(file.width ? { width: file.width, height: file.height } : {}) }), localUrl: localUrlOf(file.blob) })),
				...(item.failed ? { delivery: 'failed' as const, reason: item.failed.reason } : { delivery: 'sending' as const, progress: progress[item.id] })
			});
		}
		return [...list, ...extra];
	}

	/** Sends a failed message again, as a new message. */
	async retry(id: string): Promise<void> {
		if (this.hub.outbox.has(id)) return this.hub.outbox.retry(id);
		const body = this.#failed.find((m) => m.id === id)?.body ?? this.#unsentBody(id);
		if (body === undefined) return;
		this.discard(id);
		await this.send(body);
	}

	/** Drops a failed message from this device: from the failed list, or an unsent one from the document. */
	discard(id: string): void {
		if (this.hub.outbox.has(id)) void this.hub.outbox.discard(id);
		else if (this.#failed.some((m) => m.id === id)) {
			this.#setFailed(this.#failed.filter((m) => m.id !== id));
		} else if (this.#unsentBody(id) !== undefined) {
			messagesMap(this.#doc).delete(id);
		}
	}

	/** The body of a message of mine the server has never acknowledged (not an edit of one from the history). */
	#unsentBody(id: string): string | undefined {
		const message = messagesMap(this.#doc).get(id);
		if (!message || message.author !== this.userId || seqMap(this.#doc).has(id)) return undefined;
		return this.#older.rows.some((row) => row.id === id) ? undefined : message.body;
	}

	/**
	 * My edits and deletions of acknowledged messages that the server may not have yet (kept in
	 * localStorage): when the epoch ends before it confirms them, they are written into the next one
	 * like unsent messages (EPOCH-3). The provider confirms everything it sent once its count of
	 * unsynced changes is back to 0 (the server acknowledges an update only once it is on disk).
	 */
	#noteChanged(id: string): void {
		const key = this.#key(`changes:${this.conversationId}`);
		const ids = readJson<string[]>(key) ?? [];
		if (!ids.includes(id)) writeJson(key, [...ids, id]);
	}

	#changedValues(doc: Y.Doc): MessageValue[] {
		const ids = readJson<string[]>(this.#key(`changes:${this.conversationId}`)) ?? [];
		return ids.flatMap((id) => {
			if (id.startsWith(REACTED)) return [];
			const message = messageOf(doc, id);
			return message && message.author === this.userId ? [message] : [];
		});
	}

	/** My reaction lists the server may not have yet, as [messageId, emoji] (see `#noteChanged`). */
	#changedReactions(doc: Y.Doc): Array<[string, string[]]> {
		const ids = readJson<string[]>(this.#key(`changes:${this.conversationId}`)) ?? [];
		return ids.flatMap((entry) => {
			if (!entry.startsWith(REACTED)) return [];
			const messageId = entry.slice(REACTED.length);
			const emoji = reactionsMap(doc).get(reactionKey(messageId, this.userId));
			return emoji ? [[messageId, emoji] as [string, string[]]] : [];
		});
	}

	#confirmChanges(provider: HocuspocusProvider): void {
		provider.on('unsyncedChanges', ({ number }: { number: number }) => {
			if (number === 0 && provider.isSynced && this.#provider === provider) localStorage.removeItem(this.#key(`changes:${this.conversationId}`));
		});
	}

	/** A keystroke in the composer: others see "typing…" within a round trip. */
	keystroke(): void {
		if (this.#typingSignal.keystroke()) this.#tell({ type: 'typing', active: true });
	}

	stopTyping(): void {
		if (this.#typingSignal.stop()) this.#tell({ type: 'typing', active: false });
	}

	/** Messages up to `seq` were on screen in a visible, focused tab: read, on all my devices. */
	read(seq: number): void {
		const summary = this.hub.inbox.get(this.conversationId);
		if (seq <= this.#readWanted && !summary?.markedUnread) return;
		this.#readWanted = Math.max(this.#readWanted, seq);
		this.hub.inbox.markReadLocally(this.conversationId, seq);
		this.#tell({ type: 'receipt', readSeq: seq });
	}

	destroy(): void {
		this.#destroyed = true;
		clearTimeout(this.#typingTimer);
		if (typeof window !== 'undefined') removeEventListener('storage', this.#onStorage);
		this.#close();
	}

	#tell(message: ClientStateless): void {
		this.#provider.sendStateless(encodeStateless(message));
	}

	#onStateless(message: ServerStateless): void {
		if (message.type === 'update-refused') this.#refusal ??= message;
		else if (message.type === 'epoch-ended') this.followEpoch(message);
		else if (message.type === 'receipt-markers') {
			for (const markers of message.markers) this.hub.inbox.mergeReceipts(this.conversationId, markers.userId, markers);
		}
		else if (message.type === 'typing' && message.userId !== this.userId) {
			this.#typing.set(message.userId, message.active);
			this.#showTyping();
		}
	}

	#showTyping(): void {
		clearTimeout(this.#typingTimer);
		this.typingUsers = this.#typing.active();
		const next = this.#typing.nextExpiry();
		if (next !== null) this.#typingTimer = setTimeout(() => this.#showTyping(), next + 10);
	}

	/** After (re)connecting: tell the server what this device has and has read, in case it missed it. */
	#onSynced(): void {
		this.#writeAgainAfterSync();
		// History shown while away may have been edited or deleted since (OFFLINE-8).
		void this.#older.revalidateShown();
		// Synced means the server let us in: a member again, if we had been removed.
		this.access = 'ok';
		const me = this.hub.inbox.get(this.conversationId)?.members.find((m) => m.id === this.userId);
		if (this.#readWanted > (me?.readSeq ?? 0)) this.#tell({ type: 'receipt', readSeq: this.#readWanted });
		this.#deliveredSent = 0;
		this.#render();
	}

	#open(): void {
		const doc = new Y.Doc();
		this.#doc = doc;
		this.#closed = new Promise((resolve) => (this.#signalClosed = resolve));
		this.#openedGeneration = this.#generation();
		const persistence = new IndexeddbPersistence(this.#databaseName(), doc);
		this.#persistence = persistence;
		watchDatabase(persistence, () => this.#databaseLost(persistence));
		this.#ready = whenLoaded(persistence);
		this.#rewritten = this.#rewritePending(doc, persistence, this.#ready);
		void this.#ready.then((onDevice) => {
			if (this.#doc !== doc) return;
			this.storedOnDevice = onDevice;
			if (!onDevice) {
				this.#keepWithoutDatabase(doc);
				this.#greetOtherTabs(doc);
			}
			this.loaded = true;
			this.#render();
			void this.#fillFirstScreen();
		});
		reactionsMap(doc).observe(() => this.#render());
		messagesMap(doc).observe((event) => {
			this.#onValuesChanged(doc, event.keysChanged);
			this.#render();
		});
		seqMap(doc).observe(() => this.#render());
		this.#shareWithOtherTabs(doc);
		const epoch = this.#epoch.epoch;
		this.#provider = this.hub.attach(this.conversationId, epoch, doc, {
			onStateless: (payload) => {
				const message = decodeServerStateless(payload);
				if (message) this.#onStateless(message);
			},
			onSynced: () => this.#onSynced(),
			onClose: (reason) => this.#onClose(reason, epoch),
			onAuthenticationFailed: (reason) => this.#onAccessDenied(reason, epoch)
		});
		this.#confirmChanges(this.#provider);
	}

	/**
	 * Another tab may delete this database (a refusal it recovered from, an epoch it left) or upgrade
	 * it, and the browser may close it: y-indexeddb then fails every write with "the database
	 * connection is closing". Open the document again, on whatever database is current, with the
	 * unsent messages (the one whose write just failed among them).
	 */
	#databaseLost(persistence: IndexeddbPersistence): void {
		queueMicrotask(() => {
			if (this.#persistence === persistence) this.#reopen();
		});
	}

	#onStorage = (event: StorageEvent) => {
		if (event.key === this.#key('failed')) {
			this.#failed = readJson<FailedMessage[]>(this.#key('failed')) ?? [];
			this.#render();
		} else if (event.key === this.#key(`generation:${this.conversationId}`) && this.#openedGeneration !== this.#generation()) {
			this.#reopen();
		} else if (event.key === this.#key(`epoch:${this.conversationId}`)) {
			// Another tab moved to the next epoch; this one carries its own unsent messages too (same ids: stored once).
			const stored = this.#storedEpoch();
			if (stored) this.followEpoch(stored);
		}
	};

	/** The generation whose database this tab has open. */
	#openedGeneration = 0;

	/**
	 * A fresh Y.Doc on the current database (of the current generation and epoch), keeping the unsent
	 * messages of the old one. A fresh socket unless the document's name changed (a new epoch).
	 */
	#reopen({ freshSocket = true } = {}): void {
		if (this.#destroyed) return;
		// Logging out in another tab deletes every database: follow it out, never open them again.
		if (readCachedMe<{ id: string }>()?.id !== this.userId) {
			this.destroy();
			return;
		}
		this.#failed = readJson<FailedMessage[]>(this.#key('failed')) ?? [];
		this.#keepForRewrite(this.#doc);
		this.#close();
		// A fresh socket first: the old one still holds frames sent for the old document and would replay them.
		if (freshSocket) this.hub.reconnect();
		// The new document's rewrite (see #rewritePending) writes what was kept into it.
		this.#open();
	}

	/**
	 * Keeps what `doc` holds that its database may not (its write failed as the connection closed, or
	 * the database was deleted under it) in localStorage, for the next document to write again:
	 * my unsent messages (not the failed ones), my changes the server has not confirmed and my
	 * reactions. Merged into whatever an interrupted rewrite left there, so a tab closed half-way
	 * loses nothing: the next start writes them again.
	 */
	#keepForRewrite(doc: Y.Doc, { replace = false } = {}): void {
		const failedIds = new Set(this.#failed.map((m) => m.id));
		const key = this.#key(`rewrite:${this.conversationId}`);
		const reactionsKey = this.#key(`rewrite-reactions:${this.conversationId}`);
		const kept = mergeKept(
			replace ? { messages: [], reactions: [] } : { messages: readJson<MessageValue[]>(key) ?? [], reactions: readJson<Array<[string, string[]]>>(reactionsKey) ?? [] },
			{ messages: [...unacknowledged(doc, this.userId), ...this.#changedValues(doc)].filter((m) => !failedIds.has(m.id)), reactions: this.#changedReactions(doc) }
		);
		writeJson(key, kept.messages);
		writeJson(reactionsKey, kept.reactions);
	}

	/**
	 * No database: after every change, localStorage holds exactly what the tab would lose (my unsent
	 * messages, unconfirmed changes and reactions), and the next start carries it in as after a lost
	 * database. Acknowledged ones leave it with the change that acknowledged them.
	 */
	#keepWithoutDatabase(doc: Y.Doc): void {
		const keep = () => {
			if (this.#doc === doc && !this.#destroyed) this.#keepForRewrite(doc, { replace: true });
		};
		doc.on('update', keep);
		keep();
	}

	#close(): void {
		this.#signalClosed();
		this.#provider.destroy();
		// Never opened (no database): nothing to close.
		void this.#persistence.destroy().catch(() => {});
		this.#channel?.close();
		this.#channel = null;
		this.#doc.destroy();
	}

	/** Tabs of the same user exchange updates directly, so a message shows in every tab at once, also offline. */
	#shareWithOtherTabs(doc: Y.Doc): void {
		if (typeof BroadcastChannel === 'undefined') return;
		// Per generation: a tab still on a refused document must not feed it into the fresh one.
		const channel = new BroadcastChannel(this.#key(`tabs:${this.conversationId}:${this.#generation()}@${this.#epoch.epoch}`));
		this.#channel = channel;
		doc.on('update', (update: Uint8Array, origin: unknown) => {
			if (origin !== channel) channel.postMessage(update);
		});
		channel.onmessage = (event: MessageEvent<Uint8Array | { hello: Uint8Array }>) => {
			const data = event.data;
			if (data instanceof Uint8Array) return Y.applyUpdate(doc, new Uint8Array(data), channel);
			// A tab without a database starting: it holds only what it carried in, and it gets all we hold.
			Y.applyUpdate(doc, new Uint8Array(data.hello), channel);
			channel.postMessage(Y.encodeStateAsUpdate(doc));
		};
	}

	/**
	 * Without a database the tabs share no stored state, only updates from now on: a change one tab
	 * makes to an item the other never had (a message each carried in from localStorage under its
	 * own clientID) could not be applied there, and that tab would keep and send the old value. So a
	 * tab starting without one sends its whole document and gets every other tab's in return.
	 */
	#greetOtherTabs(doc: Y.Doc): void {
		this.#channel?.postMessage({ hello: Y.encodeStateAsUpdate(doc) });
	}

	/** `epoch`: the one whose document was closed. */
	#onClose(reason: string, epoch: number): void {
		if (reason === CloseReason.UpdateRefused) void this.#recoverFromRefusal();
		else if (reason === CloseReason.EpochEnded) {
			// The server said which epoch comes next just before closing (EPOCH-5): the move is under way on this socket.
			if (this.#headedPast(epoch)) return;
			void this.#findEpoch(epoch);
		}
		else if (reason === CloseReason.MembershipRevoked) this.#onAccessDenied(CloseReason.NotAMember, epoch);
		else if (reason === CloseReason.SessionEnded) this.hub.onSessionEnded();
		// Any other close of this document (the server restarting it, a malformed frame): the socket
		// cannot reopen a closed document, so start a fresh one and let every document sync again.
		else if (reason && reason !== 'provider_initiated' && !this.#destroyed) this.hub.reconnectSoon();
	}

	/** True when this device is in an epoch after `epoch`, or moving to one now. */
	#headedPast(epoch: number): boolean {
		return this.#epoch.epoch > epoch || (this.#moving !== null && (this.#wantedEpoch?.epoch ?? 0) > epoch);
	}

	/** `epoch`: the one whose document was refused. */
	#onAccessDenied(reason: string, epoch: number): void {
		if (reason === CloseReason.NotAMember || reason === CloseReason.ConversationNotFound) {
			this.access = reason;
			this.#render();
		} else if (reason === CloseReason.Unauthenticated) {
			this.hub.onSessionEnded();
		} else if (reason === CloseReason.EpochEnded && !this.#headedPast(epoch)) {
			// Refused at opening (it ended before this device got there): look the current one up.
			void this.#findEpoch(epoch);
		}
	}

	/**
	 * The server refused an update and closed the document. A refusal that names messages is about
	 * their content: they move to "failed" and are deleted from this document, so what the provider
	 * sends again carries only their deletion, which the server accepts; the document, its database
	 * and every other message stay as they are. A refusal that names no message means this document
	 * holds something the server will never take: start a fresh one (new database and clientID) with
	 * the unsent messages written again, leaving the old database to the tabs that still use it.
	 */
	async #recoverFromRefusal(): Promise<void> {
		const refusal = this.#refusal;
		this.#refusal = null;
		if (refusal?.code === RefusalCode.MessageDeleted) {
			// My own message, deleted for everyone on another device while this one edited it (or
			// carried it into a new epoch): this device deletes it too (ERASE-3), and nothing fails.
			this.#doc.transact(() => {
				for (const id of refusal.messageIds) if (!deleteForEveryone(this.#doc, id)) messagesMap(this.#doc).delete(id);
			});
			if (this.#persistence.db) await idbBarrier(this.#persistence.db).catch(() => {});
			if (!this.#destroyed) this.hub.reconnect();
			return;
		}
		// Closed while this device was away: the list learns it now (the push went by while offline).
		if (refusal?.code === RefusalCode.ConversationClosed) {
			void api.conversation(this.conversationId).then(
				({ conversation }) => this.hub.inbox.merge(conversation, { keepPresence: true }),
				() => {}
			);
		}
		const refused = new Set(refusal?.messageIds ?? []);
		const unsent = orderedMessages(this.#doc).filter((m) => m.seq === undefined && m.author === this.userId);
		const reason = reasonText(refusal?.code, 'The server did not accept this message.');
		const failed = unsent.filter((m) => refused.has(m.id));
		if (failed.length > 0) {
			this.#addFailed(failed.map((m) => ({ id: m.id, body: m.body, createdAt: m.createdAt, reason })));
			this.#doc.transact(() => {
				for (const message of failed) messagesMap(this.#doc).delete(message.id);
			});
			if (this.#persistence.db) await idbBarrier(this.#persistence.db).catch(() => {});
			if (!this.#destroyed) this.hub.reconnect();
			return;
		}
		if (this.#destroyed) return;
		// A fresh database at most once in a while: a refusal that came back right after one was not
		// about this document's content, and starting over again would only lose the work of every tab.
		const rebuiltKey = this.#key(`rebuilt:${this.conversationId}`);
		if (Date.now() - (readJson<number>(rebuiltKey) ?? 0) < REBUILD_AT_MOST_EVERY_MS) {
			this.hub.reconnectSoon();
			return;
		}
		writeJson(rebuiltKey, Date.now());
		// The messages still to send are kept in localStorage until the new document has them on disk,
		// so a tab closed half-way through loses nothing: the next start writes them again.
		writeJson(this.#key(`rewrite:${this.conversationId}`), unsent);
		const oldDatabase = this.#databaseName();
		// Not deleted when it failed to open: it may hold what this start could not read (a passing failure).
		const onDevice = this.storedOnDevice;
		writeJson(this.#key(`generation:${this.conversationId}`), this.#generation() + 1);
		this.#reopen();
		if (!(await this.#rewriteDone()) || !onDevice) return;
		// Other tabs move to the new database on the storage event, or when this closes their connection.
		deleteDatabase(oldDatabase);
	}

	/**
	 * What a rewrite carried into this document, written again now that the server's copy is in: each
	 * message the document now holds in an earlier version (the server's value won over the carried
	 * one) and each of my reaction lists that differs. Written after the sync, they win everywhere.
	 * A message no longer in the document (an unsent one deleted since, or a failed one) stays out.
	 */
	#writeAgainAfterSync(): void {
		const key = this.#key(`again:${this.conversationId}`);
		const kept = readJson<Kept>(key);
		if (!kept) return;
		const doc = this.#doc;
		carryInto(doc, kept.messages.filter((m) => messagesMap(doc).has(m.id)));
		doc.transact(() => {
			for (const [messageId, emoji] of kept.reactions) setReactions(doc, messageId, this.userId, emoji);
		});
		void this.#stored().then(() => {
			if (this.#doc === doc) localStorage.removeItem(key);
		});
	}

	/** A reaction list written since the carry is newer than the carried one: it is not written again. */
	#forgetCarriedReaction(messageId: string): void {
		const key = this.#key(`again:${this.conversationId}`);
		const kept = readJson<Kept>(key);
		if (kept?.reactions.some(([id]) => id === messageId)) writeJson(key, { ...kept, reactions: kept.reactions.filter(([id]) => id !== messageId) });
	}

	/** Resolves once messages left to rewrite by an interrupted recovery are in this document and on disk. */
	#rewritten: Promise<void> = Promise.resolve();

	/**
	 * Waits for {@link #rewritten}. When it failed because the database closed under it, the document
	 * reopens (within a microtask) with a rewrite of its own: waits for that one. False when none
	 * completes (the conversation was closed, or the failure was not followed by a reopen).
	 */
	async #rewriteDone(): Promise<boolean> {
		while (!this.#destroyed) {
			const rewritten = this.#rewritten;
			const closed = this.#closed;
			try {
				// A document closed before it loaded never finishes its rewrite: follow the reopened one.
				if (await Promise.race([rewritten.then(() => true), closed.then(() => false)])) return true;
			} catch {
				await new Promise((resolve) => setTimeout(resolve, 0));
				if (this.#rewritten === rewritten) return false;
			}
		}
		return false;
	}

	/**
	 * Resolves once the document open now has loaded from its database; false once the conversation
	 * is closed. A reopen in between is followed: y-indexeddb never reports a persistence destroyed
	 * before it loaded as loaded, so waiting on the old one would wait for good.
	 */
	async #loaded(): Promise<boolean> {
		while (!this.#destroyed) {
			const closed = this.#closed;
			if (await Promise.race([this.#ready.then(() => true), closed.then(() => false)])) return true;
		}
		return false;
	}

	/** The document open now has loaded from its database (true), or is in memory for want of one (false). */
	#ready: Promise<boolean> = new Promise(() => {});

	/** Settles when the document open now is closed (reopened, or the conversation closed). */
	#closed: Promise<void> = new Promise(() => {});
	#signalClosed = () => {};

	async #rewritePending(doc: Y.Doc, persistence: IndexeddbPersistence, ready: Promise<boolean>): Promise<void> {
		const key = this.#key(`rewrite:${this.conversationId}`);
		const reactionsKey = this.#key(`rewrite-reactions:${this.conversationId}`);
		const pending = readJson<MessageValue[]>(key) ?? [];
		const reactions = readJson<Array<[string, string[]]>>(reactionsKey) ?? [];
		if (pending.length === 0 && reactions.length === 0) return;
		const onDevice = await ready;
		// Written again once the server's copy is in (#writeAgainAfterSync): written before it, an edit
		// is concurrent with the server's older value of the same message, and Yjs may keep that one.
		const againKey = this.#key(`again:${this.conversationId}`);
		writeJson(againKey, mergeKept(readJson<Kept>(againKey) ?? { messages: [], reactions: [] }, { messages: pending, reactions }));
		carryInto(doc, pending);
		doc.transact(() => {
			for (const [messageId, emoji] of reactions) if (!reactionsMap(doc).has(reactionKey(messageId, this.userId))) setReactions(doc, messageId, this.userId, emoji);
		});
		if (persistence.db) await idbBarrier(persistence.db);
		// A document opened since read these too (and may have added more): its own rewrite clears them.
		// Without a database, localStorage stays where they are kept.
		if (this.#doc !== doc || !onDevice) return;
		localStorage.removeItem(key);
		localStorage.removeItem(reactionsKey);
	}

	#render(): void {
		const failedIds = new Set(this.#failed.map((m) => m.id));
		const denied = this.access !== 'ok';
		const current = orderedMessages(this.#doc);
		const inDocument = new Set(current.map((m) => m.id));
		// History first (it is all older than the epoch, except messages written again into it, which the document has).
		const list: ChatMessage[] = [];
		const historySeq = new Map<string, number>();
		const historyReactions = new Map<string, ReactionDto[]>();
		const docReactions = reactionEntries(this.#doc);
		for (const row of this.#older.rows) {
			historySeq.set(row.id, row.seq);
			historyReactions.set(row.id, row.reactions ?? []);
			if (inDocument.has(row.id)) continue;
			list.push(chatMessageOf(row, mergeReactions(row.reactions ?? [], docReactions.get(row.id))));
		}
		for (const written of current) {
			// A message of an ended epoch written into this one (an edit, a deletion) shows where its history
			// row is, and not before that row is loaded (it would stand alone above a gap).
			if (written.seq !== undefined && written.seq < this.#older.end && !historySeq.has(written.id)) continue;
			const seq = written.seq ?? historySeq.get(written.id);
			const reactions = written.deletedAt === undefined ? mergeReactions(historyReactions.get(written.id) ?? [], docReactions.get(written.id)) : [];
			const message: ChatMessage = { ...written, ...(seq === undefined ? {} : { seq }), ...(reactions.length > 0 ? { reactions } : {}), delivery: 'sending' };
			if (this.#unstored.has(message.id) || failedIds.has(message.id)) continue;
			// Deleted before the server ever had it: nothing to show.
			if (message.deletedAt !== undefined && message.seq === undefined) continue;
			if (message.seq !== undefined) list.push({ ...message, delivery: 'sent' });
			else if (denied && message.author === this.userId) list.push({ ...message, delivery: 'failed', reason: reasonText(this.access) });
			else list.push(message);
		}
		// A message written again into this epoch keeps its old seq: the sent ones stay in seq order.
		const sent = list.filter((m) => m.seq !== undefined).sort((a, b) => a.seq! - b.seq!);
		list.splice(0, list.length, ...sent, ...list.filter((m) => m.seq === undefined));
		for (const failed of this.#failed) list.push({ ...failed, author: this.userId, delivery: 'failed' });
		this.#list = list;
		this.hasOlder = this.#older.hasOlder;
		this.#keepForSearch();
		// Whatever reached this device is delivered (✓✓ for its sender), open conversation or not.
		const newest = list.reduce((max, m) => Math.max(max, m.seq ?? 0), 0);
		if (newest > this.#deliveredSent && this.#provider?.isSynced) {
			this.#deliveredSent = newest;
			this.#tell({ type: 'receipt', deliveredSeq: newest });
		}
	}

	#searchTimer: ReturnType<typeof setTimeout> | undefined;

	/**
	 * The epoch's sent messages go into the history cache too (within a second of a change), so
	 * searching offline finds what this device holds, not only what ended epochs left (SEARCH-2).
	 */
	#keepForSearch(): void {
		if (this.#searchTimer !== undefined) return;
		this.#searchTimer = setTimeout(() => {
			this.#searchTimer = undefined;
			if (this.#destroyed) return;
			const inDocument = messagesMap(this.#doc);
			const rows = this.#list.flatMap((m) => (m.seq !== undefined && inDocument.has(m.id) ? [historyRow(this.conversationId, m as MessageValue, m.seq)] : []));
			void this.hub.history.put(rows);
		}, 1000);
	}

	#addFailed(list: FailedMessage[]): void {
		const known = new Set(this.#failed.map((m) => m.id));
		this.#setFailed([...this.#failed, ...list.filter((m) => !known.has(m.id))]);
	}

	#setFailed(list: FailedMessage[]): void {
		this.#failed = list;
		writeJson(this.#key('failed'), list);
		this.#render();
	}

	#generation(): number {
		return readJson<number>(this.#key(`generation:${this.conversationId}`)) ?? 0;
	}

	#databaseName(): string {
		const generation = this.#generation();
		const { epoch } = this.#epoch;
		const base = docDatabaseName(this.userId, this.conversationId) + (epoch === 0 ? '' : `@${epoch}`);
		return generation === 0 ? base : `${base}:${generation}`;
	}

	#key(name: string): string {
		return userKey(this.userId, name === 'failed' ? `failed:${this.conversationId}` : name);
	}
}
