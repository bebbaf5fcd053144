/**
 * 3. Many rooms: BENCH_ROOMS conversations (default 50), each 1 writer + 2 readers, every writer at
 * 20 msg/s for BENCH_SECONDS: send→receive latency and the server's CPU per message.
 */
import { ulid } from 'ulid';
import { config } from '../config.ts';
import { cpuMeter, waitUntil } from '../measure.ts';
import { ALL, alternate, closeAll, Deliveries, paced, writerAndReaders, type Scenario } from './common.ts';
import { latencyRows } from './paced.ts';

export const roomsScenario: Scenario = async (bench) => {
	const perRoom = config.roomRate * config.seconds;
	const size = 1 + config.roomReaders;
	const samples = await alternate(ALL, config.rounds, async (name) => {
		const system = await bench.shared(name);
		await system.users(config.rooms * size);
		const rooms = await Promise.all(Array.from({ length: config.rooms }, (_, i) => writerAndReaders(system, config.roomReaders, i * size)));
		const deliveries = new Deliveries();
		for (const room of rooms) for (const reader of room.readers) deliveries.watch(reader.room);
		const expected = perRoom * config.rooms * config.roomReaders;
		const cpu = cpuMeter(system.pid);
		await Promise.all(rooms.map((room, i) => paced(config.roomRate, perRoom, () => deliveries.send(room.writer.room, ulid()), i / config.rooms)));
		await waitUntil(() => deliveries.latencies.length >= expected, 30_000);
		const cpuSeconds = cpu.stop();
		for (const room of rooms) closeAll(room.all);
		return { latencies: deliveries.latencies, expected, messages: perRoom * config.rooms, cpuSeconds };
	});
	return latencyRows(`3 ${config.rooms} rooms × ${config.roomRate}/s`, samples);
};
