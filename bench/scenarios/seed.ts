/** Filling a room with history through the sync path, as a busy writer would (long-room, web-open). */
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import { config } from '../config.ts';
import { newCounter } from '../measure.ts';
import type { AppSystem } from '../systems/app.ts';
import type { Room, User } from '../systems/types.ts';

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

export interface Seeded {
	/** The writer's room (its socket closed), to come back to with `client.open(id, room)`. */
	room: Room;
	seconds: number;
}

/**
 * `writer` writes `count` messages of `config.body` into the conversation, `config.longBatch` to an
 * update, following the epochs as they end; resolves once the server has acknowledged them all.
 */
export async function seedRoom(app: AppSystem, writer: User, conversationId: string, count: number): Promise<Seeded> {
	const writing = performance.now();
	const client = app.connect(writer, newCounter());
	const room = await client.open(conversationId);
	await writeBatches(room, count, config.longBatch);
	const seconds = (performance.now() - writing) / 1000;
	client.close();
	return { room, seconds };
}
