// The SQL of folding a conversation's update log into its snapshot, shared by the main thread
// (document-log.ts, when there is no worker) and the compactor's worker (compactor-worker.mjs).
// Plain JavaScript so the worker, which runs without the TypeScript loader, reads the same file.

/** The newest logged update of a conversation: a fold covers the log up to it. */
export const LAST_UPDATE_ID = 'select max(id) as id from doc_updates where conversation_id = ?';

/** The conversation's snapshot, if it has one. */
export const SNAPSHOT = 'select state from doc_snapshots where conversation_id = ?';

/** The log up to a fold's last update, oldest first. */
export const UPDATES_THROUGH = 'select "update" as "update" from doc_updates where conversation_id = ? and id <= ? order by id';

/** The new snapshot: (conversation, state, through update id, now). */
export const SAVE_SNAPSHOT = `insert into doc_snapshots (conversation_id, state, through_update_id, updated_at) values (?, ?, ?, ?)
	on conflict(conversation_id) do update set state = excluded.state, through_update_id = excluded.through_update_id, updated_at = excluded.updated_at`;

/** The log rows the new snapshot covers: (conversation, through update id). */
export const DROP_FOLDED = 'delete from doc_updates where conversation_id = ? and id <= ?';
