import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import { orderedMessages, sequenceOf, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { CloseReason, conversationDocName } from '../../src/lib/shared/protocol.ts';
import {
	api,
	connectClient,
	createAccount,
	createConversation,
	waitFor,
	type Account
} from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

describe('real-time sync between members', () => {
	const server = useTestServer();
	let alice: Account;
	let bob: Account;
	let carol: Account;
	let conversationId: string;

	beforeAll(async () => {
		[alice, bob, carol] = await Promise.all([createAccount(server.url), createAccount(server.url), createAccount(server.url)]);
		conversationId = await createConversation(server.url, alice, [bob], '');
	});

	it('[ORDER-1] two clients see each other’s messages, in the same server order', async () => {
		const a = connectClient(server.wsUrl, conversationId, alice.token);
		const b = connectClient(server.wsUrl, conversationId, bob.token);
		await Promise.all([a.synced, b.synced]);
		const first = ulid();
		const second = ulid();
		writeMessage(a.doc, { id: first, author: alice.id, body: 'hi bob' });
		writeMessage(b.doc, { id: second, author: bob.id, body: 'hi alice' });
		await waitFor(() => orderedMessages(a.doc).filter((m) => m.seq).length === 2 && orderedMessages(b.doc).filter((m) => m.seq).length === 2);
		expect(orderedMessages(a.doc)).toEqual(orderedMessages(b.doc));
		expect(orderedMessages(a.doc).map((m) => m.seq)).toEqual([1, 2]);
		expect(sequenceOf(a.doc, first)).toBeDefined();

		const history = await api<{ messages: Array<{ id: string; seq: number; author: { id: string } }> }>(
			server.url,
			`/api/conversations/${conversationId}/messages`,
			{ token: carol.token }
		);
		expect(history.status).toBe(403);
		const own = await api<{ messages: Array<{ id: string; seq: number; author: { id: string } }> }>(
			server.url,
			`/api/conversations/${conversationId}/messages`,
			{ token: bob.token }
		);
		expect(own.body.messages.map((m) => [m.id, m.author.id])).toEqual(
			orderedMessages(a.doc).map((m) => [m.id, m.author])
		);
		a.destroy();
		b.destroy();
	});

	it('[ACCESS-1] a user who is not a member is refused before the document loads', async () => {
		const c = connectClient(server.wsUrl, conversationId, carol.token);
		await waitFor(() => c.refusals.length > 0);
		expect(c.refusals).toContain(CloseReason.NotAMember);
		expect(c.doc.getMap('messages').size).toBe(0);
		c.destroy();
	});

	it('[ACCESS-1] a bad token is refused', async () => {
		const c = connectClient(server.wsUrl, conversationId, 'not-a-real-token');
		await waitFor(() => c.refusals.length > 0);
		expect(c.refusals).toEqual([CloseReason.Unauthenticated]);
		c.destroy();
	});

	it('[ACCESS-1] an unknown conversation and a malformed document name are refused', async () => {
		const unknownId = ulid();
		const unknown = connectClient(server.wsUrl, unknownId, alice.token);
		await waitFor(() => unknown.refusals.length > 0);
		expect(unknown.refusals).toEqual([CloseReason.ConversationNotFound]);
		unknown.destroy();
		const malformed = connectClient(server.wsUrl, '../etc/passwd', alice.token);
		await waitFor(() => malformed.refusals.length > 0);
		expect(malformed.refusals).toEqual([CloseReason.ConversationNotFound]);
		malformed.destroy();
		// Neither was loaded (conversations other tests used may still be, for a while).
		const loaded = [...server.app.core.sync.hocuspocus.documents.keys()];
		expect(loaded.filter((name) => name.includes('passwd') || name === conversationDocName(unknownId))).toEqual([]);
	});
});
