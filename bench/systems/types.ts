/** What a scenario drives: three chat systems behind one client interface. */
import type { Counter } from '../measure.ts';

export type SystemName = 'app' | 'socketio' | 'bare';

export const LABELS: Record<SystemName, string> = {
	app: 'this project',
	socketio: 'Socket.IO chat',
	bare: 'raw Hocuspocus'
};

export interface User {
	id: string;
	username: string;
	token: string;
}

/** A chat server in its own process, started by the bench. */
export interface System {
	name: SystemName;
	/** The server process, for /proc readings. */
	pid: number;
	/** `n` users who can connect (the first `n` of this system's pool, created when first needed). */
	users(n: number): Promise<User[]>;
	/** A new conversation of these members, created by the first. */
	conversation(members: User[]): Promise<string>;
	/** One client socket of `user`, counting what it receives into `counter`. */
	connect(user: User, counter: Counter): Client;
	stop(): Promise<void>;
}

/** One device: a socket carrying any number of conversations. */
export interface Client {
	/**
	 * Opens a conversation; resolves once its history is here (synced, or joined; this project: its
	 * current epoch, and what the device missed of ended ones). `resume` is a room this device had before.
	 */
	open(conversationId: string, resume?: Room): Promise<Room>;
	/** The user's live inbox channel, where the system has one (this project: `user:<id>`). */
	openInbox?(): Promise<void>;
	close(): void;
}

/** One open conversation on a client. */
export interface Room {
	send(id: string, body: string): void;
	/** Several messages in one update (Hocuspocus systems: one `doc.transact`). */
	sendBatch?(ids: string[], body: string): void;
	/** How many of the messages this room sent the server has acknowledged. */
	acked(): number;
	onAck(listener: () => void): void;
	/**
	 * A message arrived from someone else (or in a catch-up), once per message (this project: when
	 * its sequence number arrives, in whichever epoch).
	 */
	onMessage(listener: (id: string) => void): void;
	/** A message (anyone's, own included) got its sequence number. */
	onSequenced?(listener: (seq: number) => void): void;
	/** Delivered and read receipts, sent the way the web client sends them. */
	receipt?(deliveredSeq: number, readSeq: number): void;
	/** Messages this device holds for the conversation (this project: in any epoch it had open, or paged in from the history). */
	size(): number;
	/** Holds at least the newest `count` messages (this project: one page of history when the current epoch holds fewer). */
	loadLastPage?(count: number): Promise<void>;
	/** The conversation's document as this device holds it (this project: its current epoch), as one update (Hocuspocus systems). */
	encodeState?(): Uint8Array;
	close(): void;
}
