/**
 * 1. Paced: 1 writer → 10 readers in one conversation at 1,000 msg/s for BENCH_SECONDS: send→receive
 * latency of every delivery, and the server's CPU per message sent.
 */
import { ulid } from 'ulid';
import { config } from '../config.ts';
import { cpuMeter, percentile, waitUntil } from '../measure.ts';
import type { Row } from '../report.ts';
import type { SystemName } from '../systems/types.ts';
import { ALL, alternate, closeAll, Deliveries, paced, writerAndReaders, type Scenario } from './common.ts';

export interface LatencySample {
	latencies: number[];
	expected: number;
	messages: number;
	cpuSeconds: number;
}

export function latencyRows(scenario: string, samples: Map<SystemName, LatencySample[]>): Row[] {
	const pooled = (name: SystemName) => {
		const s = samples.get(name) ?? [];
		const latencies = s.flatMap((x) => x.latencies).sort((a, b) => a - b);
		const messages = s.reduce((sum, x) => sum + x.messages, 0);
		return {
			p50: percentile(latencies, 50),
			p99: percentile(latencies, 99),
			lost: s.reduce((sum, x) => sum + x.expected - x.latencies.length, 0),
			cpuUs: (s.reduce((sum, x) => sum + x.cpuSeconds, 0) / messages) * 1e6
		};
	};
	const figures = Object.fromEntries([...samples.keys()].map((name) => [name, pooled(name)]));
	const row = (metric: string, key: 'p50' | 'p99' | 'lost' | 'cpuUs', digits: number, goal?: Row['goal']): Row => ({
		scenario,
		metric,
		digits,
		goal,
		values: Object.fromEntries(Object.entries(figures).map(([name, f]) => [name, f[key]]))
	});
	return [
		row('latency p50 ms', 'p50', 2),
		row('latency p99 ms', 'p99', 2, { on: 'ratio', op: '<=', limit: 1.2 }),
		row('lost deliveries', 'lost', 0),
		row('server CPU µs/msg', 'cpuUs', 1)
	];
}

export const pacedScenario: Scenario = async (bench) => {
	const count = config.rate * config.seconds;
	const samples = await alternate(ALL, config.rounds, async (name) => {
		const system = await bench.shared(name);
		const { writer, readers, all } = await writerAndReaders(system, config.readers);
		const deliveries = new Deliveries();
		for (const reader of readers) deliveries.watch(reader.room);
		const expected = count * readers.length;
		const cpu = cpuMeter(system.pid);
		await paced(config.rate, count, () => deliveries.send(writer.room, ulid()));
		await waitUntil(() => deliveries.latencies.length >= expected, 30_000);
		const cpuSeconds = cpu.stop();
		closeAll(all);
		return { latencies: deliveries.latencies, expected, messages: count, cpuSeconds };
	});
	bench.details.paced = Object.fromEntries(
		[...samples].map(([name, s]) => [name, s.map((x) => ({ p99: percentile([...x.latencies].sort((a, b) => a - b), 99), cpuSeconds: x.cpuSeconds }))])
	);
	const rows = latencyRows('1 paced', samples);
	rows.find((r) => r.metric.startsWith('server CPU'))!.goal = { on: 'ratio', op: '<=', limit: 1.0 };
	return rows;
};
