import { createServer } from 'node:net';
import { spawnServer, type ServerProcess } from '../utils/server.ts';

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
 * The app as its own process (`npm start`'s entry, through spawnServer) on a fixed port and data
 * directory, so it can be killed with SIGKILL and started again under the same URL.
 */
export class RestartableServer {
	#process: ServerProcess | null = null;
	restarts = 0;

	constructor(
		readonly port: number,
		readonly dataDir: string,
		/** The server's configuration (e.g. small epochs, so the chaos crosses several). */
		readonly env: Record<string, string> = {}
	) {}

	get url(): string {
		return `http://127.0.0.1:${this.port}`;
	}

	get running(): boolean {
		return this.#process !== null;
	}

	async start(): Promise<void> {
		if (this.#process) return;
		for (let attempt = 0; ; attempt++) {
			try {
				this.#process = await spawnServer(this.dataDir, { port: this.port, env: this.env });
				if (process.env.CHAOS_SERVER_LOG) this.#process.child.stderr?.pipe(process.stderr);
				return;
			} catch (error) {
				// The old process's port can take a moment to be free again.
				if (attempt >= 20) throw error;
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
		}
	}

	async kill(): Promise<void> {
		const child = this.#process;
		if (!child) return;
		this.#process = null;
		await child.kill('SIGKILL');
		this.restarts += 1;
	}

	async stop(): Promise<void> {
		const child = this.#process;
		if (!child) return;
		this.#process = null;
		await child.kill('SIGTERM');
	}
}
