import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { messagesMap, orderedMessages, seqMap } from '../../src/lib/shared/conversation-doc.ts';
import { RefusalCode, type MessageValue } from '../../src/lib/shared/protocol.ts';
import {
	api,
	connectClient,
	createAccount,
	createConversation,
	uniqueName,
	waitFor,
	type Account,
	type SyncClient
} from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

type Users = { users: Array<{ id: string; username: string; displayName: string }> };
type History = { messages: Array<{ id: string; seq: number; body: string; author: { id: string }; event: unknown }> };
type Conversation = { conversation: { id: string; title: string | null; members: Array<{ id: string; role: string; online: boolean }> } };

describe('people, profiles, groups and their timeline lines', () => {
	const server = useTestServer({ LIMIT_PEOPLE_SEARCH: '8/m' });
	let alice: Account;
	let bob: Account;
	let carol: Account;
	const clients: SyncClient[] = [];
	const track = (client: SyncClient) => (clients.push(client), client);

	beforeAll(async () => {
		[alice, bob, carol] = await Promise.all([createAccount(server.url), createAccount(server.url), createAccount(server.url)]);
	});
	afterAll(async () => {
		for (const client of clients) client.destroy();
	});

	it('[PEOPLE-1] people search: a prefix of at least 2 characters, a few results, never me, wildcards literal, rate limited', async () => {
		const prefix = uniqueName('zed');
		const named = await Promise.all(Array.from({ length: 12 }, (_, i) => createAccount(server.url, `${prefix}_${String(i).padStart(2, '0')}`)));
		const search = (q: string, who = alice) => api<Users>(server.url, `/api/users?q=${encodeURIComponent(q)}`, { token: who.token });
		const found = await search(prefix);
		expect(found.status).toBe(200);
		expect(found.body.users).toHaveLength(10);
		expect(found.body.users.map((u) => u.username)).toEqual(named.slice(0, 10).map((a) => a.username));
		expect((await search(`@${named[3]!.username}`)).body.users.map((u) => u.id)).toEqual([named[3]!.id]);
		expect((await search(named[0]!.username, named[0])).body.users.map((u) => u.id)).not.toContain(named[0]!.id);
		expect((await search('%_')).body.users).toEqual([]);
		expect((await search('z')).status).toBe(400);
		expect((await api(server.url, '/api/users?q=zed')).status).toBe(401);
		let limited;
		for (let i = 0; i < 10 && !limited; i++) {
			const response = await search(prefix, bob);
			if (response.status === 429) limited = response;
		}
		expect(limited?.headers.get('retry-after')).toBeTruthy();
	});

	it('[PEOPLE-1] a display name is found by its prefix and can be changed, under the name rule', async () => {
		const name = `Quinn ${uniqueName('q')}`;
		const changed = await api<{ user: { displayName: string } }>(server.url, '/api/me', { method: 'PATCH', token: carol.token, body: { displayName: name } });
		expect(changed.body.user.displayName).toBe(name);
		const found = await api<Users>(server.url, `/api/users?q=${encodeURIComponent(name.slice(0, 8).toLowerCase())}`, { token: alice.token });
		expect(found.body.users.map((u) => u.id)).toContain(carol.id);
		const hidden = await api<{ error: { code: string } }>(server.url, '/api/me', { method: 'PATCH', token: carol.token, body: { displayName: 'ev\u202eil' } });
		expect([hidden.status, hidden.body.error.code]).toEqual([400, 'invalid-input']);
		expect((await api(server.url, '/api/me', { method: 'PATCH', token: carol.token, body: { displayName: '   ' } })).status).toBe(400);
	});

	it('[TIMELINE-1] joins, removals, leaves and renames are server-written lines, the same on every device and in the history', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Study group');
		const a = track(connectClient(server.wsUrl, conversationId, alice.token));
		const b = track(connectClient(server.wsUrl, conversationId, bob.token));
		await Promise.all([a.synced, b.synced]);
		const added = await api(server.url, `/api/conversations/${conversationId}/members`, { token: alice.token, body: { members: [carol.username] } });
		expect(added.status).toBe(200);
		const renamed = await api<Conversation>(server.url, `/api/conversations/${conversationId}`, { method: 'PATCH', token: alice.token, body: { title: 'Exam prep' } });
		expect(renamed.body.conversation.title).toBe('Exam prep');
		expect((await api(server.url, `/api/conversations/${conversationId}`, { method: 'PATCH', token: bob.token, body: { title: 'Mine' } })).status).toBe(403);
		expect((await api(server.url, `/api/conversations/${conversationId}/members/${carol.username}`, { method: 'DELETE', token: alice.token })).status).toBe(204);
		expect((await api(server.url, `/api/conversations/${conversationId}/members/${bob.username}`, { method: 'DELETE', token: bob.token })).status).toBe(204);

		const expected = [
			{ author: alice.id, event: { type: 'members-added', userIds: [carol.id] } },
			{ author: alice.id, event: { type: 'renamed', title: 'Exam prep' } },
			{ author: alice.id, event: { type: 'member-removed', userId: carol.id } },
			{ author: bob.id, event: { type: 'member-left' } }
		];
		const lines = (doc: Y.Doc) => orderedMessages(doc).filter((m) => m.event).map((m) => ({ author: m.author, event: m.event }));
		await waitFor(() => lines(a.doc).length === 4, 5000, 'the timeline lines');
		expect(lines(a.doc)).toEqual(expected);
		const history = await api<History>(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token });
		expect(history.body.messages.map((m) => ({ author: m.author.id, event: m.event }))).toEqual(expected);
		expect(history.body.messages.map((m) => m.seq)).toEqual([1, 2, 3, 4]);
		// Lines are not unread messages.
		const list = await api<{ conversations: Array<{ id: string; unreadCount: number }> }>(server.url, '/api/conversations', { token: alice.token });
		expect(list.body.conversations.find((c) => c.id === conversationId)?.unreadCount).toBe(0);
		const one = await api<Conversation>(server.url, `/api/conversations/${conversationId}`, { token: alice.token });
		expect(one.body.conversation.members.map((m) => [m.id, m.role])).toEqual([[alice.id, 'owner']]);
		expect((await api(server.url, `/api/conversations/${conversationId}`, { token: bob.token })).status).toBe(403);
	});

	it('[TIMELINE-1] nobody can edit or delete a timeline line, not even the member it names as acting', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Lines stay');
		await api(server.url, `/api/conversations/${conversationId}`, { method: 'PATCH', token: alice.token, body: { title: 'Renamed' } });
		const a = track(connectClient(server.wsUrl, conversationId, alice.token));
		await a.synced;
		const [line] = orderedMessages(a.doc).filter((m) => m.event);
		expect(line).toBeDefined();
		messagesMap(a.doc).set(line!.id, { ...(line as MessageValue), body: 'I never renamed it', event: undefined } as MessageValue);
		await waitFor(() => a.rejected.length > 0, 5000, 'the refusal');
		expect(a.rejected[0]).toMatchObject({ code: RefusalCode.ForeignMessage, messageIds: [line!.id] });
		const d = track(connectClient(server.wsUrl, conversationId, alice.token));
		await d.synced;
		messagesMap(d.doc).delete(line!.id);
		await waitFor(() => d.rejected.length > 0, 5000, 'the refusal of the deletion');
		expect(d.rejected[0]?.code).toBe(RefusalCode.ForeignMessage);
		const history = await api<History>(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token });
		expect(history.body.messages.find((m) => m.id === line!.id)?.event).toEqual({ type: 'renamed', title: 'Renamed' });
		expect(seqMap(a.doc).get(line!.id)).toBe(1);
	});
});
