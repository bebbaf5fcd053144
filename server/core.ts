import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { migrateDatabase, openDatabase, type Db } from '../src/lib/server/db/index.ts';
import { createLimiters } from '../src/lib/server/limiters.ts';
import { setRuntime } from '../src/lib/server/runtime.ts';
import { Uploads } from '../src/lib/server/uploads.ts';
import { reportFailure } from '../src/lib/server/failure.ts';
import type { Config } from './config.ts';
import { Compactor } from './sync/compactor.ts';
import { createSyncServer, type SyncServer } from './sync/sync-server.ts';

const MIGRATIONS = fileURLToPath(new URL('../drizzle', import.meta.url));

/** How often uploads nobody attached are looked for (ATTACH-5). */
const SWEEP_EVERY_MS = 60 * 60 * 1000;

export interface Core {
	db: Db;
	sync: SyncServer;
	uploads: Uploads;
	/** Stops the sync server and the worker, then closes the database (its last checkpoint removes the WAL). */
	close(): Promise<void>;
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
	const uploads = new Uploads(db, config.dataDir, config.uploads);
	const sweep = () => void uploads.sweep().catch((error: unknown) => reportFailure('removing unattached uploads failed', error));
	sweep();
	const sweeper = setInterval(sweep, SWEEP_EVERY_MS);
	sweeper.unref();
	const sync = createSyncServer({ db, sessionDays: config.sessionDays, compactor, limits: config.limits, messageBudget: limiters.messages, lingerMs: config.documentLingerMs, epochLimits: config.epochLimits, uploads });
	setRuntime({
		db,
		live: sync.live,
		limiters,
		uploads,
		config: {
			sessionDays: config.sessionDays,
			allowedOrigins: config.allowedOrigins,
			secureCookies: config.secureCookies,
			trustProxy: config.trustProxy,
			limits: config.limits,
			adminUsernames: config.adminUsernames
		}
	});
	let closed = false;
	return {
		db,
		sync,
		uploads,
		async close() {
			if (closed) return;
			closed = true;
			clearInterval(sweeper);
			sync.stop();
			for (const conversation of sync.conversations.values()) conversation.dispose();
			setRuntime(undefined);
			// The worker's connection first (DUR-6): the main one's close is then the last, and SQLite
			// empties the WAL into the database and removes it. Closed the other way round, a WAL of up
			// to 64 MB stayed for the next start to recover.
			await compactor.close();
			db.$client.close();
		}
	};
}
