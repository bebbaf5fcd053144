import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { reportFailure } from '../../src/lib/server/failure.ts';

type Done = (result: { ok: true; bytes: number } | { ok: false }) => void;

/** One fold at a time per epoch of a conversation: a new epoch's fold does not wait for the old one's. */
const waitingKey = (conversationId: string, epoch: number) => `${conversationId}@${epoch}`;

function workerPath(): string | null {
	const beside = fileURLToPath(new URL('./compactor-worker.mjs', import.meta.url));
	if (existsSync(beside)) return beside;
	// Under a bundler (vite's config loader) this module no longer sits beside the worker.
	const fromRoot = resolve('server/sync/compactor-worker.mjs');
	return existsSync(fromRoot) ? fromRoot : null;
}

/**
 * Compaction on a worker thread with its own SQLite connection: one request per conversation at a
 * time; `available` is false when no worker could be started (callers then compact in place).
 */
export class Compactor {
	#worker: Worker | null = null;
	#waiting = new Map<string, Done>();

	constructor(file: string, synchronous: string, options: { walLimitPages?: number } = {}) {
		const path = workerPath();
		if (!path) return;
		try {
			// Plain JavaScript: none of the process's loaders or preloads (tsx, a test probe), which a
			// worker would otherwise inherit and could fail to start with.
			this.#worker = new Worker(path, { workerData: { file, synchronous, walLimitPages: options.walLimitPages }, execArgv: [] });
		} catch (error) {
			reportFailure('compaction runs on the main thread: no worker', error);
			return;
		}
		this.#worker.unref();
		this.#worker.on('message', (message: { conversationId: string; epoch: number; ok: boolean; bytes?: number; error?: string; ended?: true; checkpointFailed?: string; closed?: true }) => {
			if (message.checkpointFailed) return reportFailure(`WAL checkpoint failed: ${message.checkpointFailed}`);
			if (message.closed) return;
			const key = waitingKey(message.conversationId, message.epoch);
			const done = this.#waiting.get(key);
			this.#waiting.delete(key);
			if (!message.ok && !message.ended) reportFailure(`compaction of ${message.conversationId} failed: ${message.error}`);
			done?.(message.ok ? { ok: true, bytes: message.bytes ?? 0 } : { ok: false });
		});
		this.#worker.on('error', (error) => {
			reportFailure('compaction worker failed', error);
			this.#worker = null;
			this.#onLost?.();
			for (const done of this.#waiting.values()) done({ ok: false });
			this.#waiting.clear();
		});
	}

	/** Called if the worker dies: whatever it took over goes back to the main thread. */
	#onLost: (() => void) | undefined;

	/**
	 * Takes the WAL checkpoints off `db`'s connection (DUR-5): SQLite's automatic checkpoint runs
	 * inside the commit that fills the WAL, stalling every socket for the time it takes to copy and
	 * sync the pages; the worker checkpoints every `everyMs` instead. Without a worker, or if it
	 * dies, the automatic checkpoint stays (or comes back).
	 */
	takeOverCheckpoints(db: { pragma(source: string): unknown }, everyMs = 1000): void {
		if (!this.#worker) return;
		db.pragma('wal_autocheckpoint = 0');
		this.#onLost = () => {
			try {
				db.pragma('wal_autocheckpoint = 1000');
			} catch {
				// The database is closing as well.
			}
		};
		this.#worker.postMessage({ checkpointEveryMs: everyMs });
	}

	get available(): boolean {
		return this.#worker !== null;
	}

	/**
	 * Asks for the log of the conversation's epoch to be folded (nothing happens once that epoch has
	 * ended); false when one is already under way (or no worker). `erase`: a message was deleted, so
	 * the WAL is emptied at the next checkpoint too (ERASE-2).
	 */
	request(conversationId: string, epoch: number, done: Done, { erase = false } = {}): boolean {
		const key = waitingKey(conversationId, epoch);
		if (!this.#worker || this.#waiting.has(key)) return false;
		this.#waiting.set(key, done);
		this.#worker.postMessage({ conversationId, epoch, erase });
		return true;
	}

	/** The WAL is emptied at the next checkpoint (an epoch holding a deletion ended before its fold, ERASE-2). */
	emptyWalSoon(): void {
		this.#worker?.postMessage({ truncate: true });
	}

	/** Closes the worker's connection, then the worker (at most `graceMs` later, whatever it is doing). */
	async close(graceMs = 1000): Promise<void> {
		const worker = this.#worker;
		this.#worker = null;
		if (!worker) return;
		const closed = new Promise<void>((resolve) => {
			const timer = setTimeout(resolve, graceMs);
			worker.on('message', (message: { closed?: true }) => {
				if (!message.closed) return;
				clearTimeout(timer);
				resolve();
			});
			worker.on('exit', () => resolve());
		});
		worker.postMessage({ close: true });
		await closed;
		await worker.terminate();
	}
}
