/**
 * 7. Long room (this project only): BENCH_LONG messages (default 100,000) of 80 characters written
 * through the sync path, 500 per update; a new member is added; the server restarts on the same
 * data; the new member opens the room. Server time to open (connect → synced), the server's memory
 * increase, bytes downloaded, the client's time and heap to apply the document, the SQLite files'
 * size, and catching up after missing 100 messages.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import * as Y from 'yjs';
import { config } from '../config.ts';
import { newCounter, rssBytes, sleep, waitUntil } from '../measure.ts';
import type { Row } from '../report.ts';
import type { AppSystem } from '../systems/app.ts';
import type { Room } from '../systems/types.ts';
import { windowed, type Scenario } from './common.ts';

const MB = 1024 * 1024;

function directoryBytes(dir: string): number {
	return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/** Heap in use after a full collection (when node runs with --expose-gc; otherwise as it is). */
function heapUsed(): number {
	globalThis.gc?.();
	return process.memoryUsage().heapUsed;
}

/** `count` messages, `batch` to an update, with two updates in flight: the next is on its way while the server commits one. */
function writeBatches(room: Room, count: number, batch: number): Promise<void> {
	let sent = 0;
	return new Promise((resolve) => {
		const pump = () => {
			while (sent < count && sent - room.acked() < 2 * batch) {
				const size = Math.min(batch, count - sent);
				room.sendBatch!(Array.from({ length: size }, () => ulid()), config.body);
				sent += size;
			}
			if (room.acked() >= count) resolve();
		};
		room.onAck(pump);
		pump();
	});
}

export const longRoomScenario: Scenario = async (bench) => {
	const app = (await bench.fresh('app')) as AppSystem;
	const figures: Record<string, number> = {};
	try {
		const [owner, friend, newcomer] = await app.users(3);
		const conversationId = await app.conversation([owner!, friend!]);

		const writing = performance.now();
		const writer = app.connect(owner!, newCounter());
		const written = await writer.open(conversationId);
		await writeBatches(written, config.long, config.longBatch);
		figures.writeSeconds = (performance.now() - writing) / 1000;
		await app.addMember(conversationId, owner!, newcomer!);
		writer.close();

		await app.restart();
		await sleep(1000);
		figures.sqliteMB = directoryBytes(app.dataDir) / MB;
		const rssBefore = rssBytes(app.pid);
		const counter = newCounter();
		const opening = performance.now();
		const reader = app.connect(newcomer!, counter);
		const room = await reader.open(conversationId);
		figures.openMs = performance.now() - opening;
		figures.downloadKB = counter.bytes / 1024;
		await sleep(500);
		figures.rssIncreaseMB = (rssBytes(app.pid) - rssBefore) / MB;
		figures.messages = room.size();

		const update = room.encodeState!();
		const heapBefore = heapUsed();
		const applying = performance.now();
		const copy = new Y.Doc();
		Y.applyUpdate(copy, update);
		figures.applyMs = performance.now() - applying;
		figures.applyHeapMB = (heapUsed() - heapBefore) / MB;
		copy.destroy();

		// The newcomer goes offline, the owner writes 100 messages one by one, the newcomer comes back.
		room.close();
		reader.close();
		const owner2 = app.connect(owner!, newCounter());
		const ownerRoom = await owner2.open(conversationId, written);
		await windowed(ownerRoom, config.longMissed, config.window, () => ownerRoom.send(ulid(), config.body));
		const catchUpCounter = newCounter();
		const catchingUp = performance.now();
		const back = app.connect(newcomer!, catchUpCounter);
		const backRoom = await back.open(conversationId, room);
		await waitUntil(() => backRoom.size() >= figures.messages! + config.longMissed, 30_000, 1);
		figures.catchUpMs = performance.now() - catchingUp;
		figures.catchUpBytesPerMessage = catchUpCounter.bytes / config.longMissed;
		back.close();
		owner2.close();
	} finally {
		await app.stop();
	}
	bench.details.longRoom = figures;
	const scenario = `7 long room (${config.long} msgs)`;
	const row = (metric: string, value: number | undefined, digits: number, goal?: Row['goal']): Row => ({
		scenario,
		metric,
		digits,
		goal,
		values: { app: value ?? NaN }
	});
	return [
		row('server ms to open (connect → synced)', figures.openMs, 0, { on: 'app', op: '<=', limit: 50, unit: 'ms' }),
		row('server RSS increase MB', figures.rssIncreaseMB, 1, { on: 'app', op: '<=', limit: 5, unit: 'MB' }),
		row('KB downloaded to open', figures.downloadKB, 0, { on: 'app', op: '<=', limit: 100, unit: 'KB' }),
		row('client ms to apply the document', figures.applyMs, 0),
		row('client heap MB for the document', figures.applyHeapMB, 1),
		row('SQLite files MB', figures.sqliteMB, 1),
		row(`ms to catch up ${config.longMissed} missed`, figures.catchUpMs, 0),
		row('bytes per missed msg', figures.catchUpBytesPerMessage, 0),
		row('s to write the messages', figures.writeSeconds, 1)
	];
};
