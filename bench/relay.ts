/**
 * npm run bench: 1 writer → 10 readers in one conversation, against the real server (auth, update
 * guard, durable SQLite writes before acknowledgement) and against a bare Hocuspocus relay started
 * in the same run. Prints send→receive latency p50/p99 and deliveries/s for a paced run
 * (1,000 msg/s) and a flat-out run, and the ratio real/bare.
 *
 * Env: BENCH_SECONDS (paced run length, default 5), BENCH_FLAT (flat-out message count, default 5000),
 * BENCH_READERS (default 10), BENCH_RATE (default 1000), BENCH_ROUNDS (default 3),
 * SQLITE_SYNCHRONOUS (server's, default FULL). Rounds alternate the two systems and are pooled.
 */
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ulid } from 'ulid';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { messagesMap, writeMessage } from '../src/lib/shared/conversation-doc.ts';
import { conversationDocName } from '../src/lib/shared/protocol.ts';
import { RELAXED_LIMITS } from '../tests/utils/limits.ts';
import { createAccount, createConversation, spawnServer, tempDataDir } from '../tests/utils/server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const FLAT = Number(process.env.BENCH_FLAT ?? 5000);
const READERS = Number(process.env.BENCH_READERS ?? 10);
const RATE = Number(process.env.BENCH_RATE ?? 1000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

// The bench signs up every reader from one address and sends thousands of messages a minute, far
// past the abuse limits it is not measuring; the spawned server inherits these.
for (const [name, value] of Object.entries({ ...RELAXED_LIMITS, LIMIT_MESSAGES: '100000000/m' })) process.env[name] ??= value;

interface Target {
	name: string;
	wsUrl: string;
	docName: string;
	writer: { id: string; token: string };
	readerTokens: string[];
	stop(): Promise<void>;
}

interface Figures {
	messages: number;
	p50: number;
	p99: number;
	max: number;
	deliveriesPerSecond: number;
	lost: number;
}

/** One run's raw measurements; rounds are pooled before percentiles are taken. */
interface Sample {
	latencies: number[];
	delivered: number;
	expected: number;
	seconds: number;
}

function summarize(samples: Sample[]): Figures {
	const latencies = samples.flatMap((s) => s.latencies).sort((a, b) => a - b);
	const delivered = samples.reduce((sum, s) => sum + s.delivered, 0);
	return {
		messages: samples.reduce((sum, s) => sum + s.expected, 0) / READERS,
		p50: percentile(latencies, 50),
		p99: percentile(latencies, 99),
		max: latencies.at(-1) ?? NaN,
		deliveriesPerSecond: delivered / samples.reduce((sum, s) => sum + s.seconds, 0),
		lost: samples.reduce((sum, s) => sum + s.expected - s.delivered, 0)
	};
}

function connect(wsUrl: string, name: string, token: string) {
	const socket = new HocuspocusProviderWebsocket({ url: wsUrl, WebSocketPolyfill: WebSocket });
	const doc = new Y.Doc();
	const provider = new HocuspocusProvider({ websocketProvider: socket, name, document: doc, token });
	provider.attach();
	const synced = new Promise<void>((resolve) => provider.on('synced', () => resolve()));
	return { doc, provider, synced, destroy: () => (provider.destroy(), socket.destroy()) };
}

function percentile(sorted: number[], p: number): number {
	return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

/** Sends `count` messages (paced at `rate`/s, or flat out when rate is 0) and times each delivery. */
async function run(target: Target, count: number, rate: number): Promise<Sample> {
	const writer = connect(target.wsUrl, target.docName, target.writer.token);
	const readers = target.readerTokens.map((token) => connect(target.wsUrl, target.docName, token));
	await Promise.all([writer.synced, ...readers.map((r) => r.synced)]);

	const sentAt = new Map<string, number>();
	const latencies: number[] = [];
	let delivered = 0;
	let lastDelivery = 0;
	for (const reader of readers) {
		messagesMap(reader.doc).observe((event) => {
			const now = performance.now();
			for (const id of event.keysChanged) {
				const at = sentAt.get(id);
				if (at === undefined) continue;
				latencies.push(now - at);
				delivered += 1;
				lastDelivery = now;
			}
		});
	}

	const start = performance.now();
	let sent = 0;
	const body = 'x'.repeat(80);
	await new Promise<void>((resolve) => {
		const tick = () => {
			const due = rate > 0 ? Math.min(count, Math.floor(((performance.now() - start) / 1000) * rate)) : Math.min(count, sent + 50);
			while (sent < due) {
				const id = ulid();
				sentAt.set(id, performance.now());
				writeMessage(writer.doc, { id, author: target.writer.id, body });
				sent += 1;
			}
			if (sent < count) setImmediate(tick);
			else resolve();
		};
		tick();
	});
	const expected = count * readers.length;
	const deadline = performance.now() + 30_000;
	while (delivered < expected && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
	const elapsed = (lastDelivery - start) / 1000;
	writer.destroy();
	for (const reader of readers) reader.destroy();

	return { latencies, delivered, expected, seconds: elapsed };
}

async function realServer(): Promise<Target> {
	const data = tempDataDir();
	const server = await spawnServer(data.dir);
	// The server's own complaints belong in the bench output.
	server.child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
	const writer = await createAccount(server.url, 'bench_writer');
	const readers = [];
	for (let i = 0; i < READERS; i++) readers.push(await createAccount(server.url, `bench_reader_${i}`));
	const conversationId = await createConversation(server.url, writer, readers, 'Bench');
	return {
		name: 'app (auth + guard + durable)',
		wsUrl: server.wsUrl,
		docName: conversationDocName(conversationId),
		writer,
		readerTokens: readers.map((r) => r.token),
		async stop() {
			await server.kill('SIGTERM');
			data.remove();
		}
	};
}

async function bareRelay(): Promise<Target> {
	const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-relay.ts'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
	const url = await new Promise<string>((resolve, reject) => {
		child.stdout.on('data', (chunk: Buffer) => {
			const match = /listening on (http:\/\/\S+)/.exec(chunk.toString());
			if (match?.[1]) resolve(match[1]);
		});
		child.once('exit', (code) => reject(new Error(`bare relay exited ${code}`)));
	});
	const exited = new Promise((resolve) => child.once('exit', resolve));
	return {
		name: 'bare Hocuspocus relay',
		wsUrl: url.replace('http', 'ws'),
		docName: `bench-${ulid()}`,
		writer: { id: 'writer', token: 'anything' },
		readerTokens: Array.from({ length: READERS }, () => 'anything'),
		async stop() {
			child.kill('SIGTERM');
			await exited;
		}
	};
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

async function main() {
	console.log(
		`1 writer → ${READERS} readers; ${ROUNDS} rounds, alternating systems, each: paced ${RATE} msg/s for ${SECONDS} s, then ${FLAT} messages flat out`
	);
	console.log(`server SQLITE_SYNCHRONOUS=${process.env.SQLITE_SYNCHRONOUS ?? 'FULL'}; ${process.version}\n`);
	const targets = [await bareRelay(), await realServer()];
	const samples = new Map(targets.map((t) => [t.name, { paced: [] as Sample[], flat: [] as Sample[] }]));
	try {
		for (let round = 0; round < ROUNDS; round++) {
			// Alternate which system goes first, so neither always runs on a warmer or busier machine.
			for (const target of round % 2 ? [...targets].reverse() : targets) {
				const mine = samples.get(target.name)!;
				mine.paced.push(await run(target, RATE * SECONDS, RATE));
				mine.flat.push(await run(target, FLAT, 0));
			}
		}
	} finally {
		for (const target of targets) await target.stop();
	}
	const results: Record<string, Record<'paced' | 'flat', Figures>> = {};
	for (const [name, s] of samples) results[name] = { paced: summarize(s.paced), flat: summarize(s.flat) };
	const [bare, app] = targets.map((t) => results[t.name]!) as [Record<'paced' | 'flat', Figures>, Record<'paced' | 'flat', Figures>];
	const rows = [['run', 'system', 'p50 ms', 'p99 ms', 'max ms', 'deliveries/s', 'lost', 'p99 per round']];
	for (const kind of ['paced', 'flat'] as const) {
		for (const [name, figures] of Object.entries(results)) {
			const f = figures[kind];
			const perRound = samples.get(name)![kind].map((s) => fmt(summarize([s]).p99, 1)).join(' / ');
			rows.push([kind, name, fmt(f.p50), fmt(f.p99), fmt(f.max), fmt(f.deliveriesPerSecond, 0), String(f.lost), perRound]);
		}
	}
	const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
	for (const row of rows) console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
	const ratio = app.paced.p99 / bare.paced.p99;
	console.log(`\npaced p99 ratio app/bare (all rounds pooled): ${fmt(ratio)} (target ≤ 1.25)`);
	console.log(`flat-out throughput ratio app/bare: ${fmt(app.flat.deliveriesPerSecond / bare.flat.deliveriesPerSecond)}`);
	mkdirSync(`${ROOT}/bench/results`, { recursive: true });
	writeFileSync(`${ROOT}/bench/results/relay-${Date.now()}.json`, JSON.stringify({ results, ratio }, null, 2));
}

await main();
process.exit(0);
