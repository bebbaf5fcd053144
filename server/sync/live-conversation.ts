import * as Y from 'yjs';
import type { Db } from '../../src/lib/server/db/index.ts';
import type { MessageWrites } from '../../src/lib/server/messages.ts';
import { DOC_MESSAGES, DOC_SEQ, type MessageValue } from '../../src/lib/shared/protocol.ts';
import type { DocumentLog } from './document-log.ts';
import { inspectUpdate, type ClientOwners, type Inspection } from './update-guard.ts';

/** Transaction origin of the updates the server writes itself (sequence numbers, REST sends). */
export const SERVER_ORIGIN = 'server';

export interface LiveDeps {
	db: Db;
	log: DocumentLog;
	writes: MessageWrites;
	isMember(conversationId: string, userId: string): boolean;
	/** Fold the update log into a snapshot after this many logged updates. */
	compactEvery: number;
}

export class NotAMemberError extends Error {}

export type AcceptResult = Exclude<Inspection, { ok: true }> | { ok: true; stored: boolean };

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
			for (const update of updates) Y.applyUpdate(doc, update);
		});
		const live = new LiveConversation(conversationId, doc, deps, logged);
		if (logged >= deps.compactEvery) live.#scheduleCompaction();
		return live;
	}

	/**
	 * Checks a client's update, commits it with its message rows and sequence numbers, then applies
	 * it. Refused updates touch nothing.
	 */
	acceptClientUpdate(update: Uint8Array, userId: string, origin: unknown): AcceptResult {
		const inspection = inspectUpdate(this.doc, update, userId, this.owners);
		if (!inspection.ok) return inspection;
		if (!inspection.hasNewContent) return { ok: true, stored: false };

		const now = Date.now();
		const { conversationId, deps } = this;
		const serverUpdate = this.#commit(() => {
			if (!deps.isMember(conversationId, userId)) throw new NotAMemberError();
			deps.log.append(conversationId, update, now);
			for (const client of inspection.newClients) deps.log.bindClient(conversationId, client, userId);
			const sequenced: Array<[string, number]> = [];
			for (const value of inspection.upserts.values()) {
				const seq = deps.writes.upsert(conversationId, { ...value, authorId: userId }, now);
				if (seq !== null) sequenced.push([value.id, seq]);
			}
			for (const id of inspection.deletions) deps.writes.remove(conversationId, id, now);
			if (sequenced.length === 0) return null;
			return this.#serverWrite(now, (writer) => {
				const seqMap = writer.getMap<number>(DOC_SEQ);
				for (const [id, seq] of sequenced) seqMap.set(id, seq);
			});
		});
		for (const client of inspection.newClients) this.owners.set(client, userId);

		Y.applyUpdate(this.doc, update, origin);
		if (serverUpdate) Y.applyUpdate(this.doc, serverUpdate, SERVER_ORIGIN);
		this.#noteLogged(serverUpdate ? 2 : 1);
		return { ok: true, stored: true };
	}

	/**
	 * Stores a message on behalf of its author (REST sends, bots) and puts it into the document.
	 * Returns false when a message with this id already exists, in which case nothing changes.
	 */
	sendFromServer(value: MessageValue): boolean {
		const now = Date.now();
		const { conversationId, deps } = this;
		const serverUpdate = this.#commit(() => {
			const seq = deps.writes.upsertNew(conversationId, { ...value, authorId: value.author }, now);
			if (seq === null) return null;
			return this.#serverWrite(now, (writer) => {
				writer.getMap<MessageValue>(DOC_MESSAGES).set(value.id, value);
				writer.getMap<number>(DOC_SEQ).set(value.id, seq);
			});
		});
		if (!serverUpdate) return false;
		Y.applyUpdate(this.doc, serverUpdate, SERVER_ORIGIN);
		this.#noteLogged(1);
		return true;
	}

	/** Folds everything logged so far into one snapshot. */
	compact(): void {
		this.#compactScheduled = false;
		if (this.#loggedSinceSnapshot === 0) return;
		this.deps.log.compact(this.conversationId, Y.encodeStateAsUpdate(this.doc));
		this.#loggedSinceSnapshot = 0;
	}

	/** Stores what is pending and forgets the document; called as it unloads. */
	dispose(): void {
		if (this.#disposed) return;
		this.compact();
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
