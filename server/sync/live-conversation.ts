import * as Y from 'yjs';
import type { Db } from '../../src/lib/server/db/index.ts';
import type { MessageWrites, StoredMessage } from '../../src/lib/server/messages.ts';
import { DOC_MESSAGES, DOC_SEQ, RefusalCode, type MessageValue } from '../../src/lib/shared/protocol.ts';
import type { Compactor } from './compactor.ts';
import type { DocumentLog } from './document-log.ts';
import { inspectUpdate, PendingChanges, type ClientOwners, type Inspection, type UpdateEffects } from './update-guard.ts';

/** Transaction origin of the updates the server writes itself (sequence numbers, REST sends). */
export const SERVER_ORIGIN = 'server';

/** A conversation this long without updates is quiet enough to fold its log. */
const IDLE_COMPACTION_MS = 2000;

export interface LiveDeps {
	db: Db;
	log: DocumentLog;
	writes: MessageWrites;
	isMember(conversationId: string, userId: string): boolean;
	/**
	 * Fold the update log into a snapshot once at least this many updates are logged, and either
	 * the conversation has been quiet for a moment or the log has grown to half the snapshot's size.
	 */
	compactEvery: number;
	/** Folds logs on a worker thread; without one, folding happens here, at quiet moments. */
	compactor?: Compactor;
	/** Called after messages were committed and applied (new, edited or deleted), with the authors of new ones. */
	onMessagesChanged?(conversationId: string, newMessageAuthors: Set<string>): void;
}

export type AcceptResult =
	| Exclude<Inspection, { ok: true }>
	| { ok: false; revoked: true }
	/** Not looked at: an earlier update of the same connection in this batch was refused. */
	| { ok: false; skipped: true }
	| { ok: true; stored: boolean };

interface Submission {
	update: Uint8Array;
	userId: string;
	origin: unknown;
	resolve(result: AcceptResult): void;
	reject(error: unknown): void;
}

/**
 * The server side of one loaded conversation document. Every change reaches the document only
 * after it is committed to SQLite, so whatever a client sees (its own acknowledgement, or
 * another member's message) is already durable.
 */
export class LiveConversation {
	readonly owners: ClientOwners;
	#writer: Y.Doc;
	#writerBound = false;
	#loggedSinceSnapshot: number;
	#loggedBytes: number;
	#snapshotBytes: number;
	#idleTimer: ReturnType<typeof setTimeout> | undefined;
	#compactScheduled = false;
	#disposed = false;
	#queue: Submission[] = [];
	/** One accepted update's rows; better-sqlite3 runs it as a SAVEPOINT inside the batch's transaction. */
	#storeUpdate: (
		update: Uint8Array,
		userId: string,
		inspection: UpdateEffects,
		now: number,
		sequenced: Array<[string, number]>,
		stored: Map<string, StoredMessage | undefined>
	) => void;

	private constructor(
		readonly conversationId: string,
		readonly doc: Y.Doc,
		private readonly deps: LiveDeps,
		stored: { logged: number; loggedBytes: number; snapshotBytes: number }
	) {
		this.owners = deps.log.owners(conversationId);
		this.#loggedSinceSnapshot = stored.logged;
		this.#loggedBytes = stored.loggedBytes;
		this.#snapshotBytes = stored.snapshotBytes;
		this.#storeUpdate = deps.db.$client.transaction((update, userId, inspection, now, sequenced, stored) => {
			deps.log.append(conversationId, update, now);
			for (const client of inspection.newClients) deps.log.bindClient(conversationId, client, userId);
			for (const value of inspection.upserts.values()) {
				// The guard just looked this row up; the row changes now, so the batch looks again next time.
				const existing = stored.has(value.id) ? stored.get(value.id) : deps.writes.find(conversationId, value.id);
				stored.delete(value.id);
				const seq = deps.writes.upsert(conversationId, { ...value, authorId: userId }, now, existing);
				if (seq !== null) sequenced.push([value.id, seq]);
			}
			for (const id of inspection.deletions) deps.writes.remove(conversationId, id, now);
		});
		this.#writer = this.#newWriter();
	}

	/** Applies the stored snapshot and update log to an empty document. */
	static load(conversationId: string, doc: Y.Doc, deps: LiveDeps): LiveConversation {
		const stored = deps.log.load(conversationId);
		const { updates } = stored;
		Y.transact(doc, () => {
			for (const update of updates) {
				try {
					Y.applyUpdate(doc, update);
				} catch (error) {
					// One unreadable row must not make the whole conversation unloadable.
					console.error(`conversation ${conversationId}: skipped a stored update that does not apply`, error);
				}
			}
		});
		const live = new LiveConversation(conversationId, doc, deps, stored);
		live.#noteLogged(0, 0);
		return live;
	}

	/**
	 * Queues a client's update. Updates that arrive together (within one turn of the event loop)
	 * are checked in order, committed to SQLite in one transaction (one fsync), then applied in one
	 * Yjs transaction, so members get one broadcast per batch and acknowledgements follow the commit.
	 */
	submit(update: Uint8Array, userId: string, origin: unknown): Promise<AcceptResult> {
		return new Promise((resolve, reject) => {
			this.#queue.push({ update, userId, origin, resolve, reject });
			if (this.#queue.length === 1) setImmediate(() => this.#flush());
		});
	}

	#flush(): void {
		const batch = this.#queue;
		this.#queue = [];
		const results = new Map<Submission, AcceptResult>();
		const accepted: Submission[] = [];
		const authors = new Set<string>();
		const bindings: Array<[number, string]> = [];
		let serverUpdate: Uint8Array | null;
		try {
			serverUpdate = this.#commit(() => this.#storeBatch(batch, results, accepted, authors, bindings));
		} catch (error) {
			for (const submission of batch) submission.reject(error);
			return;
		}
		// Only what was committed binds clientIDs.
		for (const [client, userId] of bindings) this.owners.set(client, userId);
		if (accepted.length > 0) {
			try {
				Y.transact(
					this.doc,
					() => {
						for (const submission of accepted) Y.applyUpdate(this.doc, submission.update);
						if (serverUpdate) Y.applyUpdate(this.doc, serverUpdate);
					},
					accepted[0]!.origin
				);
			} catch (error) {
				// The guard should make this impossible; if it happens, close the senders rather than the process.
				console.error(`conversation ${this.conversationId}: an accepted update did not apply`, error);
				for (const submission of batch) submission.reject(error);
				return;
			}
			const bytes = accepted.reduce((sum, a) => sum + a.update.byteLength, serverUpdate?.byteLength ?? 0);
			this.#noteLogged(accepted.length + (serverUpdate ? 1 : 0), bytes);
		}
		for (const submission of batch) submission.resolve(results.get(submission)!);
		if (accepted.length > 0) this.deps.onMessagesChanged?.(this.conversationId, authors);
	}

	/** Inside the transaction: checks each update against the document plus the ones before it, logs and flattens it. */
	#storeBatch(
		batch: Submission[],
		results: Map<Submission, AcceptResult>,
		accepted: Submission[],
		authors: Set<string>,
		bindings: Array<[number, string]>
	): Uint8Array | null {
		const { conversationId, deps } = this;
		const now = Date.now();
		const pending = new PendingChanges();
		const refusedOrigins = new Set<unknown>();
		const members = new Map<string, boolean>();
		const sequenced: Array<[string, number]> = [];
		// Rows the guard looked up, kept for the write that follows: one lookup per message, not two.
		const stored = new Map<string, StoredMessage | undefined>();
		const storedAuthorOf = (id: string) => {
			if (!stored.has(id)) stored.set(id, deps.writes.find(conversationId, id));
			return stored.get(id)?.authorId;
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
			const inspection = inspectUpdate(this.doc, update, userId, this.owners, pending, storedAuthorOf);
			if (!inspection.ok) {
				results.set(submission, inspection);
				refusedOrigins.add(origin);
				continue;
			}
			if (!inspection.hasNewContent) {
				results.set(submission, { ok: true, stored: false });
				continue;
			}
			// Each update in its own savepoint: one that cannot be stored is refused alone, not the batch.
			try {
				this.#storeUpdate(update, userId, inspection, now, sequenced, stored);
			} catch (error) {
				console.error(`conversation ${conversationId}: could not store an update`, error);
				results.set(submission, { ok: false, code: RefusalCode.InvalidMessage, message: 'the server could not store this update', messageIds: [] });
				refusedOrigins.add(origin);
				continue;
			}
			for (const client of inspection.newClients) bindings.push([client, userId]);
			if (inspection.upserts.size > 0) authors.add(userId);
			accepted.push(submission);
			results.set(submission, { ok: true, stored: true });
		}
		if (sequenced.length === 0) return null;
		return this.#serverWrite(now, (writer) => {
			const seqMap = writer.getMap<number>(DOC_SEQ);
			for (const [id, seq] of sequenced) seqMap.set(id, seq);
		});
	}

	/**
	 * Stores a message on behalf of its author (REST sends, bots) and puts it into the document.
	 * 'exists' when the id is already stored (nothing changes); 'conflict' when the id is taken in the
	 * document but not stored (a value deleted before it reached the server) or the author left.
	 */
	sendFromServer(value: MessageValue): 'created' | 'exists' | 'conflict' {
		const now = Date.now();
		const { conversationId, deps } = this;
		if (deps.writes.find(conversationId, value.id) !== undefined) return 'exists';
		if (this.doc.getMap(DOC_MESSAGES)._map.has(value.id)) return 'conflict';
		const serverUpdate = this.#commit(() => {
			if (!deps.isMember(conversationId, value.author)) return null;
			const seq = deps.writes.upsertNew(conversationId, { ...value, authorId: value.author }, now);
			if (seq === null) return null;
			return this.#serverWrite(now, (writer) => {
				writer.getMap<MessageValue>(DOC_MESSAGES).set(value.id, value);
				writer.getMap<number>(DOC_SEQ).set(value.id, seq);
			});
		});
		if (!serverUpdate) return deps.writes.find(conversationId, value.id) === undefined ? 'conflict' : 'exists';
		Y.applyUpdate(this.doc, serverUpdate, SERVER_ORIGIN);
		this.#noteLogged(1, serverUpdate.byteLength);
		this.deps.onMessagesChanged?.(conversationId, new Set([value.author]));
		return 'created';
	}

	/** Folds everything logged so far into one snapshot. */
	compact(): void {
		this.#compactScheduled = false;
		clearTimeout(this.#idleTimer);
		if (this.#loggedSinceSnapshot === 0) return;
		const state = Y.encodeStateAsUpdate(this.doc);
		this.deps.log.compact(this.conversationId, state);
		this.#loggedSinceSnapshot = 0;
		this.#loggedBytes = 0;
		this.#snapshotBytes = state.byteLength;
	}

	/**
	 * Forgets the document as it unloads. Everything is already durable; the log is left for the
	 * next load to fold, so a REST send to an idle conversation does not re-encode the whole document.
	 */
	dispose(): void {
		this.#disposed = true;
		clearTimeout(this.#idleTimer);
	}

	/** Runs `write` in one SQLite transaction; a failed commit also discards the server writer's unlogged items. */
	#commit(write: () => Uint8Array | null): Uint8Array | null {
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
		do writer = new Y.Doc();
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

	/** Folds the log now: on the compactor's worker when there is one, else here (soon, off this call stack). */
	#fold(): void {
		const { compactor } = this.deps;
		if (!compactor?.available) {
			this.#scheduleCompaction();
			return;
		}
		const [count, size] = [this.#loggedSinceSnapshot, this.#loggedBytes];
		compactor.request(this.conversationId, (result) => {
			if (!result.ok) return;
			this.#loggedSinceSnapshot = Math.max(0, this.#loggedSinceSnapshot - count);
			this.#loggedBytes = Math.max(0, this.#loggedBytes - size);
			this.#snapshotBytes = result.bytes;
		});
	}

	#scheduleCompaction(): void {
		if (this.#compactScheduled) return;
		this.#compactScheduled = true;
		setImmediate(() => {
			if (!this.#disposed) this.compact();
		});
	}
}
