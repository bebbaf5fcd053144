import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import * as schema from './schema.ts';
import { cacheStatements } from './statement-cache.ts';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export type Synchronous = 'FULL' | 'NORMAL';

/**
 * Opens the database in WAL mode. With synchronous=FULL every commit is fsynced before it
 * returns, which is what lets the sync server call a message "sent" right after the commit.
 */
export function openDatabase(file: string, synchronous: Synchronous = 'FULL'): Db {
	const sqlite = new Database(file);
	sqlite.pragma('journal_mode = WAL');
	sqlite.pragma(`synchronous = ${synchronous}`);
	sqlite.pragma('foreign_keys = ON');
	sqlite.pragma('busy_timeout = 5000');
	// Deleted rows and freed pages are overwritten with zeros: a message deleted for everyone leaves no body behind (ERASE-2).
	sqlite.pragma('secure_delete = ON');
	cacheStatements(sqlite);
	return drizzle(sqlite, { schema }) as Db;
}

export function migrateDatabase(db: Db, migrationsFolder: string): void {
	migrate(db, { migrationsFolder });
}

export { schema };
