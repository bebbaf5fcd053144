/**
 * 2. Flat out: 1 writer → 10 readers, BENCH_FLAT messages sent as fast as acknowledgements allow
 * (at most 50 unacknowledged): messages per second delivered to every reader.
 */
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import { config } from '../config.ts';
import { cpuMeter, waitUntil } from '../measure.ts';
import type { Row } from '../report.ts';
import { ALL, alternate, closeAll, Deliveries, windowed, writerAndReaders, type Scenario } from './common.ts';

interface FlatSample {
	seconds: number;
	delivered: number;
	expected: number;
	cpuSeconds: number;
	/** CPU the bench process itself used: the writer and the 10 readers share its one thread. */
	driverCpuSeconds: number;
}

const sum = (samples: FlatSample[], key: keyof FlatSample) => samples.reduce((total, s) => total + s[key], 0);

export const flatScenario: Scenario = async (bench) => {
	const count = config.flat;
	const samples = await alternate(ALL, config.rounds, async (name): Promise<FlatSample> => {
		const system = await bench.shared(name);
		const { writer, readers, all } = await writerAndReaders(system, config.readers);
		const deliveries = new Deliveries();
		for (const reader of readers) deliveries.watch(reader.room);
		const expected = count * readers.length;
		const cpu = cpuMeter(system.pid);
		const driverCpu = cpuMeter(process.pid);
		const start = performance.now();
		await windowed(writer.room, count, config.window, () => deliveries.send(writer.room, ulid()));
		await waitUntil(() => deliveries.latencies.length >= expected, 60_000);
		const seconds = (deliveries.lastAt - start) / 1000;
		const cpuSeconds = cpu.stop();
		const driverCpuSeconds = driverCpu.stop();
		closeAll(all);
		return { seconds, delivered: deliveries.latencies.length, expected, cpuSeconds, driverCpuSeconds };
	});
	bench.details.flat = Object.fromEntries(samples);
	const values = (f: (s: FlatSample[]) => number) => Object.fromEntries([...samples].map(([name, s]) => [name, f(s)]));
	return [
		{
			scenario: '2 flat out',
			metric: 'msg/s delivered to all readers',
			digits: 0,
			goal: { on: 'ratio', op: '>=', limit: 1.0 },
			values: values((s) => (s.length * count) / sum(s, 'seconds'))
		},
		{ scenario: '2 flat out', metric: 'lost deliveries', digits: 0, values: values((s) => sum(s, 'expected') - sum(s, 'delivered')) },
		{ scenario: '2 flat out', metric: 'server CPU µs/msg', digits: 1, values: values((s) => (sum(s, 'cpuSeconds') / (s.length * count)) * 1e6) },
		// The clients' side of the same messages: when it nears 1 CPU second per second, the bench's one thread, not the server, sets the rate.
		{ scenario: '2 flat out', metric: 'bench client CPU µs/msg', digits: 1, values: values((s) => (sum(s, 'driverCpuSeconds') / (s.length * count)) * 1e6) },
		{ scenario: '2 flat out', metric: 'bench client CPU s per s', digits: 2, values: values((s) => sum(s, 'driverCpuSeconds') / sum(s, 'seconds')) }
	] satisfies Row[];
};
