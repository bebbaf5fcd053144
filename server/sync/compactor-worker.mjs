// Folds a conversation's update log into its snapshot off the main thread: merging the stored
// updates costs time in proportion to the whole document, which would otherwise stall every
// socket. Plain JavaScript so it runs the same under tsx, vitest and vite.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import * as Y from 'yjs';

const db = new Database(workerData.file);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${workerData.synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
db.pragma('busy_timeout = 5000');

const lastUpdateId = db.prepare('select max(id) as id from doc_updates where conversation_id = ?');
const snapshot = db.prepare('select state from doc_snapshots where conversation_id = ?');
const updates = db.prepare('select "update" as "update" from doc_updates where conversation_id = ? and id <= ? order by id');
const saveSnapshot = db.prepare(
	`insert into doc_snapshots (conversation_id, state, through_update_id, updated_at) values (?, ?, ?, ?)
	 on conflict(conversation_id) do update set state = excluded.state, through_update_id = excluded.through_update_id, updated_at = excluded.updated_at`
);
const dropFolded = db.prepare('delete from doc_updates where conversation_id = ? and id <= ?');
const replace = db.transaction((conversationId, state, through) => {
	saveSnapshot.run(conversationId, state, through, Date.now());
	dropFolded.run(conversationId, through);
});

parentPort.on('message', ({ conversationId }) => {
	try {
		const through = lastUpdateId.get(conversationId)?.id ?? 0;
		const base = snapshot.get(conversationId);
		const parts = base ? [base.state] : [];
		for (const row of updates.iterate(conversationId, through)) parts.push(row.update);
		const state = Y.mergeUpdates(parts);
		replace(conversationId, Buffer.from(state.buffer, state.byteOffset, state.byteLength), through);
		parentPort.postMessage({ conversationId, ok: true, bytes: state.byteLength });
	} catch (error) {
		parentPort.postMessage({ conversationId, ok: false, error: String(error) });
	}
});
