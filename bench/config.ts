/** The bench's knobs, read once from the environment (documented in bench/index.ts). */
import { resolve } from 'node:path';

const number = (name: string, fallback: number) => {
	const value = Number(process.env[name] ?? fallback);
	if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a non-negative number`);
	return value;
};

export const SCENARIOS = ['paced', 'flat', 'rooms', 'catch-up', 'receipts', 'idle', 'long-room', 'web-open'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

function only(): Set<ScenarioName> {
	const names = (process.env.BENCH_ONLY ?? '').split(',').map((s) => s.trim()).filter(Boolean);
	for (const name of names) if (!SCENARIOS.includes(name as ScenarioName)) throw new Error(`BENCH_ONLY: unknown scenario ${name} (${SCENARIOS.join(', ')})`);
	return new Set((names.length ? names : SCENARIOS) as ScenarioName[]);
}

export const config = {
	seconds: number('BENCH_SECONDS', 5),
	flat: number('BENCH_FLAT', 5000),
	rounds: Math.max(1, number('BENCH_ROUNDS', 3)),
	only: only(),
	idle: number('BENCH_IDLE', 10_000),
	long: number('BENCH_LONG', 100_000),
	members: (process.env.BENCH_MEMBERS ?? '10,50,100').split(',').map(Number).filter((n) => n >= 2),
	rooms: number('BENCH_ROOMS', 50),
	receiptMessages: number('BENCH_RECEIPT_MESSAGES', 50),
	/** Seconds each receipts run may take, from its first message until the traffic stops. */
	receiptWait: number('BENCH_RECEIPT_WAIT', 180),
	deadlineSeconds: number('BENCH_DEADLINE', 3600),
	/** The Socket.IO server's SQLite synchronous setting (this project's is SQLITE_SYNCHRONOUS, FULL by default). */
	socketIoSynchronous: process.env.BENCH_SOCKETIO_SYNCHRONOUS === 'FULL' ? 'FULL' : 'NORMAL',
	profileDir: process.env.BENCH_PROFILE ? resolve(process.env.BENCH_PROFILE) : undefined,
	/** Scenario 1: readers and rate. */
	readers: 10,
	rate: 1000,
	/** Scenario 2: unacknowledged messages the writer allows itself. */
	window: 50,
	/** Scenario 3: each room's writer rate and readers. */
	roomRate: 20,
	roomReaders: 2,
	/** Scenario 4: messages missed while offline. */
	missed: 1000,
	/** Scenario 5: the writer's rate. */
	receiptRate: 5,
	/** Scenario 7: messages per update, and messages missed for the catch-up. */
	longBatch: 500,
	longMissed: 100,
	/** Scenario 8: timed opens per room, network state and way of navigating. */
	webSamples: Math.max(1, number('BENCH_WEB_SAMPLES', 5)),
	/** Every message body: 80 characters. */
	body: 'x'.repeat(80)
};
