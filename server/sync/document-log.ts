import { asc, eq, sql } from 'drizzle-orm';
import type { Db } from '../../src/lib/server/db/index.ts';
import { docClients, docSnapshots, docUpdates } from '../../src/lib/server/db/schema.ts';
import { DROP_FOLDED, LAST_UPDATE_ID, SAVE_SNAPSHOT } from './document-log-sql.mjs';

/**
 * Durable storage of conversation documents: a compacted snapshot plus the log of updates
 * accepted since. Every method is synchronous and meant to run inside the caller's transaction.
 */
export function prepareDocumentLog(db: Db) {
	const snapshot = db
		.select({ state: docSnapshots.state, through: docSnapshots.throughUpdateId })
		.from(docSnapshots)
		.where(eq(docSnapshots.conversationId, sql.placeholder('conversationId')))
		.prepare();
	const updates = db
		.select({ id: docUpdates.id, update: docUpdates.update })
		.from(docUpdates)
		.where(eq(docUpdates.conversationId, sql.placeholder('conversationId')))
		.orderBy(asc(docUpdates.id))
		.prepare();
	const append = db
		.insert(docUpdates)
		.values({ conversationId: sql.placeholder('conversationId'), update: sql.placeholder('update'), createdAt: sql.placeholder('now') })
		.returning({ id: docUpdates.id })
		.prepare();
	// Folding is the compactor worker's work too: both run the same statements.
	const lastUpdateId = db.$client.prepare<[string], { id: number | null }>(LAST_UPDATE_ID);
	const saveSnapshot = db.$client.prepare<[string, Buffer, number, number]>(SAVE_SNAPSHOT);
	const dropFolded = db.$client.prepare<[string, number]>(DROP_FOLDED);
	const owners = db
		.select({ clientId: docClients.clientId, userId: docClients.userId })
		.from(docClients)
		.where(eq(docClients.conversationId, sql.placeholder('conversationId')))
		.prepare();
	const bind = db
		.insert(docClients)
		.values({ conversationId: sql.placeholder('conversationId'), clientId: sql.placeholder('clientId'), userId: sql.placeholder('userId') })
		.prepare();

	return {
		/** The snapshot first, then every update logged after it, oldest first. */
		load(conversationId: string): { updates: Uint8Array[]; logged: number; loggedBytes: number; snapshotBytes: number } {
			const base = snapshot.get({ conversationId });
			const rows = updates.all({ conversationId });
			const list = base ? [base.state] : [];
			let loggedBytes = 0;
			for (const row of rows) {
				list.push(row.update);
				loggedBytes += row.update.byteLength;
			}
			return { updates: list, logged: rows.length, loggedBytes, snapshotBytes: base?.state.byteLength ?? 0 };
		},
		append(conversationId: string, update: Uint8Array, now = Date.now()): void {
			append.get({ conversationId, update: Buffer.from(update.buffer, update.byteOffset, update.byteLength), now });
		},
		/** Replaces the snapshot with `state` and drops the log rows it covers. */
		compact(conversationId: string, state: Uint8Array): void {
			db.transaction(() => {
				const through = lastUpdateId.get(conversationId)?.id ?? 0;
				saveSnapshot.run(conversationId, Buffer.from(state), through, Date.now());
				dropFolded.run(conversationId, through);
			}, { behavior: 'immediate' });
		},
		/**
		 * Copies the WAL into the database file and empties it, so no page image from before a deletion
		 * stays there (ERASE-2); a busy database leaves it to the next checkpoint.
		 */
		emptyWal(): void {
			db.$client.pragma('wal_checkpoint(TRUNCATE)');
		},
		owners(conversationId: string): Map<number, string | null> {
			return new Map(owners.all({ conversationId }).map((row) => [row.clientId, row.userId]));
		},
		bindClient(conversationId: string, clientId: number, userId: string | null): void {
			bind.run({ conversationId, clientId, userId });
		}
	};
}
export type DocumentLog = ReturnType<typeof prepareDocumentLog>;
