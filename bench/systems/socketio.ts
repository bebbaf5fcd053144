/** The Socket.IO baseline (bench/socketio-server.ts) and its client: one socket.io-client socket per device. */
import { randomBytes } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';
import { ulid } from 'ulid';
import { tempDataDir } from '../../tests/utils/server.ts';
import { config } from '../config.ts';
import type { Counter } from '../measure.ts';
import { removeAtExit, spawnListening } from '../processes.ts';
import type { Client, Room, System, User } from './types.ts';

interface MessageRow {
	conversation_id: string;
	seq: number;
	id: string;
}

class SocketIoRoom implements Room {
	readonly ids: Set<string>;
	lastSeq: number;
	#acked = 0;
	readonly #ackListeners: Array<() => void> = [];
	readonly #messageListeners: Array<(id: string) => void> = [];
	readonly #seqListeners: Array<(seq: number) => void> = [];
	readonly #onRow = (row: MessageRow) => {
		if (row.conversation_id === this.conversationId) this.take(row);
	};

	constructor(
		private readonly socket: Socket,
		private readonly conversationId: string,
		resume?: SocketIoRoom
	) {
		this.ids = new Set(resume?.ids);
		this.lastSeq = resume?.lastSeq ?? 0;
		socket.on('message', this.#onRow);
	}

	/** A message from the server: live, or in the join's catch-up. */
	take(row: MessageRow): void {
		if (this.ids.has(row.id)) return;
		this.ids.add(row.id);
		this.lastSeq = Math.max(this.lastSeq, row.seq);
		for (const listener of this.#messageListeners) listener(row.id);
		for (const listener of this.#seqListeners) listener(row.seq);
	}

	send(id: string, body: string): void {
		this.ids.add(id);
		this.socket.emit('send', { conversationId: this.conversationId, id, body }, (reply: { seq?: number; error?: string }) => {
			if (reply.seq === undefined) throw new Error(`send refused: ${reply.error}`);
			this.lastSeq = Math.max(this.lastSeq, reply.seq);
			this.#acked += 1;
			for (const listener of this.#ackListeners) listener();
			for (const listener of this.#seqListeners) listener(reply.seq);
		});
	}

	acked(): number {
		return this.#acked;
	}

	onAck(listener: () => void): void {
		this.#ackListeners.push(listener);
	}

	onMessage(listener: (id: string) => void): void {
		this.#messageListeners.push(listener);
	}

	onSequenced(listener: (seq: number) => void): void {
		this.#seqListeners.push(listener);
	}

	/** The same two receipts the web client sends this project, as two events. */
	receipt(deliveredSeq: number, readSeq: number): void {
		this.socket.emit('receipt', { conversationId: this.conversationId, deliveredSeq });
		this.socket.emit('receipt', { conversationId: this.conversationId, readSeq });
	}

	size(): number {
		return this.ids.size;
	}

	close(): void {
		this.socket.off('message', this.#onRow);
		this.socket.emit('leave', this.conversationId);
	}
}

function socketIoClient(url: string, user: User, counter: Counter): Client {
	const socket = io(url, { transports: ['websocket'], auth: { token: user.token }, forceNew: true, reconnection: false });
	// Every engine.io packet is one WebSocket text frame: its type digit and its data.
	socket.io.engine.on('packet', (packet: { type: string; data?: unknown }) => {
		counter.frames += 1;
		counter.bytes += 1 + (typeof packet.data === 'string' ? Buffer.byteLength(packet.data) : 0);
	});
	const connected = new Promise<void>((resolve, reject) => {
		socket.once('connect', resolve);
		socket.once('connect_error', (error) => reject(new Error(`socket.io connect failed: ${error.message}`)));
	});
	return {
		async open(conversationId, resume) {
			await connected;
			const room = new SocketIoRoom(socket, conversationId, resume instanceof SocketIoRoom ? resume : undefined);
			const reply = (await socket.emitWithAck('join', conversationId, room.lastSeq)) as { messages?: MessageRow[]; error?: string };
			if (!reply.messages) throw new Error(`join refused: ${reply.error}`);
			for (const row of reply.messages) room.take(row);
			return room;
		},
		close() {
			socket.disconnect();
		}
	};
}

export async function startSocketIo(): Promise<System> {
	const data = tempDataDir();
	const cleanup = removeAtExit(data.remove);
	const server = await spawnListening('bench/socketio-server.ts', { DATA_DIR: data.dir, SQLITE_SYNCHRONOUS: config.socketIoSynchronous });
	const seed = async (body: unknown) => {
		const response = await fetch(`${server.url}/seed`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
		if (!response.ok) throw new Error(`seeding the Socket.IO server failed: ${response.status}`);
	};
	const pool: User[] = [];
	return {
		name: 'socketio',
		pid: server.child.pid!,
		async users(n) {
			const more = Array.from({ length: Math.max(0, n - pool.length) }, (_, i): User => {
				const id = `user-${pool.length + i}`;
				return { id, username: id, token: randomBytes(24).toString('base64url') };
			});
			if (more.length) await seed({ users: more });
			pool.push(...more);
			return pool.slice(0, n);
		},
		async conversation(members) {
			const conversationId = ulid();
			await seed({ members: members.map((m) => ({ conversationId, userId: m.id })) });
			return conversationId;
		},
		connect: (user, counter) => socketIoClient(server.url, user, counter),
		async stop() {
			await server.stop();
			cleanup.done();
		}
	};
}
