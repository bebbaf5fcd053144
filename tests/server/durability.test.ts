import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ulid } from 'ulid';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { QuietWebSocket } from '../utils/quiet-websocket.ts';
import * as Y from 'yjs';
import { messagesMap, orderedMessages, seqMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { conversationDocName } from '../../src/lib/shared/protocol.ts';
import { Compactor } from '../../server/sync/compactor.ts';
import { migrateDatabase, openDatabase } from '../../src/lib/server/db/index.ts';
import {
	api,
	connectClient,
	createAccount,
	createConversation,
	spawnServer,
	startTestServer,
	tempDataDir,
	waitFor,
	type ServerProcess
} from '../utils/server.ts';

/**
 * One epoch holds every message of a test that is about the log or the WAL, not about epochs: a raw
 * test client does not follow a roll-over, so a burst that fills the default epoch would leave its
 * tail unsequenced.
 */
const ONE_EPOCH = { EPOCH_MESSAGES: '100000', EPOCH_BYTES: String(64 * 1024 * 1024) };

type History = { messages: Array<{ id: string; seq: number; body: string }>; nextCursor: number | null };

describe('durability', () => {
	const cleanups: Array<() => unknown> = [];
	afterEach(async () => {
		for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
	});

	async function spawn(dir: string): Promise<ServerProcess> {
		const server = await spawnServer(dir);
		cleanups.push(() => server.kill('SIGKILL'));
		return server;
	}

	/** A server process on a fresh data folder, alice and bob in a direct conversation, alice connected. */
	async function aliceConnected() {
		const data = tempDataDir();
		cleanups.push(data.remove);
		const server = await spawn(data.dir);
		const alice = await createAccount(server.url);
		const bob = await createAccount(server.url);
		const conversationId = await createConversation(server.url, alice, [bob], '');
		const client = connectClient(server.wsUrl, conversationId, alice.token);
		cleanups.push(() => client.destroy());
		await client.synced;
		return { data, server, alice, bob, conversationId, client };
	}

	it('[DUR-1] a message acknowledged as sent survives kill -9 the instant after the acknowledgement', async () => {
		const { data, server, alice, bob, conversationId, client } = await aliceConnected();

		const ids = Array.from({ length: 25 }, () => ulid());
		const acknowledged: string[] = [];
		// Kill from inside the observer that sees the acknowledgement: nothing else can run in between.
		seqMap(client.doc).observe((event) => {
			for (const id of event.keysChanged) acknowledged.push(id);
			if (acknowledged.length === ids.length) server.child.kill('SIGKILL');
		});
		for (const [i, id] of ids.entries()) writeMessage(client.doc, { id, author: alice.id, body: `message ${i}` });
		expect(await server.exited).toBe('SIGKILL');
		client.destroy();

		const restarted = await spawn(data.dir);
		const history = await api<History>(restarted.url, `/api/conversations/${conversationId}/messages?limit=200`, { token: bob.token });
		expect(history.body.messages.map((m) => m.id).sort()).toEqual([...acknowledged].sort());
		expect(acknowledged.sort()).toEqual([...ids].sort());

		const reader = connectClient(restarted.wsUrl, conversationId, bob.token);
		cleanups.push(() => reader.destroy());
		await reader.synced;
		expect(orderedMessages(reader.doc).map((m) => m.id)).toEqual(history.body.messages.map((m) => m.id));
	});

	it('[DUR-1] the provider’s sync acknowledgement also comes only after the commit', async () => {
		const { data, server, alice, bob, conversationId, client } = await aliceConnected();
		const id = ulid();
		client.provider.on('unsyncedChanges', ({ number }: { number: number }) => {
			if (number === 0 && messagesMap(client.doc).has(id)) server.child.kill('SIGKILL');
		});
		writeMessage(client.doc, { id, author: alice.id, body: 'acked by sync status' });
		expect(await server.exited).toBe('SIGKILL');

		const restarted = await spawn(data.dir);
		const history = await api<History>(restarted.url, `/api/conversations/${conversationId}/messages`, { token: bob.token });
		expect(history.body.messages.map((m) => m.id)).toEqual([id]);
	});

	it('[DUR-2] a restart (SIGTERM) keeps every message, its order and the sequence', async () => {
		const data = tempDataDir();
		cleanups.push(data.remove);
		const server = await spawn(data.dir);
		const alice = await createAccount(server.url);
		const bob = await createAccount(server.url);
		const conversationId = await createConversation(server.url, alice, [bob], 'Restart');
		const client = connectClient(server.wsUrl, conversationId, alice.token);
		await client.synced;
		for (let i = 0; i < 10; i++) writeMessage(client.doc, { id: ulid(), author: alice.id, body: `before ${i}` });
		await waitFor(() => seqMap(client.doc).size === 10);
		const before = orderedMessages(client.doc);
		client.destroy();
		expect(await server.kill('SIGTERM')).toBe(0);

		const restarted = await spawn(data.dir);
		const reader = connectClient(restarted.wsUrl, conversationId, bob.token);
		cleanups.push(() => reader.destroy());
		await reader.synced;
		expect(orderedMessages(reader.doc)).toEqual(before);
		const sent = await api<{ message: { seq: number } }>(restarted.url, `/api/conversations/${conversationId}/messages`, {
			token: bob.token,
			body: { body: 'after restart' }
		});
		expect(sent.body.message.seq).toBe(11);
	});

	it('[DUR-3] the update log is folded into a snapshot, so loading does not replay every update ever received', async () => {
		const data = tempDataDir();
		cleanups.push(data.remove);
		const server = await startTestServer(data.dir, ONE_EPOCH);
		cleanups.push(() => server.close());
		const alice = await createAccount(server.url);
		const bob = await createAccount(server.url);
		const conversationId = await createConversation(server.url, alice, [bob], 'Busy');
		const client = connectClient(server.wsUrl, conversationId, alice.token);
		cleanups.push(() => client.destroy());
		await client.synced;
		const total = 600;
		for (let i = 0; i < total; i++) {
			writeMessage(client.doc, { id: ulid(), author: alice.id, body: `m${i}` });
			if (i % 50 === 49) await waitFor(() => seqMap(client.doc).size === i + 1, 10_000);
		}
		await waitFor(() => seqMap(client.doc).size === total, 10_000);

		const sqlite = new Database(join(data.dir, 'chat.sqlite'), { readonly: true });
		cleanups.push(() => sqlite.close());
		const logged = () => (sqlite.prepare('select count(*) as n from doc_updates where conversation_id = ?').get(conversationId) as { n: number }).n;
		const snapshotBytes = () =>
			(sqlite.prepare('select length(state) as bytes from doc_snapshots where conversation_id = ?').get(conversationId) as { bytes: number } | undefined)
				?.bytes ?? 0;
		// 600 messages made 1,200 updates (the message, then its sequence number); folding (on a worker) keeps fewer than 500.
		await waitFor(() => logged() < 500 && snapshotBytes() > 0, 10_000, 'the log to be folded');
		expect(logged()).toBeLessThan(500);

		client.destroy();
		await server.close();
		cleanups.pop();
		const again = await startTestServer(data.dir, ONE_EPOCH);
		cleanups.push(() => again.close());
		const reader = connectClient(again.wsUrl, conversationId, bob.token);
		cleanups.push(() => reader.destroy());
		await reader.synced;
		expect(orderedMessages(reader.doc).map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
	});
});

describe('checkpoints', () => {
	it('[DUR-5] the WAL is checkpointed on the worker: the main connection never does it, and the database file catches up within seconds', async () => {
		const data = tempDataDir();
		const server = await startTestServer(data.dir, ONE_EPOCH);
		try {
			expect(server.app.core.db.$client.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
			const alice = await createAccount(server.url);
			const bob = await createAccount(server.url);
			const conversationId = await createConversation(server.url, alice, [bob], '');
			const file = join(data.dir, 'chat.sqlite');
			const before = statSync(file).size;
			const client = connectClient(server.wsUrl, conversationId, alice.token);
			await client.synced;
			for (let i = 0; i < 300; i++) writeMessage(client.doc, { id: ulid(), author: alice.id, body: `page filler ${i} `.repeat(20).trim() });
			await waitFor(() => seqMap(client.doc).size === 300, 15_000, 'the acknowledgements');
			client.destroy();
			// Only a checkpoint moves pages from the WAL into the database file.
			await waitFor(() => statSync(file).size > before + 100_000, 5000, 'the database file to grow');
		} finally {
			await server.close();
			data.remove();
		}
	});
});

describe('the WAL stays bounded', () => {
	/** A commit of about a page every millisecond for `ms` (a busy room); returns the largest WAL size seen. */
	async function steadyWrites(walLimitPages: number, ms: number): Promise<number> {
		const data = tempDataDir();
		const file = join(data.dir, 'wal.sqlite');
		// The app's schema (the worker prepares its statements on it), and a table to fill.
		const orm = openDatabase(file, 'NORMAL');
		migrateDatabase(orm, fileURLToPath(new URL('../../drizzle', import.meta.url)));
		const db = orm.$client;
		db.exec('create table filler (id integer primary key, body blob)');
		const compactor = new Compactor(file, 'NORMAL', { walLimitPages });
		compactor.takeOverCheckpoints(db, 50);
		const insert = db.prepare('insert into filler (body) values (?)');
		const body = Buffer.alloc(3000, 7);
		let largest = 0;
		const until = Date.now() + ms;
		while (Date.now() < until) {
			insert.run(body);
			largest = Math.max(largest, statSync(`${file}-wal`).size);
			await new Promise((resolve) => setTimeout(resolve, 1));
		}
		await compactor.close();
		db.close();
		data.remove();
		return largest;
	}

	it('[DUR-6] under commits that never stop, the worker empties a long WAL instead of letting it grow', async () => {
		// A second and a half of commits appends thousands of pages; the limit keeps the file to a few hundred.
		const bounded = await steadyWrites(64, 1500);
		expect(bounded).toBeLessThan(4 * 1024 * 1024);
		const unbounded = await steadyWrites(1_000_000, 1500);
		expect(unbounded).toBeGreaterThan(2 * bounded);
	});

	it('[DUR-6] a server process that stops (SIGTERM) leaves no WAL behind: the next start has nothing to recover', async () => {
		const data = tempDataDir();
		const wal = join(data.dir, 'chat.sqlite-wal');
		const server = await spawnServer(data.dir);
		try {
			const alice = await createAccount(server.url);
			const bob = await createAccount(server.url);
			const conversationId = await createConversation(server.url, alice, [bob], '');
			const client = connectClient(server.wsUrl, conversationId, alice.token);
			await client.synced;
			for (let i = 0; i < 50; i++) writeMessage(client.doc, { id: ulid(), author: alice.id, body: `before the stop ${i}` });
			await waitFor(() => seqMap(client.doc).size === 50, 15_000, 'the acknowledgements');
			client.destroy();
			expect(statSync(wal).size).toBeGreaterThan(0);
		} finally {
			expect(await server.kill('SIGTERM')).toBe(0);
		}
		expect(existsSync(wal) ? statSync(wal).size : 0).toBe(0);
		const restarted = await spawnServer(data.dir);
		try {
			const owner = await createAccount(restarted.url);
			expect(owner.token).toBeTruthy();
		} finally {
			await restarted.kill('SIGTERM');
			data.remove();
		}
	});
});

describe('group commit across conversations', () => {
	const cleanups: Array<() => unknown> = [];
	afterEach(async () => {
		for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
	});

	/** Providers for several conversations over one socket, so their updates leave (and arrive) together. */
	function oneSocket(wsUrl: string, conversationIds: string[], token: string) {
		const socket = new HocuspocusProviderWebsocket({ url: wsUrl, WebSocketPolyfill: QuietWebSocket, delay: 50, minDelay: 50, maxDelay: 500 });
		const clients = conversationIds.map((id) => {
			const doc = new Y.Doc();
			const refusals: string[] = [];
			const provider = new HocuspocusProvider({
				websocketProvider: socket,
				name: conversationDocName(id),
				document: doc,
				token,
				onClose: ({ event }) => void (event.reason && refusals.push(event.reason))
			});
			provider.attach();
			const synced = new Promise<void>((resolve) => provider.on('synced', () => resolve()));
			return { id, doc, provider, synced, refusals };
		});
		cleanups.push(() => {
			for (const c of clients) c.provider.destroy();
			socket.destroy();
		});
		return clients;
	}

	async function tenConversations(url: string) {
		const alice = await createAccount(url);
		const bob = await createAccount(url);
		const ids: string[] = [];
		for (let i = 0; i < 10; i++) ids.push(await createConversation(url, alice, [bob], `Room ${i}`));
		return { alice, bob, ids };
	}

	it('[DUR-4] updates to many conversations in one turn are committed in fewer transactions than conversations', async () => {
		const data = tempDataDir();
		cleanups.push(data.remove);
		const server = await startTestServer(data.dir);
		cleanups.push(() => server.close());
		const { alice, ids } = await tenConversations(server.url);
		const clients = oneSocket(server.wsUrl, ids, alice.token);
		await Promise.all(clients.map((c) => c.synced));

		const db = server.app.core.db;
		const transaction = db.transaction.bind(db);
		let immediate = 0;
		db.transaction = ((fn: never, config?: { behavior?: 'deferred' | 'immediate' | 'exclusive' }) => {
			if (config?.behavior === 'immediate') immediate += 1;
			return transaction(fn, config);
		}) as typeof db.transaction;
		cleanups.push(() => (db.transaction = transaction));

		const written = clients.map((c) => {
			const id = ulid();
			writeMessage(c.doc, { id, author: alice.id, body: `to ${c.id}` });
			return { c, id };
		});
		await waitFor(() => written.every(({ c, id }) => seqMap(c.doc).has(id)), 5000, 'every acknowledgement');
		expect(immediate).toBeLessThan(clients.length);
		expect(immediate).toBeGreaterThan(0);
	});

	it('[DUR-4] one conversation’s failed write reloads that conversation alone; the others of the turn are committed, and nothing is lost', async () => {
		const data = tempDataDir();
		cleanups.push(data.remove);
		const server = await startTestServer(data.dir);
		cleanups.push(() => server.close());
		const { alice, bob, ids } = await tenConversations(server.url);
		const clients = oneSocket(server.wsUrl, ids.slice(0, 3), alice.token);
		await Promise.all(clients.map((c) => c.synced));
		const sqlite = server.app.core.db.$client;
		sqlite.exec(`create trigger poison before insert on messages when new.body = 'poison' begin select raise(abort, 'poisoned'); end`);
		const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
		cleanups.push(() => errors.mockRestore());

		const [poisoned, ...others] = clients;
		const poisonId = ulid();
		writeMessage(poisoned!.doc, { id: poisonId, author: alice.id, body: 'poison' });
		const fine = others.map((c) => {
			const id = ulid();
			writeMessage(c.doc, { id, author: alice.id, body: 'fine' });
			return { c, id };
		});
		await waitFor(() => fine.every(({ c, id }) => seqMap(c.doc).has(id)), 5000, 'the other conversations’ acknowledgements');
		await waitFor(() => poisoned!.refusals.includes('document-reloading'), 5000, 'the poisoned conversation to reload');
		expect(seqMap(poisoned!.doc).has(poisonId)).toBe(false);
		expect(others.every((c) => c.refusals.length === 0)).toBe(true);

		// Once writes succeed again, the device comes back with its document (as the web app does after a retryable close): nothing was lost.
		sqlite.exec('drop trigger poison');
		const back = connectClient(server.wsUrl, poisoned!.id, alice.token, poisoned!.doc);
		cleanups.push(() => back.destroy());
		await waitFor(() => seqMap(poisoned!.doc).has(poisonId), 10_000, 'the poisoned message after all');
		for (const c of clients) {
			const history = await api<History>(server.url, `/api/conversations/${c.id}/messages`, { token: bob.token });
			expect(history.body.messages.map((m) => m.id)).toEqual(c === poisoned ? [poisonId] : [fine.find((f) => f.c === c)!.id]);
		}
	});

	it('[DUR-4] a kill -9 during bursts to many conversations loses no acknowledged message in any of them', async () => {
		const data = tempDataDir();
		cleanups.push(data.remove);
		const server = await spawnServer(data.dir);
		cleanups.push(() => server.kill('SIGKILL'));
		const { alice, bob, ids } = await tenConversations(server.url);
		const clients = oneSocket(server.wsUrl, ids, alice.token);
		await Promise.all(clients.map((c) => c.synced));
		const acknowledged = new Map<string, string[]>(ids.map((id) => [id, []]));
		let total = 0;
		for (const c of clients) {
			seqMap(c.doc).observe((event) => {
				for (const id of event.keysChanged) acknowledged.get(c.id)!.push(id);
				total += event.keysChanged.size;
				if (total >= 60) server.child.kill('SIGKILL');
			});
		}
		for (let round = 0; round < 20; round++) {
			for (const c of clients) writeMessage(c.doc, { id: ulid(), author: alice.id, body: `round ${round}` });
			await new Promise((resolve) => setImmediate(resolve));
		}
		expect(await server.exited).toBe('SIGKILL');

		const restarted = await spawnServer(data.dir);
		cleanups.push(() => restarted.kill('SIGKILL'));
		for (const id of ids) {
			const history = await api<History>(restarted.url, `/api/conversations/${id}/messages?limit=200`, { token: bob.token });
			const stored = new Set(history.body.messages.map((m) => m.id));
			expect(acknowledged.get(id)!.filter((m) => !stored.has(m))).toEqual([]);
		}
		expect(total).toBeGreaterThanOrEqual(60);
	});
});
