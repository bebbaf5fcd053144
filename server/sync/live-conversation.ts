import * as Y from 'yjs';
import type { Db } from '../../src/lib/server/db/index.ts';
import type { MessageWrites, StoredMessage } from '../../src/lib/server/messages.ts';
import { isLaterVersion, storedValue } from '../../src/lib/shared/conversation-doc.ts';
import { DOC_MESSAGES, DOC_REACTIONS, DOC_SEQ, parseReactionKey, RefusalCode, type MessageValue, type StoredMessageValue } from '../../src/lib/shared/protocol.ts';
import type { CommitGroup, GroupMember } from './commit-group.ts';
import type { Compactor } from './compactor.ts';
import type { DocumentLog } from './document-log.ts';
import { DEFAULT_EPOCH_LIMITS, epochFullness, type EpochLimits } from './epochs.ts';
import { inspectUpdate, isWellFormedUpdate, type ClientOwners, type Dependency } from './update-guard.ts';
import { reportFailure } from '../../src/lib/server/failure.ts';
import type { Uploads } from '../../src/lib/server/uploads.ts';
import type { UploadOnRecord } from './update-guard.ts';

/** How the update guard names a reactions key among the keys an update touches (see `reactionPlace`). */
const REACTIONS_PLACE = `${DOC_REACTIONS}:`;

/** Transaction origin of the updates the server writes itself (sequence numbers, REST sends). */
export const SERVER_ORIGIN = 'server';

/** A conversation this long without updates is quiet enough to fold its log. */
const IDLE_COMPACTION_MS = 2000;
/** How long an update may wait for content it builds on (a sync reply arrives within a round trip). */
export const HOLD_MS = 10_000;
/** Bytes of waiting updates one conversation keeps; past that a new one is sent back to resync. */
const HOLD_BYTES = 4 * 1024 * 1024;

export interface LiveDeps {
	db: Db;
	log: DocumentLog;
	writes: MessageWrites;
	isMember(conversationId: string, userId: string): boolean;
	/** Whether nobody may send new messages to the conversation now (its owner closed it, CTX-2). */
	isClosed?(conversationId: string): boolean;
	/** Whether the user may delete others' messages in the conversation (MOD-1). */
	isModerator?(conversationId: string, userId: string): boolean;
	/**
	 * Fold the update log into a snapshot once at least this many updates are logged, and either
	 * the conversation has been quiet for a moment or the log has grown to half the snapshot's size.
	 */
	compactEvery: number;
	/** Folds logs on a worker thread; without one, folding happens here, at quiet moments. */
	compactor?: Compactor;
	/**
	 * Whether `userId` may now store an update costing `messages` (its new messages, or 1 for an edit
	 * or deletion); when not, the update waits this long (nothing is lost: it is stored once the
	 * user's budget allows, or the connection is told to come back later).
	 */
	admit?(userId: string, messages: number): { ok: true } | { ok: false; retryAfterMs: number };
	/** Commits the updates of every conversation with some waiting together, once per turn of the event loop. */
	commits: CommitGroup;
	/** Called after messages were committed and applied (new, edited or deleted), with the authors of new ones. */
	onMessagesChanged?(conversationId: string, newMessageAuthors: Set<string>): void;
	/**
	 * The document no longer matches the database (an update that passed the guard did not apply, or
	 * a commit failed): close every connection to it now, so nobody receives what is not on disk.
	 */
	onBroken?(conversationId: string): void;
	/** When an epoch is full (EPOCH-1); {@link DEFAULT_EPOCH_LIMITS} unless given. */
	epochLimits?: EpochLimits;
	/** The epoch is full: end it (soon, outside this call). */
	onEpochFull?(conversation: LiveConversation): void;
	/** Uploaded files messages carry (ATTACH-2, ERASE-5). */
	uploads?: Pick<Uploads, 'facts' | 'attach' | 'detach' | 'removeFiles'>;
}

export type AcceptResult =
	| { ok: true; stored: boolean }
	| { ok: false; refused: { code: RefusalCode; message: string; messageIds: string[] } }
	| { ok: false; revoked: true }
	/** Not looked at: an earlier update of the same connection was refused. */
	| { ok: false; skipped: true }
	/**
	 * Nothing was stored; the client should reconnect and sync again (`incomplete`: held too long for
	 * content it builds on; `reloading`: the document is being rebuilt; `rate-limited`: over the user's budget for a while;
	 * `epoch-ended`: this epoch is over, write it into the current one).
	 */
	| { ok: false; retry: 'incomplete' | 'reloading' | 'rate-limited' | 'epoch-ended' };

interface Submission {
	update: Uint8Array;
	userId: string;
	origin: unknown;
	resolve(result: AcceptResult): void;
	/** When it started waiting for content it builds on (or for the user's message budget). */
	heldSince?: number;
	/** Not before this time (the user's message budget). */
	notBefore?: number;
	/** Content it builds on that the server does not have yet. */
	waitsFor?: Dependency;
}

interface Flush {
	batch: Submission[];
	now: number;
	results: Map<Submission, AcceptResult>;
	accepted: Accepted[];
	newAuthors: Set<string>;
	/** Rows looked up for the batch: one lookup per message. Rows change only in its commit, which reads them last. */
	rows: Map<string, StoredMessage | undefined>;
	serverUpdate: Uint8Array | null;
	/** Uploads the batch's accepted messages carry, each with its message key (ATTACH-2). */
	claims: Map<string, string>;
	/** Uploads of messages the batch deleted: their files go once the commit is done (ERASE-5). */
	erasedUploads: string[];
	/** The value of each message key the batch touched, as the document held it before the batch (ERASE-6). */
	before: Map<string, Version | undefined>;
	/** The batch's writes are in the group's transaction (and committed, unless `failure` says otherwise). */
	written: boolean;
	failure: unknown;
}

/** A message value and the Yjs item that held it. */
interface Version {
	value: StoredMessageValue;
	item: Y.Item;
}

/** The message value under `key` and its item, when the key holds one. */
function versionOf(messages: Y.Map<StoredMessageValue>, key: string): Version | undefined {
	const item = messages._map.get(key);
	const value = messages.get(key);
	return item && value ? { value, item } : undefined;
}

/**
 * Whether `item` was written on top of `ancestor` (its author's device had seen it): following each
 * value's origin, the value it replaced, leads there. A value only concurrent with it does not.
 */
function writtenOver(store: Y.Doc['store'], item: Y.Item, ancestor: Y.Item): boolean {
	let origin = item.origin;
	for (let steps = 0; origin !== null && steps < 10_000; steps++) {
		if (origin.client === ancestor.id.client && origin.clock >= ancestor.id.clock && origin.clock < ancestor.id.clock + ancestor.length) return true;
		const parent = Y.getItem(store, origin);
		// Garbage-collected on the way: nothing to go on, so the versions decide.
		if (!(parent instanceof Y.Item)) return false;
		origin = parent.origin;
	}
	return false;
}

/**
 * Whether `candidate` is a later version than `other`: written over it (its device had seen it), or,
 * when neither was written over the other, a deletion or edited later.
 */
function supersedes(store: Y.Doc['store'], candidate: Version, other: Version): boolean {
	if (writtenOver(store, candidate.item, other.item)) return true;
	return !writtenOver(store, other.item, candidate.item) && isLaterVersion(candidate.value, other.value);
}

/**
 * The values of `key` that arrived in the transaction under way (the batch), kept or not: Yjs
 * deletes a value that loses to a concurrent one at once, but frees its content only when the
 * transaction ends.
 */
function arrivedValues(doc: Y.Doc, key: string): Version[] {
	const transaction = doc._transaction;
	if (!transaction) return [];
	const arrived: Version[] = [];
	let item: Y.Item | null = doc.getMap<StoredMessageValue>(DOC_MESSAGES)._map.get(key) ?? null;
	for (let steps = 0; item !== null && steps < 10_000; steps++, item = item.left as Y.Item | null) {
		if (item.id.clock < (transaction.beforeState.get(item.id.client) ?? 0) || !(item.content instanceof Y.ContentAny)) continue;
		const value = item.content.getContent()[0] as StoredMessageValue | undefined;
		if (value && typeof value === 'object') arrived.push({ value, item });
	}
	return arrived;
}

interface Accepted {
	submission: Submission;
	hasNewContent: boolean;
	keys: Set<string>;
	newClients: Set<number>;
}

/**
 * The server side of one loaded conversation document. Updates that arrive together (within one
 * turn of the event loop) are checked against the document one by one and applied inside one Yjs
 * transaction; before that transaction ends (which is when members get the broadcast and the
 * sender its acknowledgement) the updates, the message rows projected from what each key now
 * resolves to, and the new sequence numbers are committed to SQLite, in the one transaction the
 * {@link CommitGroup} makes for every conversation with updates in that turn.
 */
export class LiveConversation implements GroupMember {
	readonly owners: ClientOwners;
	#writer: Y.Doc;
	/** The clientID of the server's overruling writes (ERASE-6), bound on first use; none yet: null. */
	#overruler: number | null = null;
	#writerBound = false;
	#loggedSinceSnapshot: number;
	#loggedBytes: number;
	#snapshotBytes: number;
	#idleTimer: ReturnType<typeof setTimeout> | undefined;
	#holdTimer: ReturnType<typeof setTimeout> | undefined;
	#compactScheduled = false;
	#disposed = false;
	#broken = false;
	#ended = false;
	#quietTimer: ReturnType<typeof setTimeout> | undefined;
	/** A commit deleted a message: the log holding its body is folded away now, not at the usual time (ERASE-1). */
	#erased = false;
	#queue: Submission[] = [];
	#held: Submission[] = [];
	#heldBytes = 0;
	/** The batch of the commit group's current run. */
	#flushing: Flush | null = null;

	private constructor(
		readonly conversationId: string,
		/** Which epoch of the conversation this document holds. */
		readonly epoch: number,
		readonly doc: Y.Doc,
		private readonly deps: LiveDeps,
		stored: { logged: number; loggedBytes: number; snapshotBytes: number }
	) {
		this.owners = deps.log.owners(conversationId);
		this.#loggedSinceSnapshot = stored.logged;
		this.#loggedBytes = stored.loggedBytes;
		this.#snapshotBytes = stored.snapshotBytes;
		this.#writer = this.#newWriter();
	}

	/** Applies the stored snapshot and update log to an empty document, one update at a time. */
	static load(conversationId: string, epoch: number, doc: Y.Doc, deps: LiveDeps): LiveConversation {
		const stored = deps.log.load(conversationId);
		stored.updates.forEach((update, index) => {
			// The snapshot is the server's own encoding; log rows came from clients, so their shape is checked again.
			const fromSnapshot = index === 0 && stored.snapshotBytes > 0;
			if (!fromSnapshot && !isWellFormedUpdate(update)) {
				reportFailure(`conversation ${conversationId}: skipped a stored update that is not well formed`);
				return;
			}
			try {
				Y.applyUpdate(doc, update);
			} catch (error) {
				// One unreadable row must not make the whole conversation unloadable.
				reportFailure(`conversation ${conversationId}: skipped a stored update that does not apply`, error);
			}
		});
		const live = new LiveConversation(conversationId, epoch, doc, deps, stored);
		live.#noteLogged(0, 0);
		return live;
	}

	/**
	 * Binds clientIDs first named in an awareness frame to the user (AUTH-3), in the next group
	 * commit; resolves once that is on disk. Frames judged meanwhile already see them as the user's;
	 * if the commit fails, the document reloads (and its owners with it) and this rejects.
	 */
	async bindClients(clients: number[], userId: string): Promise<void> {
		if (clients.length === 0) return;
		for (const client of clients) this.owners.set(client, userId);
		try {
			await this.deps.commits.include(() => {
				for (const client of clients) this.deps.log.bindClient(this.conversationId, client, userId);
			});
		} catch (error) {
			if (!this.#broken && !this.#disposed) this.#breakDown(error);
			throw error;
		}
	}

	/** True once the document stopped matching the database; it is being unloaded. */
	get broken(): boolean {
		return this.#broken;
	}

	/** True once this epoch ended (EPOCH-2): nothing more is written here. */
	get ended(): boolean {
		return this.#ended;
	}

	/**
	 * The epoch is over (its rows are gone from the document tables): every update still waiting is
	 * sent back to be written into the current epoch, and nothing else is taken here.
	 */
	end(): void {
		this.#ended = true;
		// The roll-over deleted this epoch's log (zeroed by secure_delete); its page images leave the WAL at the next checkpoint (ERASE-2).
		if (this.#eraseWanted || this.#erased) this.deps.compactor?.emptyWalSoon();
		this.#settleWaiting({ ok: false, retry: 'epoch-ended' });
		this.dispose();
	}

	/** Queues a client's update; the promise settles once it is stored and applied, refused, or sent back. */
	submit(update: Uint8Array, userId: string, origin: unknown): Promise<AcceptResult> {
		return new Promise((resolve) => this.#enqueue({ update, userId, origin, resolve }));
	}

	#enqueue(submission: Submission): void {
		this.#queue.push(submission);
		if (this.#queue.length === 1) this.deps.commits.request(this);
	}

	/**
	 * Commit group, step 1: takes the queued updates for this turn's commit; false when there are
	 * none (or the document is going away, and they were sent back to resync).
	 */
	beginFlush(): boolean {
		const batch = this.#queue;
		this.#queue = [];
		if (batch.length === 0) return false;
		if (this.#broken || this.#disposed) {
			for (const submission of batch) submission.resolve({ ok: false, retry: this.#ended ? 'epoch-ended' : 'reloading' });
			return false;
		}
		this.#flushing = { batch, now: Date.now(), results: new Map(), accepted: [], newAuthors: new Set(), rows: new Map(), serverUpdate: null, claims: new Map(), erasedUploads: [], before: new Map(), written: false, failure: null };
		return true;
	}

	/**
	 * Step 2: inside this document's Yjs transaction, checks and applies the batch, runs `deeper`
	 * (the other documents of the group, then the shared commit), and applies the sequence numbers
	 * committed. Members get the broadcast when the transaction ends, after the commit; if anything
	 * failed, every connection is closed first, so it reaches nobody.
	 */
	flushWithin(deeper: () => void): void {
		const f = this.#flushing!;
		Y.transact(
			this.doc,
			() => {
				try {
					this.#admit(f);
				} catch (error) {
					f.failure = error;
				}
				deeper();
				try {
					if (f.failure === null && f.serverUpdate) Y.applyUpdate(this.doc, f.serverUpdate);
				} catch (error) {
					f.failure = error;
				}
				if (f.failure !== null) this.#breakDown(f.failure);
			},
			f.batch[0]!.origin
		);
	}

	/** Step 3, inside the group's SQLite transaction: this batch's updates, rows and sequence numbers (in a savepoint). */
	writeFlush(): void {
		const f = this.#flushing!;
		if (f.failure !== null || !f.accepted.some((a) => a.hasNewContent)) return;
		try {
			f.serverUpdate = this.deps.db.transaction(() => this.#writeBatch(f));
			f.written = true;
		} catch (error) {
			this.commitFailed(error);
		}
	}

	/** The write or the group's commit failed: nothing of this batch is on disk. */
	commitFailed(error: unknown): void {
		const f = this.#flushing!;
		f.failure ??= error;
		f.written = false;
		f.serverUpdate = null;
		f.erasedUploads = [];
		// The server writer may hold items that were never logged; so may the clientID of overruling writes.
		this.#writer = this.#newWriter();
		this.#writerBound = false;
		this.#overruler = null;
	}

	abortFlush(error: unknown): void {
		const f = this.#flushing;
		if (!f) return;
		f.failure ??= error;
		if (!this.#broken) this.#breakDown(error);
	}

	/** Step 4: settles every submission of the batch. */
	endFlush(): void {
		const f = this.#flushing!;
		this.#flushing = null;
		if (f.failure !== null) {
			for (const submission of f.batch) submission.resolve({ ok: false, retry: 'reloading' });
			return;
		}
		if (f.written) {
			const stored = f.accepted.filter((a) => a.hasNewContent);
			this.#noteLogged(stored.length, stored.reduce((sum, a) => sum + a.submission.update.byteLength, 0));
		}
		for (const [submission, result] of f.results) submission.resolve(result);
		if (f.written) {
			if (f.erasedUploads.length > 0) void this.deps.uploads?.removeFiles(f.erasedUploads).catch((error: unknown) => reportFailure('removing the files of a deleted message failed', error));
			if (this.#erased) this.#erase();
			this.deps.onMessagesChanged?.(this.conversationId, f.newAuthors);
			this.#retryHeld();
			this.#checkFull();
		}
	}

	get #epochLimits(): EpochLimits {
		return this.deps.epochLimits ?? DEFAULT_EPOCH_LIMITS;
	}

	/** Whether this epoch may end (EPOCH-1): not yet, at a quiet moment, or now. */
	fullness(): ReturnType<typeof epochFullness> {
		// Sequence numbers are never deleted: the map's key count is its size, without Y.Map#size's walk over every entry (this runs after every commit).
		return epochFullness(this.#epochLimits, this.doc.getMap(DOC_SEQ)._map.size, this.#snapshotBytes + this.#loggedBytes);
	}

	/**
	 * After every commit (EPOCH-1): a full epoch is reported once the conversation has been quiet
	 * for a moment (each commit starts the wait again), an overfull one at once.
	 */
	#checkFull(): void {
		clearTimeout(this.#quietTimer);
		if (this.#broken || this.#ended) return;
		const limits = this.#epochLimits;
		const fullness = this.fullness();
		if (fullness === 'overfull') this.deps.onEpochFull?.(this);
		else if (fullness === 'full') {
			this.#quietTimer = setTimeout(() => {
				if (!this.#disposed) this.deps.onEpochFull?.(this);
			}, limits.quietMs);
			this.#quietTimer.unref?.();
		}
	}

	/** Inside the Yjs transaction: checks each update against the document as it is now, and applies the accepted ones. */
	#admit(f: Flush): void {
		const { batch, now, rows, results, accepted, claims } = f;
		const { conversationId, deps } = this;
		const refusedOrigins = new Set<unknown>();
		const members = new Map<string, boolean>();
		const stored = (key: string) => {
			if (!rows.has(key)) rows.set(key, deps.writes.find(conversationId, key));
			return rows.get(key);
		};
		for (const submission of batch) {
			const { update, userId, origin } = submission;
			if (refusedOrigins.has(origin)) {
				results.set(submission, { ok: false, skipped: true });
				continue;
			}
			let member = members.get(userId);
			if (member === undefined) members.set(userId, (member = deps.isMember(conversationId, userId)));
			if (!member) {
				results.set(submission, { ok: false, revoked: true });
				refusedOrigins.add(origin);
				continue;
			}
			const isModerator = () => deps.isModerator?.(conversationId, userId) ?? false;
			const verdict = inspectUpdate({ doc: this.doc, userId, owners: this.owners, stored, upload: (id) => this.#uploadOnRecord(id, claims), isModerator, now }, update);
			if (verdict.kind === 'refused') {
				const { code, message, messageIds } = verdict;
				results.set(submission, { ok: false, refused: { code, message, messageIds } });
				refusedOrigins.add(origin);
				continue;
			}
			if (verdict.kind === 'held') {
				submission.waitsFor = verdict.waitsFor;
				this.#hold(submission, now, results);
				continue;
			}
			// A value under a key the server has no row for is a new message, whether or not the key was used before (CTX-2).
			const unstored = verdict.valueKeys.size > 0 ? [...verdict.valueKeys].filter((key) => !stored(key)) : [];
			if (unstored.length > 0 && deps.isClosed?.(conversationId)) {
				const messageIds = unstored;
				results.set(submission, { ok: false, refused: { code: RefusalCode.ConversationClosed, message: 'this conversation is closed', messageIds } });
				refusedOrigins.add(origin);
				continue;
			}
			if (verdict.hasNewContent && deps.admit) {
				const budget = deps.admit(userId, Math.max(1, verdict.newMessages, unstored.length));
				if (!budget.ok) {
					submission.waitsFor = undefined;
					submission.notBefore = now + budget.retryAfterMs;
					this.#hold(submission, now, results);
					continue;
				}
			}
			if (verdict.hasNewContent) {
				const messages = this.doc.getMap<StoredMessageValue>(DOC_MESSAGES);
				for (const key of verdict.valueKeys) if (!f.before.has(key)) f.before.set(key, versionOf(messages, key));
				Y.applyUpdate(this.doc, update);
				// The guard judged every dependency present: anything Yjs still waits for means it missed something.
				if (this.doc.store.pendingStructs !== null || this.doc.store.pendingDs !== null) {
					throw new Error('an accepted update left content pending');
				}
			}
			// Later updates of the batch see the clientIDs as the user's (they are bound in the commit, or the document reloads).
			for (const client of verdict.newClients) this.owners.set(client, userId);
			for (const [upload, key] of verdict.attachments) claims.set(upload, key);
			accepted.push({ submission, ...verdict });
			results.set(submission, { ok: true, stored: verdict.hasNewContent });
		}
	}

	/** An upload as the guard judges it: what the server has, with this batch's accepted messages' claims on it. */
	#uploadOnRecord(id: string, claims: Map<string, string>): UploadOnRecord | undefined {
		const facts = this.deps.uploads?.facts(id);
		if (!facts) return undefined;
		const { ownerId, conversationId, messageId, avatar, ...ref } = facts;
		const stored = avatar ? '(elsewhere)' : messageId === null ? null : conversationId === this.conversationId ? messageId : '(elsewhere)';
		return { ownerId, ref, attachedTo: stored ?? claims.get(id) ?? null };
	}

	/** Inside the SQLite transaction: the updates, the clientIDs they bind, their rows, and the server's update with the new sequence numbers. */
	#writeBatch(f: Flush): Uint8Array | null {
		const { accepted, now } = f;
		const { conversationId, deps } = this;
		const keys = new Set<string>();
		for (const a of accepted) for (const key of a.keys) keys.add(key);
		for (const { submission, hasNewContent, newClients } of accepted) {
			if (!hasNewContent) continue;
			deps.log.append(conversationId, submission.update, now);
			for (const client of newClients) deps.log.bindClient(conversationId, client, submission.userId);
		}
		const overruled = this.#overruled(keys, f);
		const sequenced = this.#project(keys, f, overruled);
		const updates: Uint8Array[] = [];
		if (sequenced.length > 0) {
			updates.push(this.#serverWrite(now, (writer) => {
				const seqMap = writer.getMap<number>(DOC_SEQ);
				for (const [id, seq] of sequenced) seqMap.set(id, seq);
			}));
		}
		if (overruled.size > 0) updates.push(this.#writeOnTop(overruled, now));
		return updates.length === 0 ? null : updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates);
	}

	/**
	 * Keys whose value the document now resolves to an older version than one it held before the batch
	 * or received in it, with that later version (ERASE-6). Yjs keeps one of two concurrent values by
	 * clientID, not by time: a device that never heard a message's acknowledgement writes the original
	 * into a fresh document (a lost database, none at all, a new epoch), concurrent with an edit made
	 * meanwhile on another device, and may win; so may an edit made earlier than another it never saw.
	 */
	#overruled(keys: Set<string>, f: Flush): Map<string, StoredMessageValue> {
		const messages = this.doc.getMap<StoredMessageValue>(DOC_MESSAGES);
		const { store } = this.doc;
		const overruled = new Map<string, StoredMessageValue>();
		for (const key of keys) {
			const resolved = versionOf(messages, key);
			if (!resolved) continue;
			const before = f.before.get(key);
			let latest = before;
			for (const candidate of arrivedValues(this.doc, key)) if (!latest || supersedes(store, candidate, latest)) latest = candidate;
			if (latest && latest.item !== resolved.item && supersedes(store, latest, resolved)) {
				overruled.set(key, latest.value);
				continue;
			}
			if (!f.before.has(key) || before) continue;
			// New to this epoch's document: a message of an ended one (EPOCH-3). The table has its latest
			// version: a value carried in that is not later than it (the original, or an edit made before
			// the one stored) is an old copy coming back.
			const current = resolved.value;
			const row = f.rows.has(key) ? f.rows.get(key) : this.deps.writes.find(this.conversationId, key);
			if (!row || row.editedAt === null || row.deletedAt !== null || current.deletedAt !== undefined || current.body === row.body) continue;
			const stored = { ...current, body: row.body, editedAt: row.authorEditedAt ?? row.editedAt };
			if (!isLaterVersion(current, stored)) overruled.set(key, stored);
		}
		return overruled;
	}

	/**
	 * Writes `values` again on top of whatever each key holds, so they win on every device. The
	 * server's writer holds only its own items, and a value must follow the one it replaces: this
	 * write is made on a copy of the document under a clientID of its own, bound to the server.
	 */
	#writeOnTop(values: Map<string, StoredMessageValue>, now: number): Uint8Array {
		const copy = new Y.Doc();
		Y.applyUpdate(copy, Y.encodeStateAsUpdate(this.doc));
		// One clientID for every such write while the document is loaded: the copy holds its earlier items, so its clock goes on.
		if (this.#overruler !== null) copy.clientID = this.#overruler;
		else while (this.owners.has(copy.clientID) || this.doc.store.clients.has(copy.clientID) || copy.clientID === this.#writer.clientID) copy.clientID = new Y.Doc().clientID;
		let update: Uint8Array | null = null;
		copy.on('update', (u: Uint8Array) => (update = u));
		copy.transact(() => {
			const messages = copy.getMap<StoredMessageValue>(DOC_MESSAGES);
			for (const [key, value] of values) messages.set(key, value);
		});
		copy.destroy();
		if (!update) throw new Error('overruling write produced no update');
		if (this.#overruler === null) {
			this.deps.log.bindClient(this.conversationId, copy.clientID, null);
			this.owners.set(copy.clientID, null);
			this.#overruler = copy.clientID;
		}
		this.deps.log.append(this.conversationId, update, now);
		return update;
	}

	/**
	 * Writes each key's row as the document now resolves it (Yjs's rule, whatever order updates
	 * arrived in): a new value gets the next sequence number, a changed one is an edit, a key whose
	 * value is gone is a deletion. Returns the new sequence numbers.
	 */
	#project(keys: Set<string>, f: Flush, overruled: Map<string, StoredMessageValue>): Array<[string, number]> {
		const { now, rows, newAuthors } = f;
		const { conversationId, deps } = this;
		const messages = this.doc.getMap<StoredMessageValue>(DOC_MESSAGES);
		const seqs = this.doc.getMap<number>(DOC_SEQ);
		const sequenced: Array<[string, number]> = [];
		// An update lists its clientIDs in descending order, and a device that reloaded offline holds
		// several: number new messages in the order their authors wrote them, not by clientID. The sort
		// is stable, so messages of the same millisecond keep the update's (clock) order.
		const written = (key: string) => messages.get(key)?.createdAt ?? 0;
		const reactionKeys = [...keys].filter((key) => key.startsWith(REACTIONS_PLACE));
		const ordered = [...keys].filter((key) => !key.startsWith(REACTIONS_PLACE)).sort((a, b) => written(a) - written(b));
		for (const key of ordered) {
			const current = overruled.get(key) ?? messages.get(key);
			// A tombstone (deleted for everyone) is a deletion; its seq stays in the document so devices show the placeholder.
			const value = current?.deletedAt === undefined ? current : undefined;
			const row = rows.has(key) ? rows.get(key) : deps.writes.find(conversationId, key);
			if (!row) {
				if (!value) {
					// Written and deleted before it ever reached the server: stored nowhere but in the log, which must fold.
					this.#erased = true;
					continue;
				}
				const { replyTo, ...rest } = value;
				sequenced.push([key, deps.writes.insert(conversationId, { ...rest, id: key, authorId: value.author, ...(replyTo ? { replyTo } : {}) }, now)]);
				// Carried by this message from now on (the guard checked they are free; a race with another conversation's commit throws here).
				if (value.attachments?.length) this.#uploads().attach(conversationId, key, value.author, value.attachments.map((ref) => ref.id));
				newAuthors.add(value.author);
			} else if (value) {
				if (row.authorId !== value.author) throw new Error('message author changed');
				deps.writes.show(conversationId, key, value.body, row, now, value.editedAt ?? null);
				// A message of an earlier epoch written into this one (EPOCH-3): an edit, or a device that
				// never saw its acknowledgement. It keeps its sequence number, which this epoch now carries.
				if (!seqs.has(key)) sequenced.push([key, row.seq]);
			} else {
				if (row.deletedAt === null) {
					deps.writes.remove(conversationId, key, now);
					if (row.attachments !== null) f.erasedUploads.push(...this.#uploads().detach(conversationId, key));
					this.#erased = true;
				}
				// A tombstone written into a later epoch than its message's (EPOCH-3) carries the old seq there.
				if (current && !seqs.has(key)) sequenced.push([key, row.seq]);
			}
		}
		// Reactions: each key is one user's list for one message, as the document now resolves it.
		const reactions = this.doc.getMap<string[]>(DOC_REACTIONS);
		for (const place of reactionKeys) {
			const key = place.slice(REACTIONS_PLACE.length);
			const parsed = parseReactionKey(key);
			if (parsed) deps.writes.react(conversationId, parsed.messageId, parsed.userId, reactions.get(key) ?? [], now);
		}
		return sequenced;
	}

	#uploads(): NonNullable<LiveDeps['uploads']> {
		if (!this.deps.uploads) throw new Error('a message with attachments, and no upload store');
		return this.deps.uploads;
	}

	#hold(submission: Submission, now: number, results: Map<Submission, AcceptResult>): void {
		submission.heldSince ??= now;
		const bytes = submission.update.byteLength;
		const deadline = submission.heldSince + HOLD_MS;
		if (now > deadline || (submission.notBefore ?? 0) > deadline || this.#heldBytes + bytes > HOLD_BYTES) {
			results.set(submission, { ok: false, retry: submission.waitsFor ? 'incomplete' : 'rate-limited' });
			return;
		}
		this.#held.push(submission);
		this.#heldBytes += bytes;
		this.#scheduleHeldCheck();
	}

	/** Held updates whose dependency arrived or whose budget allows go first in the next batch, in their original order. */
	#retryHeld(): void {
		const now = Date.now();
		const ready = this.#held.filter((s) => this.#isReady(s, now));
		if (ready.length === 0) return;
		this.#held = this.#held.filter((s) => !ready.includes(s));
		this.#heldBytes = this.#held.reduce((sum, s) => sum + s.update.byteLength, 0);
		const wasEmpty = this.#queue.length === 0;
		this.#queue.unshift(...ready);
		if (wasEmpty) this.deps.commits.request(this);
	}

	#isReady(submission: Submission, now: number): boolean {
		const { waitsFor, notBefore } = submission;
		if (waitsFor) return Y.getState(this.doc.store, waitsFor.client) > waitsFor.clock;
		return (notBefore ?? 0) <= now;
	}

	/** Held updates are looked at again when their budget allows, and sent back once they waited too long. */
	#scheduleHeldCheck(): void {
		if (this.#holdTimer || this.#disposed) return;
		this.#holdTimer = setTimeout(() => {
			this.#holdTimer = undefined;
			const now = Date.now();
			const expired = this.#held.filter((s) => now - s.heldSince! > HOLD_MS);
			this.#held = this.#held.filter((s) => !expired.includes(s));
			for (const submission of expired) submission.resolve({ ok: false, retry: submission.waitsFor ? 'incomplete' : 'rate-limited' });
			this.#retryHeld();
			this.#heldBytes = this.#held.reduce((sum, s) => sum + s.update.byteLength, 0);
			if (this.#held.length > 0) this.#scheduleHeldCheck();
		}, 250);
		this.#holdTimer.unref?.();
	}

	#breakDown(error: unknown): void {
		reportFailure(`conversation ${this.conversationId}: the document no longer matches the database; reloading it`, error);
		this.#broken = true;
		this.#writer = this.#newWriter();
		this.#writerBound = false;
		this.#overruler = null;
		const held = this.#held;
		this.#held = [];
		for (const submission of held) submission.resolve({ ok: false, retry: 'reloading' });
		this.deps.onBroken?.(this.conversationId);
	}

	/**
	 * Stores a message on behalf of its author (REST sends, bots) and puts it into the document.
	 * 'exists' when the id is already stored (nothing changes); 'conflict' when the id is taken in the
	 * document but not stored (a value deleted before it reached the server) or the author left.
	 * Timeline lines (`value.event`) go the same way; their author (who acted) may have just left.
	 */
	sendFromServer(value: MessageValue, { authorMustBeMember = true } = {}): 'created' | 'exists' | 'conflict' {
		const now = Date.now();
		const { conversationId, deps } = this;
		if (this.#broken || this.#ended) throw new Error(`conversation ${conversationId} is reloading`);
		if (deps.writes.find(conversationId, value.id) !== undefined) return 'exists';
		if (this.doc.getMap(DOC_MESSAGES)._map.has(value.id)) return 'conflict';
		const serverUpdate = this.#inWriteTransaction(() => {
			if (authorMustBeMember && !deps.isMember(conversationId, value.author)) return null;
			const seq = deps.writes.insertNew(conversationId, { ...value, authorId: value.author }, now);
			if (seq === null) return null;
			if (value.attachments?.length) this.#uploads().attach(conversationId, value.id, value.author, value.attachments.map((ref) => ref.id));
			return this.#serverWrite(now, (writer) => {
				writer.getMap<StoredMessageValue>(DOC_MESSAGES).set(value.id, storedValue(value));
				writer.getMap<number>(DOC_SEQ).set(value.id, seq);
			});
		});
		if (!serverUpdate) return deps.writes.find(conversationId, value.id) === undefined ? 'conflict' : 'exists';
		Y.applyUpdate(this.doc, serverUpdate, SERVER_ORIGIN);
		this.#noteLogged(1, serverUpdate.byteLength);
		this.deps.onMessagesChanged?.(conversationId, new Set([value.author]));
		this.#retryHeld();
		this.#checkFull();
		return 'created';
	}

	/** Folds everything logged so far into one snapshot. */
	compact(): void {
		this.#compactScheduled = false;
		if (this.#ended) return;
		clearTimeout(this.#idleTimer);
		if (this.#loggedSinceSnapshot === 0) return;
		// The live document is garbage-collected: deleted and replaced values are not in its state (ERASE-1).
		const state = Y.encodeStateAsUpdate(this.doc);
		this.deps.log.compact(this.conversationId, state);
		this.#loggedSinceSnapshot = 0;
		this.#loggedBytes = 0;
		this.#snapshotBytes = state.byteLength;
		if (this.#eraseWanted) {
			this.#erasedThrough = this.#erasures;
			this.deps.log.emptyWal();
		}
	}

	/**
	 * Forgets the document as it unloads. Everything is already durable; the log is left for the
	 * next load to fold, so a REST send to an idle conversation does not re-encode the whole document.
	 * Updates still waiting are sent back to resync.
	 */
	dispose(): void {
		this.#disposed = true;
		clearTimeout(this.#idleTimer);
		clearTimeout(this.#quietTimer);
		clearTimeout(this.#holdTimer);
		this.#settleWaiting({ ok: false, retry: 'reloading' });
	}

	#settleWaiting(result: AcceptResult): void {
		const waiting = [...this.#held, ...this.#queue];
		this.#held = [];
		this.#heldBytes = 0;
		this.#queue = [];
		for (const submission of waiting) submission.resolve(result);
	}

	/** Runs `write` in one SQLite transaction; a failed commit also discards the server writer's unlogged items. */
	#inWriteTransaction(write: () => Uint8Array | null): Uint8Array | null {
		try {
			// IMMEDIATE: take the write lock up front (waiting for the compactor's short write if need be).
			return this.deps.db.transaction(write, { behavior: 'immediate' });
		} catch (error) {
			this.#writer = this.#newWriter();
			this.#writerBound = false;
			throw error;
		}
	}

	/** Makes a server update (the server's own clientID, bound on first use) and logs it. */
	#serverWrite(now: number, change: (writer: Y.Doc) => void): Uint8Array {
		if (!this.#writerBound) {
			this.deps.log.bindClient(this.conversationId, this.#writer.clientID, null);
			this.owners.set(this.#writer.clientID, null);
			this.#writerBound = true;
		}
		let update: Uint8Array | null = null;
		const capture = (u: Uint8Array) => (update = u);
		this.#writer.on('update', capture);
		try {
			Y.transact(this.#writer, () => change(this.#writer));
		} finally {
			this.#writer.off('update', capture);
		}
		if (!update) throw new Error('server write produced no update');
		this.deps.log.append(this.conversationId, update, now);
		return update;
	}

	/**
	 * The server's writer holds only the server's own items, so its updates apply to the live
	 * document without first touching it. A fresh clientID per load keeps its clock valid.
	 */
	#newWriter(): Y.Doc {
		let writer: Y.Doc;
		// A guid of its own, not a random UUID (see sync-server.ts); its clientID stays random.
		do writer = new Y.Doc({ guid: `${this.conversationId}/server` });
		while (this.owners.has(writer.clientID) || this.doc.store.clients.has(writer.clientID));
		return writer;
	}

	/**
	 * Folding the log costs time in proportion to the whole document. The compactor's worker does it
	 * off the event loop; without one it waits for a quiet moment, or until the log has grown by half
	 * the snapshot (which keeps its cost per logged byte constant however large the conversation gets).
	 */
	#noteLogged(count: number, bytes: number): void {
		this.#loggedSinceSnapshot += count;
		this.#loggedBytes += bytes;
		if (this.#loggedSinceSnapshot < this.deps.compactEvery) return;
		clearTimeout(this.#idleTimer);
		if (this.#loggedBytes * 2 >= this.#snapshotBytes) {
			this.#fold();
			return;
		}
		this.#idleTimer = setTimeout(() => {
			if (!this.#disposed) this.#fold();
		}, IDLE_COMPACTION_MS);
		this.#idleTimer.unref?.();
	}

	/**
	 * A message was deleted (ERASE-1): its body is still in the logged update that brought it (and in
	 * the WAL's page images). Fold the log now, and once it is folded empty the WAL (ERASE-2).
	 */
	#erase(): void {
		this.#erased = false;
		this.#erasures += 1;
		this.#fold();
	}

	/** Commits that erased something, and how many of them a finished fold covers (ERASE-2). */
	#erasures = 0;
	#erasedThrough = 0;

	get #eraseWanted(): boolean {
		return this.#erasures > this.#erasedThrough;
	}

	/** Folds the log now: on the compactor's worker when there is one, else here (soon, off this call stack). */
	#fold(): void {
		const { compactor } = this.deps;
		if (!compactor?.available) {
			this.#scheduleCompaction();
			return;
		}
		const [count, size] = [this.#loggedSinceSnapshot, this.#loggedBytes];
		const erasures = this.#erasures;
		const erase = this.#eraseWanted;
		// False when this epoch's fold is under way already: its answer below folds again for what came since.
		compactor.request(
			this.conversationId,
			this.epoch,
			(result) => {
				if (this.#disposed) return;
				if (result.ok) {
					this.#loggedSinceSnapshot = Math.max(0, this.#loggedSinceSnapshot - count);
					this.#loggedBytes = Math.max(0, this.#loggedBytes - size);
					this.#snapshotBytes = result.bytes;
					if (erase) this.#erasedThrough = Math.max(this.#erasedThrough, erasures);
					// A deletion committed while this fold was under way: its log row is past what was folded.
					if (this.#eraseWanted) this.#fold();
				} else if (this.#eraseWanted) {
					// The fold failed (a busy database): a deleted body must not stay in the log, so try again soon.
					setTimeout(() => {
						if (!this.#disposed && this.#eraseWanted) this.#fold();
					}, 1000).unref?.();
				}
			},
			{ erase }
		);
	}

	#scheduleCompaction(): void {
		if (this.#compactScheduled) return;
		this.#compactScheduled = true;
		setImmediate(() => {
			if (!this.#disposed) this.compact();
		});
	}
}
