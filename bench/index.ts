/**
 * npm run bench: this project against a plain Socket.IO chat (bench/socketio-server.ts) and the raw
 * Hocuspocus relay (bench/bare-relay.ts: no auth, no disk), each in its own process started here,
 * driven from this one process over loopback. Prints one table: every figure for the three systems
 * side by side, the ratio this project / Socket.IO, and PASS/MISS for each goal; writes the figures
 * to bench/results/.
 *
 * Scenarios (BENCH_ONLY picks some, comma-separated):
 *   paced      1 writer → 10 readers, 1,000 msg/s for BENCH_SECONDS: latency p50/p99, server CPU/msg
 *   flat       1 writer → 10 readers, BENCH_FLAT messages, ≤ 50 unacknowledged: msg/s delivered
 *   rooms      BENCH_ROOMS rooms × (1 writer at 20 msg/s + 2 readers) for BENCH_SECONDS: latency p99, CPU/msg
 *   catch-up   a reader misses 1,000 messages and reconnects: time to have them, bytes per message
 *   receipts   M members (BENCH_MEMBERS), each sending delivered + read receipts, user channels open:
 *              frames, bytes and CPU per message as M grows (this project and Socket.IO)
 *   idle       BENCH_IDLE sockets, each in its own conversation: server RSS
 *   long-room  BENCH_LONG messages (the writer following epochs), server restart, a new member opens
 *              the room's current epoch and shows the last page (this project only)
 *   web-open   in Chromium, a room of BENCH_LONG messages and one of 100, each opened once: time until
 *              the web app shows the last 50 from IndexedDB (list click, full load; offline, online),
 *              BENCH_WEB_SAMPLES times each (this project only; skipped when there is no Chromium)
 * paced, flat, rooms and catch-up run BENCH_ROUNDS rounds, alternating which system goes first.
 *
 * Env: BENCH_SECONDS (default 5), BENCH_FLAT (5000), BENCH_ROUNDS (3), BENCH_ONLY (all),
 * BENCH_IDLE (10000), BENCH_LONG (100000), BENCH_MEMBERS ("10,50,100"), BENCH_ROOMS (50),
 * BENCH_RECEIPT_MESSAGES (50), BENCH_RECEIPT_WAIT (seconds per receipts run, 180), BENCH_WEB_SAMPLES (5),
 * BENCH_DEADLINE (seconds for the whole run, 3600),
 * BENCH_PROFILE (a directory: this project's server runs with --cpu-prof there; summarize a profile
 * with `node scripts/profile-top.mjs FILE.cpuprofile`), SQLITE_SYNCHRONOUS (this project's, FULL),
 * BENCH_SOCKETIO_SYNCHRONOUS (the Socket.IO server's, NORMAL).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { config, type ScenarioName } from './config.ts';
import { ROOT, stopAll } from './processes.ts';
import { formatTable, ratioOf, verdictOf, type Row } from './report.ts';
import { catchUpScenario } from './scenarios/catch-up.ts';
import type { Bench, Scenario } from './scenarios/common.ts';
import { flatScenario } from './scenarios/flat.ts';
import { idleScenario } from './scenarios/idle.ts';
import { longRoomScenario } from './scenarios/long-room.ts';
import { pacedScenario } from './scenarios/paced.ts';
import { receiptsScenario } from './scenarios/receipts.ts';
import { roomsScenario } from './scenarios/rooms.ts';
import { webOpenScenario } from './scenarios/web-open.ts';
import { startApp } from './systems/app.ts';
import { startBare } from './systems/bare.ts';
import { startSocketIo } from './systems/socketio.ts';
import type { System, SystemName } from './systems/types.ts';

const SCENARIOS: Record<ScenarioName, Scenario> = {
	paced: pacedScenario,
	flat: flatScenario,
	rooms: roomsScenario,
	'catch-up': catchUpScenario,
	receipts: receiptsScenario,
	idle: idleScenario,
	'long-room': longRoomScenario,
	'web-open': webOpenScenario
};
/** These start fresh servers of their own: the shared ones stop first. */
const ON_THEIR_OWN = new Set<ScenarioName>(['receipts', 'idle', 'long-room', 'web-open']);

const START: Record<SystemName, () => Promise<System>> = { app: startApp, socketio: startSocketIo, bare: startBare };

const shared = new Map<SystemName, Promise<System>>();
const bench: Bench = {
	shared(name) {
		if (!shared.has(name)) shared.set(name, START[name]());
		return shared.get(name)!;
	},
	fresh: (name) => START[name](),
	details: {}
};

async function stopShared(): Promise<void> {
	for (const system of shared.values()) await (await system).stop();
	shared.clear();
}

const rows: Row[] = [];
const errors: string[] = [];
const began = performance.now();
let finishing = false;

async function finish(reason: 'done' | 'deadline' | 'interrupted'): Promise<never> {
	if (finishing) return new Promise<never>(() => {});
	finishing = true;
	console.log(`\n${formatTable(rows)}\n`);
	for (const error of errors) console.log(`error: ${error}`);
	if (reason !== 'done') console.log(`stopped early (${reason}): the table holds the scenarios that finished`);
	const missed = rows.filter((r) => verdictOf(r) === 'MISS').length;
	const passed = rows.filter((r) => verdictOf(r) === 'PASS').length;
	console.log(`goals: ${passed} PASS, ${missed} MISS; ${((performance.now() - began) / 1000).toFixed(0)} s`);
	mkdirSync(join(ROOT, 'bench/results'), { recursive: true });
	const file = join(ROOT, `bench/results/bench-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
	const results = rows.map((r) => ({ ...r, ratio: ratioOf(r), verdict: verdictOf(r) }));
	writeFileSync(file, JSON.stringify({ reason, node: process.version, config: { ...config, only: [...config.only] }, results, details: bench.details, errors }, null, 2));
	console.log(`results: ${file}`);
	if (reason === 'done') await stopShared().catch(() => {});
	await stopAll();
	process.exit(reason === 'done' && errors.length === 0 ? 0 : 1);
}

async function main(): Promise<void> {
	const deadline = setTimeout(() => void finish('deadline'), config.deadlineSeconds * 1000);
	deadline.unref();
	process.once('SIGINT', () => void finish('interrupted'));
	process.once('SIGTERM', () => void finish('interrupted'));
	console.log(`scenarios: ${[...config.only].join(', ')}; rounds ${config.rounds}, ${config.seconds} s paced, ${config.flat} flat out`);
	console.log(`this project's SQLITE_SYNCHRONOUS=${process.env.SQLITE_SYNCHRONOUS ?? 'FULL'}; Socket.IO's ${config.socketIoSynchronous}; ${process.version}`);
	for (const name of Object.keys(SCENARIOS) as ScenarioName[]) {
		if (!config.only.has(name)) continue;
		if (ON_THEIR_OWN.has(name)) await stopShared();
		const started = performance.now();
		console.log(`▶ ${name}`);
		try {
			rows.push(...(await SCENARIOS[name](bench)));
		} catch (error) {
			errors.push(`${name}: ${(error as Error).stack ?? String(error)}`);
			console.error(`✗ ${name} failed:`, error);
		}
		console.log(`  ${name}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
	}
	await finish('done');
}

await main();
