/**
 * This project: `server/index.ts` as its own process (auth, update guard, durable SQLite commits
 * before acknowledgement), with the abuse limits the bench is not measuring lifted.
 */
import { fileURLToPath } from 'node:url';
import { conversationDocName } from '../../src/lib/shared/protocol.ts';
import { RELAXED_LIMITS } from '../../tests/utils/limits.ts';
import { api, createAccount, createConversation, spawnServer, tempDataDir, type ServerProcess } from '../../tests/utils/server.ts';
import { config } from '../config.ts';
import type { MemoryReport } from '../memory-probe.ts';
import { mapLimit } from '../measure.ts';
import { removeAtExit, track } from '../processes.ts';
import { appEpochs, type Epochs } from './epochs.ts';
import { hocuspocusClient } from './hocuspocus-client.ts';
import type { System, User } from './types.ts';

/**
 * The bench signs up every user from one address, sends thousands of messages and receipts a minute
 * and holds thousands of sockets per user: far past the abuse limits it is not measuring. These go
 * in the spawned server's own environment (spawnServer puts RELAXED_LIMITS over process.env).
 */
const ENV: Record<string, string> = {
	...RELAXED_LIMITS,
	LIMIT_MESSAGES: '100000000/m',
	LIMIT_STATELESS: '100000000/m',
	LIMIT_SOCKETS_PER_USER: '1000000',
	LIMIT_GROUPS_CREATED: '100000000/m',
	LIMIT_MEMBERS_ADDED: '100000000/m',
	SQLITE_SYNCHRONOUS: process.env.SQLITE_SYNCHRONOUS ?? 'FULL'
};

export interface AppSystem extends System {
	url: string;
	dataDir: string;
	/** SIGTERM, then the same server again on the same data directory. */
	restart(): Promise<void>;
	addMember(conversationId: string, by: User, user: User): Promise<void>;
	/** What the devices know of the conversations' epochs, and the REST side of them. */
	epochs: Epochs;
	/** What the server process holds after a full garbage collection (bench/memory-probe.ts). */
	memory(): Promise<MemoryReport>;
}

const MEMORY_PROBE = fileURLToPath(new URL('../memory-probe.ts', import.meta.url));

async function spawn(dataDir: string): Promise<ServerProcess> {
	const execArgv = ['--expose-gc', '--import', MEMORY_PROBE, ...(config.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${config.profileDir}`] : [])];
	const server = await spawnServer(dataDir, { env: ENV, execArgv, ipc: true });
	track(server.child);
	// The server's own complaints belong in the bench output.
	server.child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
	return server;
}

export async function startApp(): Promise<AppSystem> {
	const data = tempDataDir();
	const cleanup = removeAtExit(data.remove);
	let server = await spawn(data.dir);
	const epochs = appEpochs(() => server.url);
	const pool: User[] = [];
	return {
		name: 'app',
		get pid() {
			return server.child.pid!;
		},
		get url() {
			return server.url;
		},
		dataDir: data.dir,
		epochs,
		async users(n) {
			// Sign-ups hash passwords (scrypt): a few at a time keeps both cores busy.
			const start = pool.length;
			const more = Array.from({ length: Math.max(0, n - start) }, (_, i) => `bench_${start + i}`);
			pool.push(...(await mapLimit(more, 4, (username) => createAccount(server.url, username))));
			return pool.slice(0, n);
		},
		conversation: ([owner, ...others]) => createConversation(server.url, owner!, others, 'Bench'),
		async addMember(conversationId, by, user) {
			const response = await api(server.url, `/api/conversations/${conversationId}/members`, { token: by.token, body: { members: [user.username] } });
			if (response.status !== 200) throw new Error(`adding a member failed: ${JSON.stringify(response.body)}`);
		},
		connect: (user, counter) => hocuspocusClient({ wsUrl: server.wsUrl, docName: conversationDocName, ack: 'seq', epochs }, user, counter),
		memory() {
			const child = server.child;
			return new Promise((resolve, reject) => {
				const settle = (error: Error | null, report?: MemoryReport) => {
					clearTimeout(timer);
					child.off('message', answer);
					if (error) reject(error);
					else resolve(report!);
				};
				const answer = (message: MemoryReport) => {
					if (message?.type === 'memory') settle(null, message);
				};
				const timer = setTimeout(() => settle(new Error('the memory probe did not answer')), 10_000);
				child.on('message', answer);
				if (!child.connected) return settle(new Error('the server is gone'));
				child.send('memory', (error) => error && settle(error));
			});
		},
		async restart() {
			await server.kill('SIGTERM');
			server = await spawn(data.dir);
		},
		async stop() {
			await server.kill('SIGTERM');
			cleanup.done();
		}
	};
}
