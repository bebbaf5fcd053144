/**
 * npm run platform -- add <id> [--name "Campus market"] [--origin https://market.example]...
 *                                                         registers a host platform, prints its secret once;
 *                                                         its origins may frame the chat (frame-ancestors)
 * npm run platform -- list                                the registered platforms (no secrets)
 * npm run platform -- remove <id>                         unregisters one (its users and contexts stay)
 *
 * Uses DATA_DIR like the server. The secret signs the platform's sign-in tokens (HS256) and
 * authenticates its server's calls (Basic <id>:<secret>); keep it out of git (docs/platforms.md).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { migrateDatabase, openDatabase } from '../src/lib/server/db/index.ts';
import { listPlatforms, registerPlatform, removePlatform } from '../src/lib/server/platforms.ts';
import { loadConfig } from './config.ts';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { name: { type: 'string' }, origin: { type: 'string', multiple: true } } });
const [command, id] = positionals;
const config = loadConfig();
mkdirSync(config.dataDir, { recursive: true });
const db = openDatabase(join(config.dataDir, 'chat.sqlite'), config.synchronous);
migrateDatabase(db, fileURLToPath(new URL('../drizzle', import.meta.url)));

try {
	if (command === 'add' && id) {
		const platform = registerPlatform(db, id, values.name ?? id, values.origin ?? []);
		console.log(`platform ${platform.id} ("${platform.name}") registered${values.origin?.length ? `; its pages at ${(JSON.parse(platform.origins) as string[]).join(', ')} may frame the chat` : ''}.`);
		console.log(`secret: ${platform.secret}`);
		console.log('Keep it on the platform\'s server only; it is not shown again.');
	} else if (command === 'list') {
		for (const platform of listPlatforms(db)) console.log(`${platform.id}\t${platform.name}\t${(JSON.parse(platform.origins) as string[]).join(' ') || '-'}\t${new Date(platform.createdAt).toISOString()}`);
	} else if (command === 'remove' && id) {
		console.log(removePlatform(db, id) ? `platform ${id} removed.` : `no platform ${id}.`);
	} else {
		console.error('usage: npm run platform -- add <id> [--name NAME] [--origin URL]... | list | remove <id>');
		process.exitCode = 2;
	}
} catch (error) {
	console.error((error as Error).message);
	process.exitCode = 1;
} finally {
	db.$client.close();
}
