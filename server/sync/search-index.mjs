// Indexes the messages waiting in `fts_pending` (drizzle/0006_search_queue.sql) in one transaction:
// one FTS5 segment for the whole batch instead of one per commit. Used by the compaction worker
// every second and by a search before it runs. Plain JavaScript, like the worker.

/** Rows indexed per call at most; the rest wait for the next one. */
const BATCH = 5000;

/**
 * @param {import('better-sqlite3').Database} db
 * @returns {number} how many messages were indexed
 */
export function indexPending(db) {
	const run = db.transaction(() => {
		const pending = /** @type {Array<{ id: number }>} */ (db.prepare('select message_rowid as id from fts_pending order by message_rowid limit ?').all(BATCH));
		if (pending.length === 0) return 0;
		const last = /** @type {{ id: number }} */ (pending[pending.length - 1]).id;
		db.prepare(
			`insert into messages_fts (rowid, body, conversation_id, message_id)
			select m.rowid, m.body, m.conversation_id, m.id from fts_pending p join messages m on m.rowid = p.message_rowid
			where p.message_rowid <= ? and m.deleted_at is null and m.event is null`
		).run(last);
		db.prepare('delete from fts_pending where message_rowid <= ?').run(last);
		return pending.length;
	});
	// IMMEDIATE: the write lock first, so the read and the writes see one state (the worker and a search may both run this).
	return run.immediate();
}
