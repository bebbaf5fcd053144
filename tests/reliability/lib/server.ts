import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FAILURE_MARKER } from '../../../src/lib/server/failure.ts';
import { spawnServer, tempDataDir, type ServerProcess } from '../../utils/server.ts';
import { PROBE_MARKER } from './probe-marker.ts';

const PROBE = fileURLToPath(new URL('./probe.ts', import.meta.url));

export interface LoopStats {
	/** Longest event-loop block, wall clock. */
	maxMs: number;
	/** Most CPU time used between two firings of a 2 ms timer: the longest uninterrupted server work. */
	maxCpuMs: number;
	p99Ms: number;
	meanMs: number;
	samples: number;
}

/** What the server wrote that a run must look at, counted as it streams (the log itself is not kept). */
export interface LogCounts {
	/** Uncaught exceptions and unhandled rejections (the probe's marker lines). */
	uncaught: number;
	/** A live document rebuilt because an accepted update did not apply or a commit failed (GUARD-4). */
	reloads: number;
	/** Stored log rows a load skipped (GUARD-4). */
	skippedStored: number;
	/** Every other failure the server reported of its own (a failed commit, roll-over, compaction, checkpoint, REST handler, a worker that did not start). */
	failures: number;
	/** The first few such lines, to print. */
	samples: string[];
}

/**
 * The server's log as a run judges it, one line at a time. Every count is a violation: an uncaught
 * error; a rebuilt document (the guard accepted an update that did not apply, or a commit failed);
 * a stored update a load had to skip (the guard let something in that cannot be read back); any
 * other failure the server reports (`reportFailure`).
 */
export class ServerLog {
	readonly counts: LogCounts = { uncaught: 0, reloads: 0, skippedStored: 0, failures: 0, samples: [] };
	/** Lines still to keep of the stack trace under a noted line. */
	#traceLines = 0;

	scan(line: string): void {
		if (this.#traceLines > 0 && /^\s+at /.test(line)) {
			this.#traceLines -= 1;
			this.note(line);
			return;
		}
		this.#traceLines = 0;
		if (line.includes(PROBE_MARKER)) {
			// The probe marks every uncaught exception and unhandled rejection, exactly once.
			this.counts.uncaught += 1;
			this.note(line);
			if (this.counts.uncaught <= 2) this.#traceLines = 8;
		} else if (/Unhandled|uncaught/i.test(line)) {
			this.note(line); // the message the probe counted, or worth reading beside it
		} else if (line.includes('no longer matches the database')) {
			this.counts.reloads += 1;
			this.note(line);
			if (this.counts.reloads <= 2) this.#traceLines = 8;
		} else if (line.includes('skipped a stored update')) {
			this.counts.skippedStored += 1;
			this.note(line);
		} else if (line.includes(FAILURE_MARKER)) {
			this.counts.failures += 1;
			this.note(line);
			if (this.counts.failures <= 2) this.#traceLines = 8;
		}
	}

	note(line: string): void {
		if (this.counts.samples.length < 40) this.counts.samples.push(line.slice(0, 500));
	}

	violations(): string[] {
		const { uncaught, reloads, skippedStored, failures } = this.counts;
		const found: string[] = [];
		if (uncaught > 0) found.push(`${uncaught} uncaught exceptions or unhandled rejections in the server log`);
		if (reloads > 0) found.push(`${reloads} documents stopped matching the database (GUARD-4 reloads)`);
		if (skippedStored > 0) found.push(`${skippedStored} stored updates could not be loaded back (GUARD-4 skips)`);
		if (failures > 0) found.push(`${failures} other failures reported by the server`);
		return found;
	}
}

/**
 * Extra Node flags for the server process, from `RELIABILITY_SERVER_NODE_ARGS` (space-separated),
 * e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where a run's server time goes.
 */
function serverNodeArgs(): string[] {
	return (process.env.RELIABILITY_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
}

/**
 * The real server as its own process on loopback, with the probe loaded: restarts keep the port
 * (providers reconnect by themselves), every exit we did not ask for counts as a crash, and the
 * log is scanned for uncaught errors and document reloads.
 */
export class ServerUnderTest {
	readonly data = tempDataDir();
	readonly #log = new ServerLog();
	crashes = 0;
	restarts = 0;
	#process!: ServerProcess;
	#port = 0;
	#expectingExit = false;
	#pending = new Map<string, (value: unknown) => void>();

	private constructor(private readonly env: Record<string, string>) {}

	static async start(env: Record<string, string> = {}): Promise<ServerUnderTest> {
		const server = new ServerUnderTest(env);
		await server.#spawn();
		return server;
	}

	/** What the log showed so far. */
	get log(): LogCounts {
		return this.#log.counts;
	}

	/** Everything about the server process that breaks a run's properties: exits of its own, and the log's violations. */
	violations(): string[] {
		const found = this.#log.violations();
		if (this.crashes > 0) found.unshift(`the server exited by itself ${this.crashes} times`);
		return found;
	}

	get url(): string {
		return this.#process.url;
	}

	get wsUrl(): string {
		return this.#process.wsUrl;
	}

	get alive(): boolean {
		return this.#process.child.exitCode === null && this.#process.child.signalCode === null;
	}

	async #spawn(): Promise<void> {
		// A port freed by a killed process can be taken by someone else for a moment: retry briefly.
		for (let attempt = 0; ; attempt++) {
			try {
				const execArgv = ['--import', PROBE, ...serverNodeArgs()];
				this.#process = await spawnServer(this.data.dir, { port: this.#port, env: this.env, execArgv, ipc: true });
				break;
			} catch (error) {
				if (attempt >= 20 || !/EADDRINUSE/.test(String(error))) throw error;
				await new Promise((resolve) => setTimeout(resolve, 100));
			}
		}
		this.#port = Number(new URL(this.#process.url).port);
		const child = this.#process.child;
		// A run that stops early (its time limit, an error) takes its server with it.
		const killOnExit = () => child.kill('SIGKILL');
		process.once('exit', killOnExit);
		void this.#process.exited.then(() => process.off('exit', killOnExit));
		let partial = '';
		child.stderr?.on('data', (chunk: Buffer) => {
			const lines = (partial + chunk.toString()).split('\n');
			partial = lines.pop() ?? '';
			for (const line of lines) this.#log.scan(line);
		});
		child.on('message', (message: { type?: string }) => {
			const resolve = message.type ? this.#pending.get(message.type) : undefined;
			if (resolve) {
				this.#pending.delete(message.type!);
				resolve(message);
			}
		});
		this.#expectingExit = false;
		void this.#process.exited.then((code) => {
			if (!this.#expectingExit) {
				this.crashes += 1;
				this.#log.note(`server exited by itself (${code})`);
			}
		});
	}

	/** Makes the server fail on purpose through the probe (the judge's own test): a reported failure, or an uncaught exception. */
	async failOnPurpose(how: 'report-failure' | 'throw'): Promise<void> {
		if (how === 'report-failure') await this.#answer('report-failure');
		else {
			this.#process.child.send('throw');
			await this.#process.exited;
		}
	}

	#ask<T>(type: 'stats' | 'reset' | 'report-failure' | 'fail-stop'): Promise<T | null> {
		if (!this.alive) return Promise.resolve(null);
		return new Promise((resolve) => {
			const timer = setTimeout(() => {
				this.#pending.delete(type);
				resolve(null);
			}, 5000);
			this.#pending.set(type, (value) => {
				clearTimeout(timer);
				resolve(value as T);
			});
			this.#process.child.send(type);
		});
	}

	/** The event loop's delay histogram since the last reset (null when the process is gone). */
	loopStats(): Promise<LoopStats | null> {
		return this.#ask<LoopStats>('stats');
	}

	/** Starts the event-loop figures afresh; throws when the probe does not answer (the figures would cover more than asked). */
	async resetLoopStats(): Promise<void> {
		await this.#answer('reset');
	}

	/** `#ask` for a request that must be answered: a silent probe is the run's failure, not a pass. */
	async #answer(type: 'reset' | 'report-failure' | 'fail-stop'): Promise<void> {
		if ((await this.#ask(type)) === null) throw new Error(`the server's probe did not answer '${type}' (${this.alive ? 'no answer within 5 s' : 'the server is gone'})`);
	}

	/** kill -9, as a power cut or the OOM killer would. */
	async kill(): Promise<void> {
		this.#expectingExit = true;
		await this.#process.kill('SIGKILL');
	}

	/** Starts the server again on the same data and port. */
	async restart(): Promise<void> {
		if (this.alive) await this.kill();
		await this.#spawn();
		this.restarts += 1;
	}

	/** The whole log tail, for a failure report. */
	output(): string {
		return this.#process.output();
	}

	/**
	 * SIGTERM, as a deploy stops it, judged like the rest of the run: what the stop broke. An exit
	 * code other than 0 (the server's own "shutdown failed"), and a WAL left behind for the next start
	 * to recover (DUR-6); what the log showed while stopping is in {@link violations} from then on.
	 */
	async shutDown(): Promise<string[]> {
		if (!this.alive) return ['the server was not running when the run stopped it'];
		this.#expectingExit = true;
		const child = this.#process.child;
		// 'close' comes once stderr is drained too, so the log's last lines are scanned.
		const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
		const code = await this.#process.kill('SIGTERM');
		await closed;
		const found: string[] = [];
		if (code !== 0) found.push(`the server's stop (SIGTERM) ended with ${code}, not 0`);
		const wal = join(this.data.dir, 'chat.sqlite-wal');
		const walBytes = existsSync(wal) ? statSync(wal).size : 0;
		if (walBytes > 0) found.push(`the stopped server left a WAL of ${walBytes} bytes for the next start to recover (DUR-6)`);
		return found;
	}

	/** Makes the server's next stop fail (the test of {@link shutDown}'s judge). */
	async failNextStop(): Promise<void> {
		await this.#answer('fail-stop');
	}

	/** Whatever state it is in: killed or stopped, and its data removed. */
	async stop(): Promise<void> {
		if (this.alive) {
			this.#expectingExit = true;
			await this.#process.kill('SIGTERM');
		}
		this.data.remove();
	}
}
