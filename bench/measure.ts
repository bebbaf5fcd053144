/** What the bench reads: server CPU and memory from /proc, percentiles, and bytes on client sockets. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import WebSocket from 'ws';

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ, almost always 100). */
const CLK_TCK = (() => {
	try {
		return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
	} catch {
		return 100;
	}
})();

/** CPU seconds (user + system, all threads) a process has used so far: /proc/<pid>/stat fields 14 and 15. */
export function cpuSeconds(pid: number): number {
	const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
	// Fields after the command name, which is in parentheses and may hold spaces; field 3 is fields[0].
	const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
	return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/** Resident memory of a process in bytes (/proc/<pid>/status VmRSS). */
export function rssBytes(pid: number): number {
	const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
	return match ? Number(match[1]) * 1024 : NaN;
}

/** This process's soft limit on open files (/proc/self/limits); its servers inherit it. */
export function openFilesLimit(): number {
	const match = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
	return match?.[1] === 'unlimited' ? Infinity : Number(match?.[1] ?? NaN);
}

/** CPU a process spends from now until `stop()`. */
export function cpuMeter(pid: number): { stop(): number } {
	const start = cpuSeconds(pid);
	return { stop: () => cpuSeconds(pid) - start };
}

export function percentile(sorted: number[], p: number): number {
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

export function median(values: number[]): number {
	return percentile([...values].sort((a, b) => a - b), 50);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `check()` holds or `timeoutMs` passes; true when it holds. */
export async function waitUntil(check: () => boolean, timeoutMs: number, pollMs = 5): Promise<boolean> {
	const deadline = performance.now() + timeoutMs;
	while (!check()) {
		if (performance.now() > deadline) return false;
		await sleep(pollMs);
	}
	return true;
}

/**
 * Waits for `frames()` to stop moving for `quietMs` (nothing more arriving), at most `timeoutMs`;
 * true when it went quiet.
 */
export async function waitQuiet(frames: () => number, quietMs: number, timeoutMs: number): Promise<boolean> {
	const deadline = performance.now() + timeoutMs;
	let last = frames();
	let since = performance.now();
	while (performance.now() - since < quietMs) {
		if (performance.now() > deadline) return false;
		await sleep(Math.min(50, quietMs / 4));
		const now = frames();
		if (now !== last) [last, since] = [now, performance.now()];
	}
	return true;
}

/** Frames (WebSocket messages, HTTP responses) and bytes a client received on its socket(s). */
export interface Counter {
	frames: number;
	bytes: number;
}

export const newCounter = (): Counter => ({ frames: 0, bytes: 0 });

export function sumCounters(counters: Counter[]): Counter {
	return counters.reduce((sum, c) => ({ frames: sum.frames + c.frames, bytes: sum.bytes + c.bytes }), newCounter());
}

const sizeOf = (data: WebSocket.RawData | ArrayBuffer): number =>
	Array.isArray(data) ? data.reduce((sum, part) => sum + part.byteLength, 0) : data.byteLength;

/** The `ws` WebSocket class, counting every frame it receives into `counter`: a provider's WebSocketPolyfill. */
export function countingWebSocket(counter: Counter): new (url: string) => WebSocket {
	return class CountingWebSocket extends WebSocket {
		constructor(url: string) {
			super(url);
			this.on('message', (data: WebSocket.RawData) => {
				counter.frames += 1;
				counter.bytes += sizeOf(data);
			});
		}
	};
}

/** What an HTTP response weighs on the wire, body decoded: status line, headers and body (the server does not compress). */
/**
 * GETs JSON with a bearer token, as a browser would (accepting gzip), counting the response into
 * `counter` as it travels: status line, headers and the body's bytes on the wire. Throws on a
 * status other than 200.
 */
export function getCounted<T>(url: string, token: string, counter: Counter): Promise<T> {
	return new Promise((resolve, reject) => {
		const request = httpGet(url, { headers: { authorization: `Bearer ${token}`, 'accept-encoding': 'gzip' } }, (response) => {
			const chunks: Buffer[] = [];
			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.on('error', reject);
			response.on('end', () => {
				const wire = Buffer.concat(chunks);
				counter.frames += 1;
				counter.bytes += `HTTP/1.1 ${response.statusCode} ${response.statusMessage}\r\n\r\n`.length + wire.byteLength;
				for (let i = 0; i < response.rawHeaders.length; i += 2) counter.bytes += Buffer.byteLength(`${response.rawHeaders[i]}: ${response.rawHeaders[i + 1]}\r\n`);
				const body = (response.headers['content-encoding'] === 'gzip' ? gunzipSync(wire) : wire).toString('utf8');
				if (response.statusCode !== 200) reject(new Error(`GET ${url}: ${response.statusCode} ${body}`));
				else resolve(JSON.parse(body) as T);
			});
		});
		request.on('error', reject);
	});
}

export async function forEachLimit<T>(items: T[], limit: number, work: (item: T, index: number) => Promise<void>): Promise<void> {
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const index = next++;
			await work(items[index]!, index);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export async function mapLimit<T, R>(items: T[], limit: number, work: (item: T, index: number) => Promise<R>): Promise<R[]> {
	const results = new Array<R>(items.length);
	await forEachLimit(items, limit, async (item, index) => void (results[index] = await work(item, index)));
	return results;
}
