import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import { seqMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { conversationDocName } from '../../src/lib/shared/protocol.ts';
import {
	api,
	connectClient,
	createAccount,
	createConversation,
	startTestServer,
	tempDataDir,
	waitFor,
	type Account
} from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

describe('a conversation stays loaded for a while after its last connection', () => {
	const LINGER_MS = 600;
	const server = useTestServer({ DOCUMENT_LINGER_MS: String(LINGER_MS) });
	let alice: Account;
	let bob: Account;

	beforeAll(async () => {
		[alice, bob] = await Promise.all([createAccount(server.url), createAccount(server.url)]);
	});

	const loaded = (conversationId: string) => server.app.core.sync.conversations.get(conversationDocName(conversationId));

	it('[LIMIT-5] a client that leaves and comes back finds the same loaded document; it unloads once idle', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Linger');
		const first = connectClient(server.wsUrl, conversationId, alice.token);
		await first.synced;
		const id = ulid();
		writeMessage(first.doc, { id, author: alice.id, body: 'before leaving' });
		await waitFor(() => seqMap(first.doc).has(id));
		const live = loaded(conversationId);
		expect(live).toBeDefined();
		first.destroy();
		await new Promise((resolve) => setTimeout(resolve, LINGER_MS / 3));
		expect(loaded(conversationId)).toBe(live);

		// A REST send and a new connection reuse it, and each departure starts the wait again.
		const sent = await api(server.url, `/api/conversations/${conversationId}/messages`, { token: bob.token, body: { body: 'over REST' } });
		expect(sent.status).toBe(201);
		const second = connectClient(server.wsUrl, conversationId, bob.token);
		await second.synced;
		expect(loaded(conversationId)).toBe(live);
		expect(seqMap(second.doc).get(id)).toBe(1);
		await new Promise((resolve) => setTimeout(resolve, LINGER_MS * 1.5));
		expect(loaded(conversationId)).toBe(live); // connected all along
		second.destroy();

		await waitFor(() => loaded(conversationId) === undefined, LINGER_MS * 5, 'the idle conversation to unload');
		const third = connectClient(server.wsUrl, conversationId, alice.token);
		await third.synced;
		expect(seqMap(third.doc).size).toBe(2);
		expect(loaded(conversationId)).not.toBe(live);
		third.destroy();
	});

	it('[LIMIT-5] at most 200 conversations linger: past that, the one idle longest unloads', async () => {
		// A server where nothing unloads by time during the test.
		const patient = tempDataDir();
		const server = await startTestServer(patient.dir, { DOCUMENT_LINGER_MS: '600000' });
		const [alice, bob] = await Promise.all([createAccount(server.url), createAccount(server.url)]);
		const loaded = (conversationId: string) => server.app.core.sync.conversations.get(conversationDocName(conversationId));
		const ids: string[] = [];
		for (let i = 0; i < 203; i++) ids.push(await createConversation(server.url, alice, [bob], `Many ${i}`));
		for (const conversationId of ids) {
			const sent = await api(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token, body: { body: 'hello' } });
			expect(sent.status).toBe(201);
		}
		await waitFor(() => ids.filter((id) => loaded(id)).length <= 200, 2000, 'the oldest to unload');
		const still = ids.filter((id) => loaded(id));
		expect(still.length).toBe(200);
		expect(still).toEqual(ids.slice(-200));
		await server.close();
		patient.remove();
	});
});
