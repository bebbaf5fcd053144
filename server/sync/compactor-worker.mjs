// Folds a conversation's update log into its snapshot off the main thread: merging the stored
// updates costs time in proportion to the whole document, which would otherwise stall every
// socket. It also checkpoints the WAL into the database file (DUR-5): copying pages back and
// syncing the file would otherwise happen inside whichever commit crossed the WAL's size limit.
// Folding goes through a garbage-collected Y.Doc, not Y.mergeUpdates (which keeps deleted content):
// the snapshot holds no replaced or deleted value (ERASE-1), and after a deletion the WAL is
// truncated so no old page image keeps it either (ERASE-2).
// Plain JavaScript so it runs the same under tsx, vitest and vite.
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import * as Y from 'yjs';
import { configureConnection } from '../../src/lib/server/db/connection.mjs';
import { DROP_FOLDED, LAST_UPDATE_ID, SAVE_SNAPSHOT, SNAPSHOT, UPDATES_THROUGH } from './document-log-sql.mjs';
import { indexPending } from './search-index.mjs';

const db = new Database(workerData.file);
configureConnection(db, workerData.synchronous);

const epochOf = db.prepare('select epoch from conversations where id = ?');
const lastUpdateId = db.prepare(LAST_UPDATE_ID);
const snapshot = db.prepare(SNAPSHOT);
const updates = db.prepare(UPDATES_THROUGH);
const saveSnapshot = db.prepare(SAVE_SNAPSHOT);
const dropFolded = db.prepare(DROP_FOLDED);
const isCurrent = (conversationId, epoch) => epochOf.get(conversationId)?.epoch === epoch;

// One read transaction: the snapshot and the log it reads belong to the same epoch.
const read = db.transaction((conversationId, epoch) => {
	if (!isCurrent(conversationId, epoch)) return null;
	const through = lastUpdateId.get(conversationId)?.id ?? 0;
	const base = snapshot.get(conversationId);
	const parts = base ? [base.state] : [];
	for (const row of updates.iterate(conversationId, through)) parts.push(row.update);
	return { parts, through };
});
// The epoch may have ended while the log was being merged: its rows are gone, and this state must
// not become the next epoch's snapshot (EPOCH-2). Run IMMEDIATE: a deferred transaction that reads
// first and then writes fails at once with "database is locked" (no busy wait) when the main
// thread committed in between, which the erasure's prompt folds made common.
const replace = db.transaction((conversationId, epoch, state, through) => {
	if (!isCurrent(conversationId, epoch)) return false;
	saveSnapshot.run(conversationId, state, through, Date.now());
	dropFolded.run(conversationId, through);
	return true;
});

/** The document the parts make, garbage-collected: deleted and replaced values leave no content. */
function foldOf(parts) {
	const doc = new Y.Doc();
	for (const part of parts) Y.applyUpdate(doc, part);
	const state = Y.encodeStateAsUpdate(doc);
	doc.destroy();
	return state;
}

/** Set when a fold erased something: the next checkpoint also empties the WAL file. */
let truncateWanted = false;
let lastTruncate = 0;
const TRUNCATE_EVERY_MS = 3000;
/**
 * A WAL this long (pages: 64 MB) is started over (DUR-6). A PASSIVE checkpoint copies pages but
 * never starts the file over: only a writer does, once every page was copied, and under a steady
 * stream of commits a page is always appended first. The file then grew without end (tens of
 * megabytes a minute), and so did its index, mapped into memory, and the recovery after a restart.
 */
const WAL_LIMIT_PAGES = workerData.walLimitPages ?? 16384;

/**
 * PASSIVE: copies what it can without waiting for (or blocking) the main thread's writes. After an
 * erasure, TRUNCATE: the WAL still holds images of pages from before the deletion until it is
 * emptied (a busy database leaves it for the next tick). Once the WAL is long, RESTART.
 */
function checkpoint() {
	try {
		// New messages into the search index, a second's worth in one segment (SEARCH-1).
		indexPending(db);
	} catch (error) {
		parentPort.postMessage({ checkpointFailed: `search indexing: ${String(error)}` });
	}
	try {
		// PASSIVE first: it copies what it can without holding anyone up, so the TRUNCATE after it (which
		// holds new writes back until it is done) has little left to copy. At most one TRUNCATE every
		// few seconds, however many deletions come. A long WAL is started over with RESTART, which
		// holds writes back for as long: the limit is high enough for that to happen only to a WAL
		// that the steady commits of a busy server never let start over by itself.
		const [passive] = db.pragma('wal_checkpoint(PASSIVE)');
		if (truncateWanted && Date.now() - lastTruncate >= TRUNCATE_EVERY_MS) {
			lastTruncate = Date.now();
			const [result] = db.pragma('wal_checkpoint(TRUNCATE)');
			if (result && result.busy === 0) truncateWanted = false;
		} else if ((passive?.log ?? 0) >= WAL_LIMIT_PAGES) {
			// The next write starts the file over (it keeps its size: the bound is what matters).
			db.pragma('wal_checkpoint(RESTART)');
		}
	} catch (error) {
		parentPort.postMessage({ checkpointFailed: String(error) });
	}
}

let checkpoints;

parentPort.on('message', (message) => {
	if (message.checkpointEveryMs) {
		checkpoints = setInterval(checkpoint, message.checkpointEveryMs);
		return;
	}
	if (message.close) {
		// Stopping: with this connection closed, the main connection's close is the last, and SQLite
		// checkpoints and removes the WAL then (a terminated worker's connection may outlive the process's exit).
		clearInterval(checkpoints);
		db.close();
		parentPort.postMessage({ closed: true });
		return;
	}
	if (message.truncate) {
		truncateWanted = true;
		return;
	}
	const { conversationId, epoch } = message;
	try {
		const stored = read(conversationId, epoch);
		const state = stored && foldOf(stored.parts);
		const saved = state !== null && replace.immediate(conversationId, epoch, Buffer.from(state.buffer, state.byteOffset, state.byteLength), stored.through);
		if (saved && message.erase) truncateWanted = true;
		parentPort.postMessage(saved ? { conversationId, epoch, ok: true, bytes: state.byteLength } : { conversationId, epoch, ok: false, ended: true });
	} catch (error) {
		parentPort.postMessage({ conversationId, epoch, ok: false, error: String(error) });
	}
});
