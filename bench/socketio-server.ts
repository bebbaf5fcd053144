/**
 * The Socket.IO baseline: a plain chat server as a good tutorial would write it, with nothing
 * clever. A handshake middleware checks `auth.token` against the `tokens` table; `join` checks
 * membership, joins the conversation's room and answers with the messages after the client's last
 * sequence number (the catch-up path); `send` inserts the message with the next per-conversation
 * sequence number, relays it to the room and acknowledges the sender with the number; `receipt`
 * stores a member's delivered/read markers and relays them to the room. SQLite through
 * better-sqlite3 (WAL, prepared statements). Prints "listening on <url>" like server/index.ts.
 *
 * Env: DATA_DIR (required), SQLITE_SYNCHRONOUS (default NORMAL), PORT (default 0).
 * `POST /seed {users: [{id, token}], members: [{conversationId, userId}]}` creates the bench's
 * accounts and conversations.
 */
import Database from 'better-sqlite3';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Server } from 'socket.io';

const dataDir = process.env.DATA_DIR;
if (!dataDir) throw new Error('DATA_DIR is required');
const db = new Database(join(dataDir, 'chat.db'));
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${process.env.SQLITE_SYNCHRONOUS === 'FULL' ? 'FULL' : 'NORMAL'}`);
db.exec(`
	CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, user_id TEXT NOT NULL);
	CREATE TABLE IF NOT EXISTS members (conversation_id TEXT NOT NULL, user_id TEXT NOT NULL, PRIMARY KEY (conversation_id, user_id));
	CREATE TABLE IF NOT EXISTS messages (
		conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, id TEXT NOT NULL UNIQUE,
		author TEXT NOT NULL, body TEXT NOT NULL, created_at INTEGER NOT NULL,
		PRIMARY KEY (conversation_id, seq)
	);
	CREATE TABLE IF NOT EXISTS receipts (
		conversation_id TEXT NOT NULL, user_id TEXT NOT NULL, delivered_seq INTEGER NOT NULL, read_seq INTEGER NOT NULL,
		PRIMARY KEY (conversation_id, user_id)
	);
`);

interface MessageRow {
	conversation_id: string;
	seq: number;
	id: string;
	author: string;
	body: string;
	created_at: number;
}

const userOfToken = db.prepare<[string], { user_id: string }>('SELECT user_id FROM tokens WHERE token = ?');
const isMember = db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM members WHERE conversation_id = ? AND user_id = ?');
const messagesAfter = db.prepare<[string, number], MessageRow>('SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq');
const insertMessage = db.prepare<Omit<MessageRow, 'seq'>, { seq: number }>(`
	INSERT INTO messages (conversation_id, seq, id, author, body, created_at)
	VALUES (@conversation_id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation_id = @conversation_id), @id, @author, @body, @created_at)
	ON CONFLICT (id) DO NOTHING
	RETURNING seq
`);
const messageById = db.prepare<[string], MessageRow>('SELECT * FROM messages WHERE id = ?');
const upsertReceipt = db.prepare(`
	INSERT INTO receipts (conversation_id, user_id, delivered_seq, read_seq) VALUES (?, ?, ?, ?)
	ON CONFLICT (conversation_id, user_id) DO UPDATE SET
		delivered_seq = MAX(delivered_seq, excluded.delivered_seq), read_seq = MAX(read_seq, excluded.read_seq)
`);
const insertToken = db.prepare('INSERT OR IGNORE INTO tokens (token, user_id) VALUES (?, ?)');
const insertMember = db.prepare('INSERT OR IGNORE INTO members (conversation_id, user_id) VALUES (?, ?)');
const seed = db.transaction((input: { users?: Array<{ id: string; token: string }>; members?: Array<{ conversationId: string; userId: string }> }) => {
	for (const user of input.users ?? []) insertToken.run(user.token, user.id);
	for (const member of input.members ?? []) insertMember.run(member.conversationId, member.userId);
});

async function readBody(request: IncomingMessage): Promise<string> {
	let body = '';
	for await (const chunk of request) body += String(chunk);
	return body;
}

const server = createServer((request, response) => {
	if (request.method !== 'POST' || request.url !== '/seed') return void response.writeHead(404).end();
	readBody(request).then(
		(body) => {
			seed(JSON.parse(body));
			response.writeHead(204).end();
		},
		() => response.writeHead(400).end()
	);
});
const io = new Server(server, { serveClient: false });

io.use((socket, next) => {
	const token: unknown = socket.handshake.auth.token;
	const row = typeof token === 'string' ? userOfToken.get(token) : undefined;
	if (!row) return next(new Error('unauthenticated'));
	socket.data.userId = row.user_id;
	next();
});

type Ack = (reply: unknown) => void;
const isSeq = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;

io.on('connection', (socket) => {
	const userId = socket.data.userId as string;

	socket.on('join', (conversationId: unknown, lastSeq: unknown, ack: Ack) => {
		if (typeof ack !== 'function') return;
		if (typeof conversationId !== 'string' || !isSeq(lastSeq)) return ack({ error: 'invalid' });
		if (!isMember.get(conversationId, userId)) return ack({ error: 'not-a-member' });
		void socket.join(conversationId);
		ack({ messages: messagesAfter.all(conversationId, lastSeq) });
	});

	socket.on('leave', (conversationId: unknown) => {
		if (typeof conversationId === 'string') void socket.leave(conversationId);
	});

	socket.on('send', (message: { conversationId?: unknown; id?: unknown; body?: unknown }, ack: Ack) => {
		if (typeof ack !== 'function') return;
		const { conversationId, id, body } = message ?? {};
		if (typeof conversationId !== 'string' || typeof id !== 'string' || typeof body !== 'string') return ack({ error: 'invalid' });
		if (!socket.rooms.has(conversationId)) return ack({ error: 'not-joined' });
		const text = body.trim();
		if (text.length === 0 || text.length > 2000) return ack({ error: 'invalid-body' });
		const row = { conversation_id: conversationId, id, author: userId, body: text, created_at: Date.now() };
		const inserted = insertMessage.get(row);
		// A resend of a message already stored is acknowledged again, not stored twice.
		if (!inserted) return ack({ seq: messageById.get(id)?.seq });
		socket.to(conversationId).emit('message', { ...row, seq: inserted.seq });
		ack({ seq: inserted.seq });
	});

	socket.on('receipt', (receipt: { conversationId?: unknown; deliveredSeq?: unknown; readSeq?: unknown }) => {
		const { conversationId, deliveredSeq = 0, readSeq = 0 } = receipt ?? {};
		if (typeof conversationId !== 'string' || !isSeq(deliveredSeq) || !isSeq(readSeq) || !socket.rooms.has(conversationId)) return;
		upsertReceipt.run(conversationId, userId, deliveredSeq, readSeq);
		socket.to(conversationId).emit('receipt', { conversationId, userId, deliveredSeq, readSeq });
	});
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
	console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => {
	void io.close();
	db.close();
	process.exit(0);
});
