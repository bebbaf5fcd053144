import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sequenceOf, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import type { ContextDto, ConversationDto, ConversationSummary, MessageDto } from '../../src/lib/shared/api-types.ts';
import { CloseReason, RefusalCode } from '../../src/lib/shared/protocol.ts';
import { api, connectClient, createAccount, createConversation, waitFor, type Account, type SyncClient } from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

type Start = { conversation: ConversationDto; message?: MessageDto };

describe('conversations about a context (a post, a booking, a pattern)', () => {
	const server = useTestServer();
	let seller: Account;
	let buyer: Account;
	let other: Account;
	const open: SyncClient[] = [];
	const post = '/api/contexts/post/marketplace%2F123';

	beforeAll(async () => {
		[seller, buyer, other] = [await createAccount(server.url), await createAccount(server.url), await createAccount(server.url)];
		const created = await api<{ context: ContextDto }>(server.url, post, { method: 'PUT', token: seller.token, body: { title: 'Bike, barely used', url: 'https://market.example/p/123', imageUrl: 'https://market.example/p/123.jpg' } });
		expect(created.status).toBe(201);
		expect(created.body.context).toEqual({ kind: 'post', externalId: 'marketplace/123', title: 'Bike, barely used', url: 'https://market.example/p/123', imageUrl: 'https://market.example/p/123.jpg', ownerId: seller.id, audience: 'owner', platform: null });
	});

	afterAll(async () => {
		for (const c of open) c.destroy();
	});

	it('[CTX-1] one call creates the conversation and sends its first message; a retry gives the same conversation and the message once', async () => {
		const message = { id: ulid(), body: 'Is it still available?' };
		const first = await api<Start>(server.url, `${post}/conversations`, { token: buyer.token, body: { message } });
		expect(first.status).toBe(201);
		expect(first.body.conversation).toMatchObject({ kind: 'context', status: 'open', title: 'Bike, barely used', context: { kind: 'post', externalId: 'marketplace/123', ownerId: seller.id } });
		expect(first.body.conversation.members.map((m) => [m.id, m.role]).sort()).toEqual([[buyer.id, 'member'], [seller.id, 'owner']].sort());
		expect(first.body.message).toMatchObject({ id: message.id, body: message.body, seq: 1 });
		const again = await api<Start>(server.url, `${post}/conversations`, { token: buyer.token, body: { message } });
		expect(again.status).toBe(200);
		expect(again.body.conversation.id).toBe(first.body.conversation.id);
		const history = await api<{ messages: MessageDto[] }>(server.url, `/api/conversations/${first.body.conversation.id}/messages`, { token: seller.token });
		expect(history.body.messages.map((m) => m.id)).toEqual([message.id]);
		// GET /api/conversations/:id: members, roles, context and status.
		const one = await api<{ conversation: ConversationDto }>(server.url, `/api/conversations/${first.body.conversation.id}`, { token: seller.token });
		expect(one.body.conversation).toMatchObject({ kind: 'context', status: 'open', context: { title: 'Bike, barely used' } });
	});

	it('[CTX-1] two buyers get two conversations; the same two people keep their direct conversation besides; the owner sees every conversation about it', async () => {
		const mine = await api<Start>(server.url, `${post}/conversations`, { token: buyer.token, body: {} });
		const theirs = await api<Start>(server.url, `${post}/conversations`, { token: other.token, body: { message: { body: 'Would you take 50?' } } });
		expect(theirs.status).toBe(201);
		expect(theirs.body.conversation.id).not.toBe(mine.body.conversation.id);
		const direct = await createConversation(server.url, buyer, [seller], '');
		expect([mine.body.conversation.id, theirs.body.conversation.id]).not.toContain(direct);
		const owners = await api<{ conversations: ConversationSummary[] }>(server.url, `${post}/conversations`, { token: seller.token });
		expect(owners.body.conversations.map((c) => c.id).sort()).toEqual([mine.body.conversation.id, theirs.body.conversation.id].sort());
		const buyers = await api<{ conversations: ConversationSummary[] }>(server.url, `${post}/conversations`, { token: buyer.token });
		expect(buyers.body.conversations.map((c) => c.id)).toEqual([mine.body.conversation.id]);
	});

	it('[CTX-1] the owner cannot contact themselves; unknown contexts, bad kinds and someone else’s context are clear errors', async () => {
		const self = await api<{ error: { code: string } }>(server.url, `${post}/conversations`, { token: seller.token, body: {} });
		expect([self.status, self.body.error.code]).toEqual([403, 'own-context']);
		const unknown = await api<{ error: { code: string } }>(server.url, '/api/contexts/post/nope/conversations', { token: buyer.token, body: {} });
		expect([unknown.status, unknown.body.error.code]).toEqual([404, 'not-found']);
		const badKind = await api<{ error: { code: string } }>(server.url, '/api/contexts/Post!/x', { token: buyer.token });
		expect([badKind.status, badKind.body.error.code]).toEqual([400, 'invalid-context']);
		const takeover = await api<{ error: { code: string } }>(server.url, post, { method: 'PUT', token: buyer.token, body: { title: 'Mine now' } });
		expect([takeover.status, takeover.body.error.code]).toEqual([403, 'not-context-owner']);
		const badUrl = await api<{ error: { code: string } }>(server.url, '/api/contexts/post/x', { method: 'PUT', token: buyer.token, body: { title: 'x', url: 'javascript:alert(1)' } });
		expect([badUrl.status, badUrl.body.error.code]).toEqual([400, 'invalid-request']);
		const noAuth = await api<{ error: { code: string } }>(server.url, post);
		expect(noAuth.status).toBe(401);
		const badMessage = await api<{ error: { code: string } }>(server.url, `${post}/conversations`, { token: other.token, body: { message: { body: '   ' } } });
		expect([badMessage.status, badMessage.body.error.code]).toEqual([400, 'message-empty']);
	});

	it('[CTX-1] renaming the context retitles its conversations', async () => {
		await api(server.url, post, { method: 'PUT', token: seller.token, body: { title: 'Bike, sold soon' } });
		const list = await api<{ conversations: ConversationSummary[] }>(server.url, '/api/conversations', { token: buyer.token });
		expect(list.body.conversations.find((c) => c.kind === 'context')).toMatchObject({ title: 'Bike, sold soon', context: { title: 'Bike, sold soon', url: null } });
	});

	it('[CTX-2] a closed conversation refuses new messages on every path (REST, the one-call start, the socket), says so in the timeline, and reopens', async () => {
		const start = await api<Start>(server.url, `${post}/conversations`, { token: buyer.token, body: {} });
		const id = start.body.conversation.id;
		const buyerDoc = connectClient(server.wsUrl, id, buyer.token);
		open.push(buyerDoc);
		await buyerDoc.synced;
		// Only the owner closes it.
		const notOwner = await api<{ error: { code: string } }>(server.url, `/api/conversations/${id}`, { method: 'PATCH', token: buyer.token, body: { status: 'closed' } });
		expect([notOwner.status, notOwner.body.error.code]).toEqual([403, 'forbidden']);
		const closed = await api<{ conversation: ConversationDto }>(server.url, `/api/conversations/${id}`, { method: 'PATCH', token: seller.token, body: { status: 'closed' } });
		expect(closed.body.conversation.status).toBe('closed');
		// REST: refused with the reason.
		const rest = await api<{ error: { code: string } }>(server.url, `/api/conversations/${id}/messages`, { token: buyer.token, body: { body: 'hello?' } });
		expect([rest.status, rest.body.error.code]).toEqual([403, 'conversation-closed']);
		const restStart = await api<{ error: { code: string } }>(server.url, `${post}/conversations`, { token: buyer.token, body: { message: { body: 'hello?' } } });
		expect([restStart.status, restStart.body.error.code]).toEqual([403, 'conversation-closed']);
		// The socket: a new message is refused, naming it.
		const messageId = ulid();
		writeMessage(buyerDoc.doc, { id: messageId, author: buyer.id, body: 'written while it closed' });
		await waitFor(() => buyerDoc.rejected.length > 0, 5000, 'the refusal');
		expect(buyerDoc.rejected[0]).toMatchObject({ code: RefusalCode.ConversationClosed, messageIds: [messageId] });
		await waitFor(() => buyerDoc.refusals.includes(CloseReason.UpdateRefused), 5000, 'the close');
		// The timeline says so, for everyone.
		const history = await api<{ messages: MessageDto[] }>(server.url, `/api/conversations/${id}/messages`, { token: buyer.token });
		expect(history.body.messages.at(-1)?.event).toEqual({ type: 'closed' });
		expect(history.body.messages.some((m) => m.id === messageId)).toBe(false);

		await api(server.url, `/api/conversations/${id}`, { method: 'PATCH', token: seller.token, body: { status: 'open' } });
		const fresh = connectClient(server.wsUrl, id, buyer.token);
		open.push(fresh);
		await fresh.synced;
		const after = ulid();
		writeMessage(fresh.doc, { id: after, author: buyer.id, body: 'thanks for reopening' });
		await waitFor(() => sequenceOf(fresh.doc, after) !== undefined, 5000, 'the acknowledgement');
		const lines = await api<{ messages: MessageDto[] }>(server.url, `/api/conversations/${id}/messages`, { token: seller.token });
		expect(lines.body.messages.slice(-3).map((m) => m.event?.type ?? m.body)).toEqual(['closed', 'reopened', 'thanks for reopening']);
	});

	it('[CTX-2] a direct conversation cannot be closed; a group’s owner can close it', async () => {
		const direct = await createConversation(server.url, other, [seller], '');
		const refused = await api<{ error: { code: string } }>(server.url, `/api/conversations/${direct}`, { method: 'PATCH', token: other.token, body: { status: 'closed' } });
		expect([refused.status, refused.body.error.code]).toEqual([400, 'not-closable']);
		const group = await createConversation(server.url, seller, [buyer, other], 'Study group');
		const closed = await api<{ conversation: ConversationDto }>(server.url, `/api/conversations/${group}`, { method: 'PATCH', token: seller.token, body: { status: 'closed' } });
		expect(closed.body.conversation.status).toBe('closed');
		const empty = await api<{ error: { code: string } }>(server.url, `/api/conversations/${group}`, { method: 'PATCH', token: seller.token, body: {} });
		expect([empty.status, empty.body.error.code]).toEqual([400, 'invalid-request']);
	});
});

describe('the conversation list: archive, status filter, pages', () => {
	const server = useTestServer();
	let ana: Account;
	let ben: Account;
	const ids: string[] = [];

	beforeAll(async () => {
		[ana, ben] = [await createAccount(server.url), await createAccount(server.url)];
		for (let i = 0; i < 5; i++) ids.push(await createConversation(server.url, ana, [ben], `Group ${i}`));
	});


	const list = async (token: string, query = '') => (await api<{ conversations: ConversationSummary[]; nextCursor: string | null }>(server.url, `/api/conversations${query}`, { token })).body;

	it('[CTX-3] archiving hides a conversation from my main list only, until a new message brings it back', async () => {
		const id = ids[0]!;
		expect((await api(server.url, `/api/conversations/${id}/archive`, { method: 'PUT', token: ana.token })).status).toBe(204);
		expect((await list(ana.token, '?archived=false')).conversations.map((c) => c.id)).not.toContain(id);
		expect((await list(ana.token, '?archived=true')).conversations.map((c) => c.id)).toEqual([id]);
		expect((await list(ben.token, '?archived=false')).conversations.map((c) => c.id)).toContain(id);
		// A message arrives: it is back.
		await new Promise((resolve) => setTimeout(resolve, 5));
		await api(server.url, `/api/conversations/${id}/messages`, { token: ben.token, body: { body: 'are you there?' } });
		expect((await list(ana.token, '?archived=true')).conversations).toEqual([]);
		const back = (await list(ana.token)).conversations.find((c) => c.id === id)!;
		expect(back.archivedAt).not.toBeNull();
		expect(back.updatedAt).toBeGreaterThan(back.archivedAt!);
		// Archived again, then brought back by hand.
		await api(server.url, `/api/conversations/${id}/archive`, { method: 'PUT', token: ana.token });
		await api(server.url, `/api/conversations/${id}/archive`, { method: 'DELETE', token: ana.token });
		expect((await list(ana.token, '?archived=true')).conversations).toEqual([]);
		const stranger = await createAccount(server.url);
		expect((await api(server.url, `/api/conversations/${id}/archive`, { method: 'PUT', token: stranger.token })).status).toBe(403);
	});

	it('[CTX-3] the list pages with a cursor, newest activity first, and filters by status', async () => {
		const all = (await list(ana.token)).conversations.map((c) => c.id);
		const paged: string[] = [];
		let cursor: string | null = null;
		do {
			const page: { conversations: ConversationSummary[]; nextCursor: string | null } = await list(ana.token, `?limit=2${cursor ? `&before=${cursor}` : ''}`);
			expect(page.conversations.length).toBeLessThanOrEqual(2);
			paged.push(...page.conversations.map((c) => c.id));
			cursor = page.nextCursor;
		} while (cursor);
		expect(paged).toEqual(all);
		await api(server.url, `/api/conversations/${ids[2]}`, { method: 'PATCH', token: ana.token, body: { status: 'closed' } });
		expect((await list(ana.token, '?status=closed')).conversations.map((c) => c.id)).toEqual([ids[2]]);
		expect((await list(ana.token, '?status=open')).conversations.map((c) => c.id)).not.toContain(ids[2]);
		for (const bad of ['?limit=0', '?limit=x', '?before=nope', '?status=gone', '?archived=maybe']) {
			const response = await api<{ error: { code: string } }>(server.url, `/api/conversations${bad}`, { token: ana.token });
			expect([bad, response.status, response.body.error.code]).toEqual([bad, 400, 'invalid-request']);
		}
	});
});
