import Database from 'better-sqlite3';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { configureConnection } from './connection.mjs';
import * as schema from './schema.ts';
import { cacheStatements } from './statement-cache.ts';

export type Db = BetterSQLite3Database<typeof schema> & { $client: Database.Database };

export type Synchronous = 'FULL' | 'NORMAL';

/** Opens the database set up as every connection to it is (connection.mjs), its statements cached. */
export function openDatabase(file: string, synchronous: Synchronous = 'FULL'): Db {
	const sqlite = new Database(file);
	configureConnection(sqlite, synchronous);
	cacheStatements(sqlite);
	return drizzle(sqlite, { schema }) as Db;
}

export function migrateDatabase(db: Db, migrationsFolder: string): void {
	migrate(db, { migrationsFolder });
}

export { schema };
