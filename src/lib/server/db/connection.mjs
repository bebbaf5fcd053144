// How every connection to the chat's database is set up: the main one (db/index.ts) and the
// compactor's on its worker thread (server/sync/compactor-worker.mjs). Plain JavaScript so the
// worker, which runs without the TypeScript loader, reads the same file.

/**
 * WAL mode; synchronous FULL (every commit fsynced before it returns, which is what lets the sync
 * server call a message "sent" right after the commit) unless NORMAL is asked for; foreign keys;
 * a wait for the other connection's short writes; and deleted rows and freed pages overwritten
 * with zeros, so a message deleted for everyone leaves no body behind (ERASE-2).
 * @param {import('better-sqlite3').Database} sqlite
 * @param {'FULL' | 'NORMAL'} synchronous
 */
export function configureConnection(sqlite, synchronous) {
	sqlite.pragma('journal_mode = WAL');
	sqlite.pragma(`synchronous = ${synchronous === 'NORMAL' ? 'NORMAL' : 'FULL'}`);
	sqlite.pragma('foreign_keys = ON');
	sqlite.pragma('busy_timeout = 5000');
	sqlite.pragma('secure_delete = ON');
}
