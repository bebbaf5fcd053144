import Database from 'better-sqlite3';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { afterEach, describe, expect, it } from 'vitest';
import { messagesMap, orderedMessages, seqMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
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
		const server = await startTestServer(data.dir);
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
		const again = await startTestServer(data.dir);
		cleanups.push(() => again.close());
		const reader = connectClient(again.wsUrl, conversationId, bob.token);
		cleanups.push(() => reader.destroy());
		await reader.synced;
		expect(orderedMessages(reader.doc).map((m) => m.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
	});
});
