import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { RELAXED_LIMITS } from '../utils/limits.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A port free right now, so a restarted server comes back where the browsers expect it. */
export function freePort(): Promise<number> {
	return new Promise((resolve, reject) => {
		const server = createServer();
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => {
			const address = server.address();
			server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
		});
	});
}

/**
 * The app as its own process (`npm start`'s entry) on a fixed port and data directory, so it can be
 * killed with SIGKILL and started again under the same URL.
 */
export class RestartableServer {
	#child: ChildProcess | null = null;
	#exited: Promise<unknown> = Promise.resolve();
	restarts = 0;

	constructor(
		readonly port: number,
		readonly dataDir: string
	) {}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	get running(): boolean {
		return this.#child !== null;
	}

	async start(): Promise<void> {
		if (this.#child) return;
		for (let attempt = 0; ; attempt++) {
			try {
				await this.#spawn();
				return;
			} catch (error) {
				// The old process's port can take a moment to be free again.
				if (attempt >= 20) throw error;
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
		}
	}

	async kill(): Promise<void> {
		const child = this.#child;
		if (!child) return;
		this.#child = null;
		child.kill('SIGKILL');
		await this.#exited;
		this.restarts += 1;
	}

	async stop(): Promise<void> {
		const child = this.#child;
		if (!child) return;
		this.#child = null;
		child.kill('SIGTERM');
		await this.#exited;
	}

	#spawn(): Promise<void> {
		const child = spawn(process.execPath, ['--import', 'tsx', 'server/index.ts'], {
			cwd: ROOT,
			env: { ...process.env, ...RELAXED_LIMITS, PORT: String(this.port), HOST: '127.0.0.1', DATA_DIR: this.dataDir },
			stdio: ['ignore', 'pipe', 'pipe']
		});
		const exited = new Promise((resolve) => child.once('exit', resolve));
		let output = '';
		return new Promise((resolve, reject) => {
			child.stdout?.on('data', (chunk: Buffer) => {
				output += chunk.toString();
				if (this.#child !== child && /listening on/.test(output)) {
					this.#child = child;
					this.#exited = exited;
					resolve();
				}
			});
			child.stderr?.on('data', (chunk: Buffer) => {
				output += chunk.toString();
				if (process.env.CHAOS_SERVER_LOG) process.stderr.write(chunk);
			});
			void exited.then((code) => {
				if (this.#child !== child) reject(new Error(`server exited (${String(code)}) before listening:\n${output}`));
			});
		});
	}
}
