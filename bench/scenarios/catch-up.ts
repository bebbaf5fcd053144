/**
 * 4. Catch-up: a reader with the conversation's earlier history goes offline, 1,000 messages are
 * written, and it reconnects (the relay: the same Y.Doc on a new provider; this project: the same,
 * and as epochs ended meanwhile, it is refused, opens the current epoch and pages in the messages of
 * the ended ones over REST; Socket.IO: `join` with its last sequence number). Time from reconnecting
 * to holding all 1,000, and bytes received per missed message (WebSocket payloads on the new socket,
 * and this project's HTTP responses).
 */
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import { config } from '../config.ts';
import { median, newCounter, waitUntil } from '../measure.ts';
import type { Row } from '../report.ts';
import { ALL, alternate, closeAll, windowed, writerAndReaders, type Scenario } from './common.ts';

/** Messages the reader already has before it goes offline. */
const HISTORY = 100;

export const catchUpScenario: Scenario = async (bench) => {
	const samples = await alternate(ALL, config.rounds, async (name) => {
		const system = await bench.shared(name);
		const { conversationId, writer, readers } = await writerAndReaders(system, 1);
		const reader = readers[0]!;
		await windowed(writer.room, HISTORY, config.window, () => writer.room.send(ulid(), config.body));
		await waitUntil(() => reader.room.size() >= HISTORY, 10_000);
		reader.room.close();
		reader.client.close();
		await windowed(writer.room, config.missed, config.window, () => writer.room.send(ulid(), config.body));

		const counter = newCounter();
		const start = performance.now();
		const client = system.connect(reader.user, counter);
		const room = await client.open(conversationId, reader.room);
		const complete = await waitUntil(() => room.size() >= HISTORY + config.missed, 30_000, 1);
		const ms = performance.now() - start;
		client.close();
		closeAll([writer]);
		return { ms: complete ? ms : NaN, bytesPerMessage: counter.bytes / config.missed };
	});
	bench.details.catchUp = Object.fromEntries(samples);
	const values = (key: 'ms' | 'bytesPerMessage') => Object.fromEntries([...samples].map(([name, s]) => [name, median(s.map((x) => x[key]))]));
	return [
		{ scenario: '4 catch-up', metric: `ms to receive ${config.missed} missed (median)`, digits: 1, values: values('ms'), goal: { on: 'ratio', op: '<=', limit: 1.0 } },
		{ scenario: '4 catch-up', metric: 'bytes received per missed msg', digits: 1, values: values('bytesPerMessage'), goal: { on: 'ratio', op: '<=', limit: 1.05 } }
	] satisfies Row[];
};
