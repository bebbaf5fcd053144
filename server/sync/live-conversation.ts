import * as Y from 'yjs';
import type { Db } from '../../src/lib/server/db/index.ts';
import type { MessageWrites } from '../../src/lib/server/messages.ts';
import { DOC_MESSAGES, DOC_SEQ, RefusalCode, type MessageValue } from '../../src/lib/shared/protocol.ts';
import type { DocumentLog } from './document-log.ts';
import { inspectUpdate, PendingChanges, type ClientOwners, type Inspection } from './update-guard.ts';

/** Transaction origin of the updates the server writes itself (sequence numbers, REST sends). */
export const SERVER_ORIGIN = 'server';

export interface LiveDeps {
	db: Db;
	log: DocumentLog;
	writes: MessageWrites;
	isMember(conversationId: string, userId: string): boolean;
	/** Fold the update log into a snapshot after this many logged updates. */
	compactEvery: number;
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
	#compactScheduled = false;
	#disposed = false;
	#queue: Submission[] = [];

	private constructor(
		readonly conversationId: string,
		readonly doc: Y.Doc,
		private readonly deps: LiveDeps,
		logged: number
	) {
		this.owners = deps.log.owners(conversationId);
		this.#loggedSinceSnapshot = logged;
		this.#writer = this.#newWriter();
	}

	/** Applies the stored snapshot and update log to an empty document. */
	static load(conversationId: string, doc: Y.Doc, deps: LiveDeps): LiveConversation {
		const { updates, logged } = deps.log.load(conversationId);
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
		const live = new LiveConversation(conversationId, doc, deps, logged);
		if (logged >= deps.compactEvery) live.#scheduleCompaction();
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
			this.#noteLogged(accepted.length + (serverUpdate ? 1 : 0));
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
			const inspection = inspectUpdate(this.doc, update, userId, this.owners, pending, (id) => deps.writes.authorOf(conversationId, id));
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
				// better-sqlite3 nests this as a SAVEPOINT inside the batch's transaction.
				deps.db.$client.transaction(() => {
					deps.log.append(conversationId, update, now);
					for (const client of inspection.newClients) deps.log.bindClient(conversationId, client, userId);
					for (const value of inspection.upserts.values()) {
						const seq = deps.writes.upsert(conversationId, { ...value, authorId: userId }, now);
						if (seq !== null) sequenced.push([value.id, seq]);
					}
					for (const id of inspection.deletions) deps.writes.remove(conversationId, id, now);
				})();
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
		if (deps.writes.authorOf(conversationId, value.id) !== undefined) return 'exists';
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
		if (!serverUpdate) return deps.writes.authorOf(conversationId, value.id) === undefined ? 'conflict' : 'exists';
		Y.applyUpdate(this.doc, serverUpdate, SERVER_ORIGIN);
		this.#noteLogged(1);
		this.deps.onMessagesChanged?.(conversationId, new Set([value.author]));
		return 'created';
	}

	/** Folds everything logged so far into one snapshot. */
	compact(): void {
		this.#compactScheduled = false;
		if (this.#loggedSinceSnapshot === 0) return;
		this.deps.log.compact(this.conversationId, Y.encodeStateAsUpdate(this.doc));
		this.#loggedSinceSnapshot = 0;
	}

	/**
	 * Forgets the document as it unloads. Everything is already durable; the log is left for the
	 * next load to fold, so a REST send to an idle conversation does not re-encode the whole document.
	 */
	dispose(): void {
		this.#disposed = true;
	}

	/** Runs `write` in one SQLite transaction; a failed commit also discards the server writer's unlogged items. */
	#commit(write: () => Uint8Array | null): Uint8Array | null {
		try {
			return this.deps.db.transaction(write);
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

	#noteLogged(count: number): void {
		this.#loggedSinceSnapshot += count;
		if (this.#loggedSinceSnapshot >= this.deps.compactEvery) this.#scheduleCompaction();
	}

	#scheduleCompaction(): void {
		if (this.#compactScheduled) return;
		this.#compactScheduled = true;
		setImmediate(() => {
			if (!this.#disposed) this.compact();
		});
	}
}
