/** What the scenarios share: the systems, rounds that alternate them, a writer with its readers, pacing. */
import { performance } from 'node:perf_hooks';
import { config } from '../config.ts';
import { newCounter, sumCounters, type Counter } from '../measure.ts';
import type { Row } from '../report.ts';
import type { Client, Room, System, SystemName, User } from '../systems/types.ts';

export interface Bench {
	/** The system's instance shared by scenarios 1–4, started on first use. */
	shared(name: SystemName): Promise<System>;
	/** A new instance of its own: the caller stops it. */
	fresh(name: SystemName): Promise<System>;
	/** Detailed figures for the results file. */
	details: Record<string, unknown>;
}

export type Scenario = (bench: Bench) => Promise<Row[]>;

/** Runs `work` for every system in every round, alternating which goes first. */
export async function alternate<T>(names: SystemName[], rounds: number, work: (name: SystemName, round: number) => Promise<T>): Promise<Map<SystemName, T[]>> {
	const results = new Map<SystemName, T[]>(names.map((n) => [n, []]));
	for (let round = 0; round < rounds; round++) {
		for (const name of round % 2 ? [...names].reverse() : names) results.get(name)!.push(await work(name, round));
	}
	return results;
}

export const ALL: SystemName[] = ['app', 'socketio', 'bare'];

export interface Member {
	user: User;
	client: Client;
	room: Room;
	counter: Counter;
}

/** Every user connected on a socket of their own, with the conversation open; `inbox` opens their user channel too. */
export async function connectAll(system: System, users: User[], conversationId: string, inbox = false): Promise<Member[]> {
	return Promise.all(
		users.map(async (user) => {
			const counter = newCounter();
			const client = system.connect(user, counter);
			if (inbox && client.openInbox) await client.openInbox();
			return { user, client, counter, room: await client.open(conversationId) };
		})
	);
}

export function closeAll(members: Member[]): void {
	for (const member of members) member.client.close();
}

export const received = (members: Member[]) => sumCounters(members.map((m) => m.counter));

/** A new conversation of `1 + readers` users from `offset` in the system's pool: the first writes. */
export async function writerAndReaders(
	system: System,
	readers: number,
	offset = 0
): Promise<{ conversationId: string; writer: Member; readers: Member[]; all: Member[] }> {
	const users = (await system.users(offset + 1 + readers)).slice(offset);
	const conversationId = await system.conversation(users);
	const all = await connectAll(system, users, conversationId);
	return { conversationId, writer: all[0]!, readers: all.slice(1), all };
}

/** Send→receive latency of every delivery to every reader. */
export class Deliveries {
	readonly sentAt = new Map<string, number>();
	readonly latencies: number[] = [];
	lastAt = 0;

	watch(room: Room): void {
		room.onMessage((id) => {
			const at = this.sentAt.get(id);
			if (at === undefined) return;
			const now = performance.now();
			this.latencies.push(now - at);
			this.lastAt = now;
		});
	}

	send(room: Room, id: string): void {
		this.sentAt.set(id, performance.now());
		room.send(id, config.body);
	}
}

/**
 * Calls `send(i)` for i = 0…count-1 at `rate` per second from now (each sender in `phase` of a
 * period later, so that many senders do not fire together); resolves once all are sent.
 */
export function paced(rate: number, count: number, send: (i: number) => void, phase = 0): Promise<void> {
	const start = performance.now() + (phase * 1000) / rate;
	let sent = 0;
	return new Promise((resolve) => {
		const tick = () => {
			const due = Math.min(count, Math.floor(((performance.now() - start) / 1000) * rate) + 1);
			while (sent < due) send(sent++);
			if (sent < count) setTimeout(tick, 1);
			else resolve();
		};
		tick();
	});
}

/** Sends `count` messages as fast as acknowledgements allow, with at most `window` unacknowledged; resolves when all are acknowledged. */
export function windowed(room: Room, count: number, window: number, send: (i: number) => void): Promise<void> {
	const base = room.acked();
	let sent = 0;
	return new Promise((resolve) => {
		const pump = () => {
			while (sent < count && sent - (room.acked() - base) < window) send(sent++);
			if (room.acked() - base >= count) resolve();
		};
		room.onAck(pump);
		pump();
	});
}
