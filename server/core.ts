import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateDatabase, openDatabase, type Db } from '../src/lib/server/db/index.ts';
import { createLimiters } from '../src/lib/server/limiters.ts';
import { setRuntime } from '../src/lib/server/runtime.ts';
import type { Config } from './config.ts';
import { Compactor } from './sync/compactor.ts';
import { createSyncServer, type SyncServer } from './sync/sync-server.ts';

const MIGRATIONS = fileURLToPath(new URL('../drizzle', import.meta.url));

export interface Core {
	db: Db;
	sync: SyncServer;
	close(): void;
}

/** The database (migrated), the sync server, and the runtime that HTTP routes read. */
export function startCore(config: Config): Core {
	mkdirSync(config.dataDir, { recursive: true });
	const file = join(config.dataDir, 'chat.sqlite');
	const db = openDatabase(file, config.synchronous);
	migrateDatabase(db, MIGRATIONS);
	const compactor = new Compactor(file, config.synchronous);
	compactor.takeOverCheckpoints(db.$client);
	// Made before the sync server, so the socket can draw on the same per-user message budget as REST.
	const limiters = createLimiters(config.limits);
	// One message budget per user, whichever path (REST or the socket) the messages take.
	const sync = createSyncServer({ db, sessionDays: config.sessionDays, compactor, limits: config.limits, messageBudget: limiters.messages, lingerMs: config.documentLingerMs, epochLimits: config.epochLimits });
	setRuntime({
		db,
		live: sync.live,
		limiters,
		config: {
			sessionDays: config.sessionDays,
			allowedOrigins: config.allowedOrigins,
			secureCookies: config.secureCookies,
			trustProxy: config.trustProxy,
			limits: config.limits
		}
	});
	let closed = false;
	return {
		db,
		sync,
		close() {
			if (closed) return;
			closed = true;
			sync.stop();
			for (const conversation of sync.conversations.values()) conversation.dispose();
			setRuntime(undefined);
			void compactor.close();
			db.$client.close();
		}
	};
}
