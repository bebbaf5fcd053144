import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { seqMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { CloseReason } from '../../src/lib/shared/protocol.ts';
import {
	api,
	connectClient,
	connectDocument,
	createAccount,
	createConversation,
	waitFor,
	type Account,
	type SyncClient
} from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

describe('abuse limits on the sync socket', () => {
	const server = useTestServer({ LIMIT_MESSAGES: '10/2s', LIMIT_STATELESS: '5/10s', LIMIT_SOCKETS_PER_USER: '3' });
	let alice: Account;
	let bob: Account;
	const clients: SyncClient[] = [];
	const track = (client: SyncClient) => (clients.push(client), client);

	beforeAll(async () => {
		[alice, bob] = await Promise.all([createAccount(server.url), createAccount(server.url)]);
	});
	afterAll(async () => {
		for (const client of clients) client.destroy();
	});

	it('[LIMIT-4] a burst over the message budget is slowed, never refused or lost, and REST draws on the same budget', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Flood');
		const a = track(connectClient(server.wsUrl, conversationId, alice.token));
		await a.synced;
		const ids = Array.from({ length: 25 }, () => ulid());
		const started = Date.now();
		for (const id of ids) writeMessage(a.doc, { id, author: alice.id, body: `burst ${id}` });
		await waitFor(() => seqMap(a.doc).size >= 10, 5000, 'the first messages');
		// The budget (10 per 2 s) holds the rest back for a while, then lets them through.
		expect(seqMap(a.doc).size).toBeLessThan(25);
		const rest = await api(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token, body: { body: 'over REST too' } });
		expect(rest.status).toBe(429);
		expect(Number(rest.headers.get('retry-after'))).toBeGreaterThan(0);
		await waitFor(() => ids.every((id) => seqMap(a.doc).has(id)), 15_000, 'every message of the burst');
		expect(Date.now() - started).toBeGreaterThan(1000);
		expect(a.rejected).toEqual([]);
		const history = await api<{ messages: Array<{ id: string }> }>(server.url, `/api/conversations/${conversationId}/messages?limit=200`, { token: bob.token });
		expect(history.body.messages.map((m) => m.id).filter((id) => ids.includes(id))).toEqual(ids);
	});

	it('[LIMIT-4] typing and receipt frames over a connection’s budget are dropped with a rate-limited notice', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Chatter');
		const b = track(connectClient(server.wsUrl, conversationId, bob.token));
		await b.synced;
		for (let i = 0; i < 20; i++) b.send({ type: 'receipt', readSeq: 0 });
		await waitFor(() => b.stateless.some((m) => m.type === 'rate-limited'), 5000, 'the rate-limited notice');
		const notice = b.stateless.find((m) => m.type === 'rate-limited');
		expect(notice).toMatchObject({ type: 'rate-limited', retryAfterMs: expect.any(Number) });
		expect(b.refusals).toEqual([]);
	});

	it('[LIMIT-4] a user holds at most LIMIT_SOCKETS_PER_USER sockets; the next one is refused until one closes', async () => {
		const owner = await createAccount(server.url);
		const name = `user:${owner.id}`;
		const open = [0, 1, 2].map(() => track(connectDocument(server.wsUrl, name, owner.token)));
		await Promise.all(open.map((c) => c.synced));
		const extra = track(connectDocument(server.wsUrl, name, owner.token));
		await waitFor(() => extra.refusals.includes(CloseReason.TooManyConnections), 5000, 'the refusal');
		open[0]!.destroy();
		const later = track(connectDocument(server.wsUrl, name, owner.token));
		await later.synced;
		expect(later.refusals).toEqual([]);
	});
});
