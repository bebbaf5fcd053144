/**
 * 5. Group receipts: a conversation of M members (BENCH_MEMBERS, default 10,50,100), all online on
 * a socket each, each behaving like the web client: its user channel open (this project's live
 * inbox), and on every new message a delivered receipt and a read receipt. One member writes
 * BENCH_RECEIPT_MESSAGES messages (default 50) at 5/s. Counts every frame and payload byte all
 * clients receive until the traffic stops, and the server's CPU, per message. Socket.IO relays each
 * receipt to the room; the raw relay has no receipts and is left out.
 */
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import { config } from '../config.ts';
import { cpuMeter, waitQuiet, waitUntil } from '../measure.ts';
import type { Row } from '../report.ts';
import type { System, SystemName } from '../systems/types.ts';
import { closeAll, connectAll, paced, received, type Scenario } from './common.ts';

interface ReceiptSample {
	frames: number;
	bytes: number;
	cpuSeconds: number;
	/** Whether the traffic stopped within the time allowed (if not, the figures are a floor). */
	settled: boolean;
}

const SYSTEMS: SystemName[] = ['app', 'socketio'];

async function run(system: System, members: number, count: number): Promise<ReceiptSample> {
	const users = await system.users(members);
	const all = await connectAll(system, users, await system.conversation(users), true);
	try {
		for (const { room } of all) {
			let newest = 0;
			room.onSequenced?.((seq) => {
				if (seq <= newest) return;
				newest = seq;
				room.receipt?.(seq, seq);
			});
		}
		// Everyone coming online tells everyone else; let that pass first.
		await waitQuiet(() => received(all).frames, 500, 30_000);
		const before = received(all);
		const sizes = all.map((m) => m.room.size());
		const cpu = cpuMeter(system.pid);
		const deadline = performance.now() + config.receiptWait * 1000;
		await paced(config.receiptRate, count, () => all[0]!.room.send(ulid(), config.body));
		const delivered = await waitUntil(() => all.every((m, i) => m.room.size() >= sizes[i]! + count), deadline - performance.now());
		const settled = delivered && (await waitQuiet(() => received(all).frames, 1000, deadline - performance.now()));
		const cpuSeconds = cpu.stop();
		const after = received(all);
		return { frames: after.frames - before.frames, bytes: after.bytes - before.bytes, cpuSeconds, settled };
	} finally {
		closeAll(all);
	}
}

export const receiptsScenario: Scenario = async (bench) => {
	const count = config.receiptMessages;
	const results = new Map<number, Map<SystemName, ReceiptSample>>();
	for (const members of config.members) {
		const byName = new Map<SystemName, ReceiptSample>();
		results.set(members, byName);
		for (const name of SYSTEMS) {
			// A server of its own for each size: one that falls behind takes its backlog with it when it stops.
			const system = await bench.fresh(name);
			try {
				byName.set(name, await run(system, members, count));
			} finally {
				await system.stop();
			}
			if (!byName.get(name)!.settled) {
				console.error(`  receipts: ${name} with ${members} members was still sending after ${config.receiptWait} s; its figures are a floor (≥)`);
			}
		}
	}
	bench.details.receipts = Object.fromEntries([...results].map(([m, byName]) => [m, Object.fromEntries(byName)]));

	const scenario = '5 group receipts';
	const rows: Row[] = [];
	const values = (members: number, f: (s: ReceiptSample) => number) =>
		Object.fromEntries([...results.get(members)!].map(([name, s]) => [name, f(s)]));
	const floors = (members: number) => [...results.get(members)!].filter(([, s]) => !s.settled).map(([name]) => name);
	for (const members of config.members) {
		const row = (metric: string, digits: number, f: (s: ReceiptSample) => number): Row => ({
			scenario,
			metric: `M=${members}: ${metric}`,
			digits,
			values: values(members, f),
			floors: floors(members)
		});
		rows.push(
			row('frames/msg', 0, (s) => s.frames / count),
			row('KB/msg', 1, (s) => s.bytes / count / 1024),
			row('frames/msg/member', 2, (s) => s.frames / count / members),
			row('server CPU µs/msg', 0, (s) => (s.cpuSeconds / count) * 1e6)
		);
	}
	const smallest = Math.min(...config.members);
	const largest = Math.max(...config.members);
	if (largest > smallest) {
		const perMember = (members: number, name: SystemName) => results.get(members)!.get(name)!.frames / count / members;
		rows.push({
			scenario,
			metric: `frames/msg/member M=${largest} ÷ M=${smallest}`,
			digits: 2,
			goal: { on: 'app', op: '<=', limit: 1.5 },
			values: Object.fromEntries(SYSTEMS.map((name) => [name, perMember(largest, name) / perMember(smallest, name)])),
			floors: floors(largest)
		});
	}
	return rows;
};
