import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import type { MessageDto } from '../../src/lib/shared/api-types.ts';
import { editMessage, orderedMessages, setReactions, writeMessage, seqMap } from '../../src/lib/shared/conversation-doc.ts';
import { HISTORY_PAGE_MAX } from '../../src/lib/shared/limits.ts';
import {
	api,
	connectClient,
	createAccount,
	createConversation,
	uniqueName,
	waitFor,
	type Account
} from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

type ErrorBody = { error: { code: string; message: string } };
type Message = { id: string; seq: number; body: string; author: { id: string; username: string } };
type History = { messages: Message[]; nextCursor: number | null };

describe('HTTP API', () => {
	const server = useTestServer();
	let alice: Account;
	let bob: Account;
	let carol: Account;

	beforeAll(async () => {
		[alice, bob, carol] = await Promise.all([createAccount(server.url), createAccount(server.url), createAccount(server.url)]);
	});

	it('a page of history goes gzipped to a client that accepts it, and plain to one that does not', async () => {
		const reader = await createAccount(server.url);
		const id = await createConversation(server.url, alice, [reader], 'Notes');
		for (let i = 0; i < 20; i++) await api(server.url, `/api/conversations/${id}/messages`, { token: alice.token, body: { body: `note ${i} `.repeat(8) } });
		const path = `/api/conversations/${id}/messages`;
		const zipped = await fetch(server.url + path, { headers: { authorization: `Bearer ${alice.token}`, 'accept-encoding': 'gzip' } });
		expect(zipped.headers.get('content-encoding')).toBe('gzip');
		expect(((await zipped.json()) as { messages: unknown[] }).messages).toHaveLength(20);
		const plain = await fetch(server.url + path, { headers: { authorization: `Bearer ${alice.token}`, 'accept-encoding': 'identity' } });
		expect(plain.headers.get('content-encoding')).toBeNull();
		expect(((await plain.json()) as { messages: unknown[] }).messages).toHaveLength(20);
	});

	describe('accounts and sessions', () => {
		it('signs up with a session cookie, reads /api/me with it, and logs out', async () => {
			const username = uniqueName('dana');
			const signup = await api<{ user: { username: string; displayName: string } }>(server.url, '/api/auth/signup', {
				body: { username, password: 'long enough pw', displayName: '  Dana  ' }
			});
			expect(signup.status).toBe(201);
			expect(signup.body.user).toMatchObject({ username, displayName: 'Dana' });
			const cookie = signup.headers.get('set-cookie') ?? '';
			expect(cookie).toMatch(/session=[a-z2-7]+;/);
			expect(cookie).toMatch(/HttpOnly/);
			expect(cookie).toMatch(/SameSite=Lax/);
			expect(cookie).not.toMatch(/Secure/);
			const session = cookie.split(';')[0]!;
			const me = await api<{ user: { username: string } }>(server.url, '/api/me', { headers: { cookie: session } });
			expect(me.body.user.username).toBe(username);
			const out = await api(server.url, '/api/auth/logout', { method: 'POST', headers: { cookie: session, origin: server.url } });
			expect(out.status).toBe(204);
			const after = await api<ErrorBody>(server.url, '/api/me', { headers: { cookie: session } });
			expect(after.status).toBe(401);
			expect(after.body.error.code).toBe('unauthenticated');
		});

		it('rejects bad sign-ups with 400 and taken names with 409', async () => {
			const cases: Array<[unknown, number, string]> = [
				[{ username: 'AB', password: 'long enough pw' }, 400, 'invalid-request'],
				[{ username: 'has space', password: 'long enough pw' }, 400, 'invalid-request'],
				[{ username: uniqueName(), password: 'short' }, 400, 'invalid-request'],
				[{ username: 42, password: 'long enough pw' }, 400, 'invalid-request'],
				['not json', 400, 'invalid-json'],
				[{ username: alice.username, password: 'long enough pw' }, 409, 'username-taken']
			];
			for (const [body, status, code] of cases) {
				const response = await api<ErrorBody>(server.url, '/api/auth/signup', { body });
				expect([response.status, response.body.error.code]).toEqual([status, code]);
				expect(response.body.error.message).toBeTypeOf('string');
			}
			const wrongType = await api<ErrorBody>(server.url, '/api/auth/signup', {
				body: JSON.stringify({ username: 'x' }),
				headers: { 'content-type': 'text/plain', origin: server.url }
			});
			expect(wrongType.status).toBe(415);
		});

		it('logs in with a fresh session, refuses wrong passwords with 401, and issues bearer tokens', async () => {
			const wrong = await api<ErrorBody>(server.url, '/api/auth/login', { body: { username: alice.username, password: 'nope nope nope' } });
			expect([wrong.status, wrong.body.error.code]).toEqual([401, 'invalid-credentials']);
			const unknown = await api<ErrorBody>(server.url, '/api/auth/login', { body: { username: 'nobody_here', password: 'nope nope nope' } });
			expect(unknown.status).toBe(401);
			const ok = await api(server.url, '/api/auth/login', { body: { username: alice.username, password: 'correct horse battery' } });
			expect(ok.status).toBe(200);
			const token = await api<{ token: string; expiresAt: string }>(server.url, '/api/auth/tokens', {
				body: { username: alice.username, password: 'correct horse battery' }
			});
			expect(token.status).toBe(201);
			expect(Date.parse(token.body.expiresAt)).toBeGreaterThan(Date.now());
			const me = await api<{ user: { id: string } }>(server.url, '/api/me', { token: token.body.token });
			expect(me.body.user.id).toBe(alice.id);
			const bad = await api<ErrorBody>(server.url, '/api/me', { token: 'garbage' });
			expect([bad.status, bad.body.error.code]).toEqual([401, 'invalid-token']);
		});

		it('[ACCESS-4] refuses cookie-authenticated writes from a foreign origin', async () => {
			const login = await api(server.url, '/api/auth/login', { body: { username: bob.username, password: 'correct horse battery' } });
			const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
			const evil = await api<ErrorBody>(server.url, '/api/conversations', {
				body: { kind: 'direct', members: [carol.username] },
				headers: { cookie, origin: 'https://evil.example' }
			});
			expect([evil.status, evil.body.error.code]).toEqual([403, 'cross-site-request']);
			const same = await api(server.url, '/api/conversations', {
				body: { kind: 'direct', members: [carol.username] },
				headers: { cookie, origin: server.url }
			});
			expect(same.status).toBe(201);
		});
	});

	describe('conversations', () => {
		it('gets or creates a direct conversation: the same pair never gets two', async () => {
			const first = await api<{ conversation: { id: string; kind: string; members: Array<{ username: string }> } }>(server.url, '/api/conversations', {
				token: alice.token,
				body: { kind: 'direct', members: [bob.username] }
			});
			expect(first.status).toBe(201);
			const again = await api<{ conversation: { id: string } }>(server.url, '/api/conversations', {
				token: bob.token,
				body: { kind: 'direct', members: [alice.username] }
			});
			expect(again.status).toBe(200);
			expect(again.body.conversation.id).toBe(first.body.conversation.id);
			expect(first.body.conversation.members.map((m) => m.username).sort()).toEqual([alice.username, bob.username].sort());
		});

		it('creates groups with the creator as owner and validates input', async () => {
			const group = await api<{ conversation: { title: string; members: Array<{ username: string; role: string }> } }>(server.url, '/api/conversations', {
				token: alice.token,
				body: { kind: 'group', title: 'Flatmates', members: [bob.username, carol.username] }
			});
			expect(group.status).toBe(201);
			expect(group.body.conversation.members.find((m) => m.username === alice.username)?.role).toBe('owner');
			const cases: Array<[unknown, number, string]> = [
				[{ kind: 'group', title: '', members: [bob.username] }, 400, 'invalid-request'],
				[{ kind: 'direct', members: [bob.username, carol.username] }, 400, 'invalid-request'],
				[{ kind: 'direct', members: [alice.username] }, 400, 'invalid-request'],
				[{ kind: 'channel', members: [] }, 400, 'invalid-request'],
				[{ kind: 'direct', members: ['nobody_at_all'] }, 404, 'user-not-found']
			];
			for (const [body, status, code] of cases) {
				const response = await api<ErrorBody>(server.url, '/api/conversations', { token: alice.token, body });
				expect([response.status, response.body.error.code]).toEqual([status, code]);
			}
			const anonymous = await api<ErrorBody>(server.url, '/api/conversations');
			expect(anonymous.status).toBe(401);
		});

		it('lists my conversations by recent activity with the last message and my unread count', async () => {
			const dave = await createAccount(server.url);
			const quiet = await createConversation(server.url, dave, [alice], 'Quiet');
			const busy = await createConversation(server.url, dave, [bob], 'Busy');
			await api(server.url, `/api/conversations/${quiet}/messages`, { token: alice.token, body: { body: 'one' } });
			await api(server.url, `/api/conversations/${quiet}/messages`, { token: alice.token, body: { body: 'two' } });
			await api(server.url, `/api/conversations/${busy}/messages`, { token: dave.token, body: { body: 'mine' } });
			const list = await api<{ conversations: Array<{ id: string; unreadCount: number; lastMessage: Message | null; updatedAt: number }> }>(
				server.url,
				'/api/conversations',
				{ token: dave.token }
			);
			expect(list.body.conversations.map((c) => c.id)).toEqual([busy, quiet]);
			expect(list.body.conversations.map((c) => c.unreadCount)).toEqual([0, 2]);
			expect(list.body.conversations.map((c) => c.lastMessage?.body)).toEqual(['mine', 'two']);
		});
	});

	describe('messages', () => {
		let conversationId: string;
		beforeAll(async () => {
			conversationId = await createConversation(server.url, alice, [bob], 'Messages');
		});

		it('[ONCE-1] sending the same id again returns the same message, never a second copy', async () => {
			const id = ulid();
			const first = await api<{ message: Message }>(server.url, `/api/conversations/${conversationId}/messages`, {
				token: alice.token,
				body: { id, body: '  hello  ' }
			});
			expect(first.status).toBe(201);
			expect(first.body.message).toMatchObject({ id, body: 'hello', author: { id: alice.id } });
			const retries = await Promise.all(
				Array.from({ length: 5 }, () =>
					api<{ message: Message }>(server.url, `/api/conversations/${conversationId}/messages`, {
						token: alice.token,
						body: { id, body: 'hello' }
					})
				)
			);
			for (const retry of retries) {
				expect(retry.status).toBe(200);
				expect(retry.body.message).toEqual(first.body.message);
			}
			const stolen = await api<ErrorBody>(server.url, `/api/conversations/${conversationId}/messages`, {
				token: bob.token,
				body: { id, body: 'same id, other author' }
			});
			expect([stolen.status, stolen.body.error.code]).toEqual([409, 'id-conflict']);
			const history = await api<History>(server.url, `/api/conversations/${conversationId}/messages`, { token: bob.token });
			expect(history.body.messages.filter((m) => m.id === id)).toHaveLength(1);
		});

		it('[ONCE-1] a REST send reaches live clients at once, through the document', async () => {
			const live = connectClient(server.wsUrl, conversationId, bob.token);
			await live.synced;
			const id = ulid();
			await api(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token, body: { id, body: 'via REST' } });
			await waitFor(() => seqMap(live.doc).has(id));
			expect(orderedMessages(live.doc).at(-1)).toMatchObject({ id, author: alice.id, body: 'via REST' });
			live.destroy();
		});

		it('validates message bodies and ids', async () => {
			const cases: Array<[unknown, number, string]> = [
				[{ body: '' }, 400, 'message-empty'],
				[{ body: '   \n ' }, 400, 'message-empty'],
				[{ body: 'x'.repeat(2001) }, 400, 'message-too-long'],
				[{ body: 42 }, 400, 'invalid-request'],
				[{ id: 'nope', body: 'hi' }, 400, 'invalid-request'],
				[{}, 400, 'invalid-request']
			];
			for (const [body, status, code] of cases) {
				const response = await api<ErrorBody>(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token, body });
				expect([response.status, response.body.error.code]).toEqual([status, code]);
			}
		});

		it('[ORDER-1] pages history oldest→newest with a cursor to older pages, or forwards from the last message a device holds', async () => {
			const paged = await createConversation(server.url, alice, [bob], 'Paged');
			const client = connectClient(server.wsUrl, paged, alice.token);
			await client.synced;
			for (let i = 1; i <= 7; i++) writeMessage(client.doc, { id: ulid(), author: alice.id, body: `m${i}` });
			await waitFor(() => seqMap(client.doc).size === 7);
			client.destroy();
			const bodies: string[][] = [];
			let cursor: number | null = null;
			do {
				const query: string = cursor === null ? '?limit=3' : `?limit=3&before=${cursor}`;
				const page: { body: History } = await api<History>(server.url, `/api/conversations/${paged}/messages${query}`, { token: bob.token });
				bodies.push(page.body.messages.map((m) => m.body));
				cursor = page.body.nextCursor;
			} while (cursor !== null);
			expect(bodies).toEqual([['m5', 'm6', 'm7'], ['m2', 'm3', 'm4'], ['m1']]);
			for (const limit of ['0', String(HISTORY_PAGE_MAX + 1), 'ten']) {
				const bad = await api<ErrorBody>(server.url, `/api/conversations/${paged}/messages?limit=${limit}`, { token: bob.token });
				expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid-request']);
			}
			// A device that missed up to HISTORY_PAGE_MAX messages catches up in one request.
			const all = await api<History>(server.url, `/api/conversations/${paged}/messages?limit=${HISTORY_PAGE_MAX}`, { token: bob.token });
			expect([all.status, all.body.messages.length, all.body.nextCursor]).toEqual([200, 7, null]);

			// From the last message a device holds forwards: each page starts right after `after`, oldest first.
			const forwards = async (query: string) => {
				const page = await api<History>(server.url, `/api/conversations/${paged}/messages?${query}`, { token: bob.token });
				expect(page.status).toBe(200);
				return [page.body.messages.map((m) => m.body), page.body.nextCursor];
			};
			expect(await forwards('after=0&limit=3')).toEqual([['m1', 'm2', 'm3'], null]);
			expect(await forwards('after=3&limit=3')).toEqual([['m4', 'm5', 'm6'], 4]);
			expect(await forwards('after=6&limit=3')).toEqual([['m7'], 7]);
			expect(await forwards('after=7')).toEqual([[], 8]);
			expect(await forwards('after=0&before=1')).toEqual([[], null]);
			// Both bounds: the messages strictly between them, from the older end.
			expect(await forwards('after=2&before=6&limit=2')).toEqual([['m3', 'm4'], 3]);
			expect(await forwards('after=2&before=6')).toEqual([['m3', 'm4', 'm5'], 3]);
			for (const after of ['-1', '1.5', 'x', '', ' 2', '0x10']) {
				const bad = await api<ErrorBody>(server.url, `/api/conversations/${paged}/messages?after=${after}`, { token: bob.token });
				expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid-request']);
			}
		});

		it('a message reads the same, field by field, from a send that repeats its id and from every kind of history page', async () => {
			const dave = await createAccount(server.url);
			expect((await api(server.url, '/api/me', { token: dave.token, method: 'PATCH', body: { displayName: 'Dave Bowman' } })).status).toBe(200);
			const id = await createConversation(server.url, dave, [bob], 'Fields');
			const client = connectClient(server.wsUrl, id, dave.token);
			await client.synced;
			// Written a minute ago on the device: the author's clock and the server's differ.
			const createdAt = Date.now() - 60_000;
			const first = ulid();
			const reply = ulid();
			writeMessage(client.doc, { id: first, author: dave.id, body: 'question', createdAt });
			writeMessage(client.doc, { id: reply, author: dave.id, body: 'answer', createdAt: createdAt + 1, replyTo: first });
			await waitFor(() => seqMap(client.doc).size === 2);
			editMessage(client.doc, reply, 'answer, edited');
			setReactions(client.doc, first, dave.id, ['👍']);
			const history = async (query: string) => (await api<{ messages: MessageDto[] }>(server.url, `/api/conversations/${id}/messages?${query}`, { token: bob.token })).body.messages;
			await waitFor(async () => (await history('')).some((m) => m.editedAt !== null && m.body === 'answer, edited') && (await history('')).some((m) => m.reactions.length > 0));
			client.destroy();

			const author = { id: dave.id, username: dave.username, displayName: 'Dave Bowman', avatar: null };
			const expected = [
				{ id: first, conversationId: id, seq: 1, author, body: 'question', createdAt, receivedAt: expect.any(Number), editedAt: null, deletedAt: null, event: null, replyTo: null, attachments: [], reactions: [{ emoji: '👍', userIds: [dave.id] }] },
				{ id: reply, conversationId: id, seq: 2, author, body: 'answer, edited', createdAt: createdAt + 1, receivedAt: expect.any(Number), editedAt: expect.any(Number), deletedAt: null, event: null, replyTo: first, attachments: [], reactions: [] }
			];
			for (const query of ['', 'after=0', 'after=0&before=3', 'before=3&limit=2']) {
				const page = await history(query);
				expect(page, query).toEqual(expected);
				for (const message of page) expect(message.receivedAt - message.createdAt, 'received by the server a minute after it was written').toBeGreaterThan(30_000);
			}
			// A send that repeats an id answers with the stored message (getMessage), not the new body.
			const repeated = await api<{ message: MessageDto }>(server.url, `/api/conversations/${id}/messages`, { token: dave.token, body: { id: first, body: 'something else' } });
			expect([repeated.status, repeated.body.message]).toEqual([200, (await history(''))[0]]);
		});

		it('[ACCESS-2] non-members get 403, unknown conversations 404, on every route', async () => {
			const unknown = ulid();
			for (const [path, body] of [
				[`/api/conversations/${conversationId}/messages`, undefined],
				[`/api/conversations/${conversationId}/messages`, { body: 'let me in' }],
				[`/api/conversations/${conversationId}/members`, { members: [carol.username] }]
			] as const) {
				const response = await api<ErrorBody>(server.url, path, { token: carol.token, body });
				expect([response.status, response.body.error.code]).toEqual([403, 'forbidden']);
				const missing = await api<ErrorBody>(server.url, path.replace(conversationId, unknown), { token: carol.token, body });
				expect([missing.status, missing.body.error.code]).toEqual([404, 'not-found']);
			}
			const history = await api<History>(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token });
			expect(history.body.messages.some((m) => m.body === 'let me in')).toBe(false);
		});
	});
});
