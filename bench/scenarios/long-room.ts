/**
 * 7. Long room (this project only): BENCH_LONG messages (default 100,000) of 80 characters written
 * through the sync path, 500 per update, by a writer that follows the epochs as they end (server/SPEC.md
 * EPOCH-1, with the default settings), then one by one until the open epoch holds nine tenths of
 * its message limit; a new member is added; the server restarts on the
 * same data; the new member first opens a short room (the restarted server's first connection and
 * request grow its heap and compile code whatever the room, which is not the room's cost), then
 * opens the long room at its current epoch (as its conversation list tells it) and shows the last
 * page: the epoch's document, and one page of 50 messages of history over REST when the epoch holds
 * fewer. Server time to open (connect → first sync of the epoch), the server's
 * memory held for the open room (its heap and the memory outside the heap, each after a full
 * collection, bench/memory-probe.ts) and its resident set's increase, bytes downloaded (WebSocket payloads plus the HTTP response), the client's time
 * and heap to apply the epoch's document, the SQLite files' size, and catching up after missing 100
 * messages.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import * as Y from 'yjs';
import { DEFAULT_EPOCH_LIMITS } from '../../server/sync/epochs.ts';
import type { ConversationDto } from '../../src/lib/shared/api-types.ts';
import { HISTORY_PAGE_DEFAULT } from '../../src/lib/shared/limits.ts';
import { config } from '../config.ts';
import { getCounted, newCounter, sleep, waitUntil } from '../measure.ts';
import type { Row } from '../report.ts';
import type { AppSystem } from '../systems/app.ts';
import type { Client, Room, User } from '../systems/types.ts';
import { windowed, type Scenario } from './common.ts';
import { seedRoom } from './seed.ts';

const MB = 1024 * 1024;
/** What the web client shows on opening a conversation: one page. */
const LAST_PAGE = HISTORY_PAGE_DEFAULT;

type Figures = Record<string, number>;

function directoryBytes(dir: string): number {
	return readdirSync(dir).reduce((sum, name) => sum + statSync(join(dir, name)).size, 0);
}

/** Heap in use after a full collection (when node runs with --expose-gc; otherwise as it is). */
function heapUsed(): number {
	globalThis.gc?.();
	return process.memoryUsage().heapUsed;
}

/** The owner writes the long history, following the epochs; returns the owner's room (closed) to come back to. */
async function writeHistory(app: AppSystem, owner: User, conversationId: string, figures: Figures): Promise<Room> {
	const { room, seconds } = await seedRoom(app, owner, conversationId, config.long);
	figures.writeSeconds = seconds;
	return room;
}

/**
 * The open epoch as full as one that stays open gets: a full epoch ends at the next quiet moment
 * (EPOCH-1) and at the next load, so the biggest a member opens after a restart is just under the
 * limits. After the history (whose last roll-over may have left one message), the owner waits for a
 * quiet moment and then writes one by one up to nine tenths of the message limit (with the default
 * limits the bench's 80-character messages then fill about 29 of the epoch's 32 KB too). The row
 * "messages in the open epoch" shows what the member opened.
 */
async function fillOpenEpoch(app: AppSystem, owner: User, conversationId: string, ownerRoom: Room): Promise<Room> {
	await sleep(DEFAULT_EPOCH_LIMITS.quietMs + 500);
	const counter = newCounter();
	const { conversation } = await getCounted<{ conversation: ConversationDto }>(`${app.url}/api/conversations/${conversationId}`, owner.token, counter);
	const newest = (await app.epochs.history(conversationId, owner, counter, { limit: 1 })).messages[0]?.seq ?? 0;
	const inEpoch = Math.max(0, newest - conversation.epochFirstSeq + 1);
	const more = Math.max(0, Math.floor(DEFAULT_EPOCH_LIMITS.messages * 0.9) - inEpoch);
	const client = app.connect(owner, newCounter());
	const room = await client.open(conversationId, ownerRoom);
	await windowed(room, more, config.window, () => room.send(ulid(), config.body));
	client.close();
	return room;
}

/** The member opens a short room and its last page, then leaves it. */
async function warmUp(app: AppSystem, member: User, conversationId: string): Promise<void> {
	await app.epochs.current(conversationId, member, newCounter());
	const client = app.connect(member, newCounter());
	const room = await client.open(conversationId);
	await room.loadLastPage!(LAST_PAGE);
	client.close();
	await sleep(500);
}

/** After a restart, the new member opens the room at its current epoch and shows the last page. */
async function openAsNewMember(app: AppSystem, member: User, conversationId: string, figures: Figures): Promise<{ client: Client; room: Room }> {
	// The epoch the member's conversation list names: not part of opening the room.
	figures.epoch = await app.epochs.current(conversationId, member, newCounter());
	const before = await app.memory();
	const counter = newCounter();
	const opening = performance.now();
	const client = app.connect(member, counter);
	const room = await client.open(conversationId);
	figures.openMs = performance.now() - opening;
	figures.epochMessages = room.size();
	figures.syncKB = counter.bytes / 1024;
	await room.loadLastPage!(LAST_PAGE);
	figures.historyKB = counter.bytes / 1024 - figures.syncKB;
	figures.downloadKB = counter.bytes / 1024;
	figures.messagesShown = room.size();
	await sleep(500);
	const after = await app.memory();
	figures.heldMB = (after.heapUsed + after.external - before.heapUsed - before.external) / MB;
	figures.rssIncreaseMB = (after.rss - before.rss) / MB;
	return { client, room };
}

/** The client's cost of the epoch's document: applying it to a new Y.Doc, time and heap. */
function applyCost(room: Room, figures: Figures): void {
	const update = room.encodeState!();
	const heapBefore = heapUsed();
	const applying = performance.now();
	const copy = new Y.Doc();
	Y.applyUpdate(copy, update);
	figures.applyMs = performance.now() - applying;
	figures.applyHeapMB = (heapUsed() - heapBefore) / MB;
	copy.destroy();
}

/** The member goes offline, the owner comes back and writes `config.longMissed` messages one by one, the member comes back. */
async function catchUp(
	app: AppSystem,
	conversationId: string,
	owner: { user: User; room: Room },
	member: { user: User; client: Client; room: Room },
	figures: Figures
): Promise<void> {
	const held = member.room.size();
	member.client.close();
	const writer = app.connect(owner.user, newCounter());
	const room = await writer.open(conversationId, owner.room);
	await windowed(room, config.longMissed, config.window, () => room.send(ulid(), config.body));
	const counter = newCounter();
	const catchingUp = performance.now();
	const back = app.connect(member.user, counter);
	const backRoom = await back.open(conversationId, member.room);
	const complete = await waitUntil(() => backRoom.size() >= held + config.longMissed, 30_000, 1);
	figures.catchUpMs = complete ? performance.now() - catchingUp : NaN;
	figures.catchUpBytesPerMessage = counter.bytes / config.longMissed;
	back.close();
	writer.close();
}

export const longRoomScenario: Scenario = async (bench) => {
	const app = (await bench.fresh('app')) as AppSystem;
	const figures: Figures = {};
	try {
		const [owner, friend, newcomer] = await app.users(3);
		const conversationId = await app.conversation([owner!, friend!]);
		const ownerRoom = await fillOpenEpoch(app, owner!, conversationId, await writeHistory(app, owner!, conversationId, figures));
		await app.addMember(conversationId, owner!, newcomer!);
		const short = await app.conversation([owner!, newcomer!]);
		await seedRoom(app, owner!, short, LAST_PAGE);

		await app.restart();
		await sleep(1000);
		figures.sqliteMB = directoryBytes(app.dataDir) / MB;
		await warmUp(app, newcomer!, short);
		const { client, room } = await openAsNewMember(app, newcomer!, conversationId, figures);
		applyCost(room, figures);
		await catchUp(app, conversationId, { user: owner!, room: ownerRoom }, { user: newcomer!, client, room }, figures);
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
		row('server ms to open (connect → epoch synced)', figures.openMs, 0, { on: 'app', op: '<=', limit: 50, unit: 'ms' }),
		row('server memory held for the open room MB', figures.heldMB, 1, { on: 'app', op: '<=', limit: 5, unit: 'MB' }),
		row('  server RSS increase MB', figures.rssIncreaseMB, 1),
		row(`KB downloaded to show the last ${LAST_PAGE}`, figures.downloadKB, 1, { on: 'app', op: '<=', limit: 100, unit: 'KB' }),
		row('  of which epoch sync KB', figures.syncKB, 1),
		row('  of which history page KB', figures.historyKB, 1),
		row('messages in the open epoch', figures.epochMessages, 0),
		row('messages shown (epoch + history page)', figures.messagesShown, 0),
		row('client ms to apply the epoch', figures.applyMs, 1),
		row('client heap MB for the epoch', figures.applyHeapMB, 2),
		row('SQLite files MB', figures.sqliteMB, 1),
		row(`ms to catch up ${config.longMissed} missed`, figures.catchUpMs, 0),
		row('bytes per missed msg', figures.catchUpBytesPerMessage, 0),
		row('epochs ended while writing', figures.epoch, 0),
		row('s to write the messages', figures.writeSeconds, 1)
	];
};
