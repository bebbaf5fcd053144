import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { deleteForEveryone, messagesMap, reactionsMap, reactionsTo, sequenceOf, setReactions, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import type { MessageDto } from '../../src/lib/shared/api-types.ts';
import { RefusalCode, reactionKey } from '../../src/lib/shared/protocol.ts';
import {
	api,
	connectClient,
	createAccount,
	createConversation,
	waitFor,
	type Account,
	type SyncClient
} from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

describe('replies and reactions', () => {
	const server = useTestServer();
	let alice: Account;
	let bob: Account;
	let conversationId: string;
	const open: SyncClient[] = [];

	async function client(account: Account, doc = new Y.Doc()): Promise<SyncClient> {
		const c = connectClient(server.wsUrl, conversationId, account.token, doc);
		open.push(c);
		await c.synced;
		return c;
	}

	async function stored(id: string): Promise<MessageDto | undefined> {
		const response = await api<{ messages: MessageDto[] }>(server.url, `/api/conversations/${conversationId}/messages?limit=200`, { token: bob.token });
		return response.body.messages.find((m) => m.id === id);
	}

	async function sent(c: SyncClient, author: Account, body: string, replyTo?: string): Promise<string> {
		const id = ulid();
		writeMessage(c.doc, { id, author: author.id, body, replyTo });
		await waitFor(() => sequenceOf(c.doc, id) !== undefined, 5000, 'the acknowledgement');
		return id;
	}

	async function refusedWith(c: SyncClient): Promise<{ code: string; messageIds: string[] }> {
		await waitFor(() => c.rejected.length > 0, 5000, 'the refusal');
		return c.rejected[0]!;
	}

	beforeAll(async () => {
		alice = await createAccount(server.url);
		bob = await createAccount(server.url);
		conversationId = await createConversation(server.url, alice, [bob], 'Reactions');
	});

	afterAll(async () => {
		for (const c of open) c.destroy();
	});

	it('[REPLY-1] a reply names the message it quotes; the history carries it', async () => {
		const a = await client(alice);
		const b = await client(bob);
		const question = await sent(a, alice, 'who has the notes?');
		const answer = await sent(b, bob, 'I do', question);
		expect((await stored(answer))?.replyTo).toBe(question);
		expect((await stored(question))?.replyTo).toBeNull();
		await waitFor(() => messagesMap(a.doc).get(answer)?.replyTo === question, 5000, 'the reply at alice');
	});

	it('[REPLY-1] replyTo must be another message id', async () => {
		for (const replyTo of ['not-an-id', 42, 'self']) {
			const a = await client(alice);
			const id = ulid();
			messagesMap(a.doc).set(id, { author: alice.id, body: 'a reply', createdAt: Date.now(), replyTo: (replyTo === 'self' ? id : replyTo) as string });
			expect(await refusedWith(a)).toMatchObject({ code: RefusalCode.InvalidMessage, messageIds: [id] });
			expect(await stored(id)).toBeUndefined();
		}
	});

	it('[REPLY-1] over REST, a reply names its message; a replyTo that is not a message id is a clear 400', async () => {
		const a = await client(alice);
		const question = await sent(a, alice, 'anyone at the lab?');
		const reply = await api<{ message: MessageDto }>(server.url, `/api/conversations/${conversationId}/messages`, { token: bob.token, body: { body: 'me', replyTo: question } });
		expect(reply.status).toBe(201);
		expect(reply.body.message.replyTo).toBe(question);
		for (const replyTo of ['not-an-id', 42, '']) {
			const bad = await api<{ error: { code: string; message: string } }>(server.url, `/api/conversations/${conversationId}/messages`, { token: bob.token, body: { body: 'x', replyTo } });
			expect(bad.status).toBe(400);
			expect(bad.body.error.code).toBe('invalid-request');
			expect(bad.body.error.message).toMatch(/replyTo/);
		}
	});

	it('[REACT-1] each member’s reactions are theirs: counted per emoji with who reacted, the same on every device', async () => {
		const a = await client(alice);
		const b = await client(bob);
		const id = await sent(a, alice, 'exam moved to Friday');
		setReactions(a.doc, id, alice.id, ['👍']);
		setReactions(b.doc, id, bob.id, ['👍', '😮']);
		await waitFor(async () => (await stored(id))?.reactions.length === 2, 5000, 'both reactions stored');
		expect((await stored(id))?.reactions).toEqual([
			{ emoji: '👍', userIds: [alice.id, bob.id].sort() },
			{ emoji: '😮', userIds: [bob.id] }
		]);
		await waitFor(() => reactionsTo(a.doc, id).length === 2, 5000, 'bob’s reactions at alice');
		expect(reactionsTo(a.doc, id)).toEqual(reactionsTo(b.doc, id));
		// Toggling the same state twice changes nothing; removing one leaves the other.
		setReactions(b.doc, id, bob.id, ['👍', '😮']);
		setReactions(b.doc, id, bob.id, ['😮']);
		await waitFor(async () => (await stored(id))?.reactions[0]?.userIds.length === 1, 5000, 'bob’s 👍 removed');
		expect((await stored(id))?.reactions).toEqual([
			{ emoji: '👍', userIds: [alice.id] },
			{ emoji: '😮', userIds: [bob.id] }
		]);
	});

	it('[REACT-1] nobody writes another member’s reactions, nor removes them', async () => {
		const a = await client(alice);
		const id = await sent(a, alice, 'mine to react to');
		setReactions(a.doc, id, alice.id, ['🎉']);
		await waitFor(async () => (await stored(id))?.reactions.length === 1, 5000, 'alice’s reaction');
		const b = await client(bob);
		reactionsMap(b.doc).set(reactionKey(id, alice.id), ['👎']);
		expect((await refusedWith(b)).code).toBe(RefusalCode.ForeignMessage);
		const c = await client(bob);
		reactionsMap(c.doc).delete(reactionKey(id, alice.id));
		expect((await refusedWith(c)).code).toBe(RefusalCode.ForeignMessage);
		expect((await stored(id))?.reactions).toEqual([{ emoji: '🎉', userIds: [alice.id] }]);
	});

	it('[REACT-2] reactions are a few distinct emoji on a message the conversation has', async () => {
		const a = await client(alice);
		const id = await sent(a, alice, 'react to me');
		for (const [key, value] of [
			[reactionKey(id, alice.id), ['ok']],
			[reactionKey(id, alice.id), ['👍', '👍']],
			[reactionKey(id, alice.id), ['😀', '😁', '😂', '🤣', '😃', '😄', '😅', '😆', '😉']],
			[reactionKey(id, alice.id), '👍'],
			[reactionKey(ulid(), alice.id), ['👍']],
			[`${id}/not-a-user`, ['👍']]
		] as const) {
			const c = await client(alice);
			reactionsMap(c.doc).set(key, value as never);
			expect((await refusedWith(c)).code).toBe(RefusalCode.InvalidMessage);
		}
		expect((await stored(id))?.reactions).toEqual([]);
	});

	it('[REACT-2] a messages key shaped like a reactions key is refused', async () => {
		const a = await client(alice);
		const id = await sent(a, alice, 'a message to shadow');
		const b = await client(bob);
		messagesMap(b.doc).set(`reactions:${id}/${bob.id}` as string, ['👍'] as never);
		expect((await refusedWith(b)).code).toBe(RefusalCode.InvalidMessage);
		expect((await stored(id))?.reactions).toEqual([]);
	});

	it('[REACT-2] a reaction to a message written in the same update is accepted whichever clientID comes first', async () => {
		for (const [messageClient, reactionClient] of [
			[1000, 2000],
			[3000, 2500]
		]) {
			const server = await client(bob);
			// Offline: a message, then a reload (a new clientID) and a reaction to it; one update on reconnect.
			const before = new Y.Doc();
			before.clientID = messageClient!;
			Y.applyUpdate(before, Y.encodeStateAsUpdate(server.doc));
			const id = ulid();
			writeMessage(before, { id, author: bob.id, body: `written at ${messageClient}` });
			const after = new Y.Doc();
			after.clientID = reactionClient!;
			Y.applyUpdate(after, Y.encodeStateAsUpdate(before));
			setReactions(after, id, bob.id, ['🎉']);
			const device = await client(bob, after);
			await waitFor(async () => (await stored(id))?.reactions.length === 1, 5000, 'the message and its reaction');
			expect(device.rejected).toEqual([]);
		}
	});

	it('[REACT-3] two devices of one user reacting offline at once end with one list, the same in the table and on every device', async () => {
		const a = await client(alice);
		const id = await sent(a, alice, 'pizza tonight?');
		const phone = await client(bob);
		const laptop = await client(bob);
		phone.socket.disconnect();
		laptop.socket.disconnect();
		await waitFor(() => [phone, laptop].every((c) => c.socket.status === 'disconnected'), 5000, 'both offline');
		setReactions(phone.doc, id, bob.id, ['🍕']);
		setReactions(laptop.doc, id, bob.id, ['❤️', '🔥']);
		await Promise.all([phone.socket.connect(), laptop.socket.connect()]);
		const reactionsOf = (c: SyncClient) => JSON.stringify(reactionsTo(c.doc, id));
		await waitFor(() => reactionsOf(phone) === reactionsOf(laptop) && reactionsOf(a) === reactionsOf(phone) && reactionsTo(a.doc, id).length > 0, 5000, 'one result');
		await waitFor(async () => JSON.stringify((await stored(id))?.reactions) === reactionsOf(a), 5000, 'the table to agree');
		// Last writer wins for the one key both devices wrote: one device's list whole, never a mix.
		expect([JSON.stringify([{ emoji: '🍕', userIds: [bob.id] }]), JSON.stringify([{ emoji: '❤️', userIds: [bob.id] }, { emoji: '🔥', userIds: [bob.id] }])]).toContain(reactionsOf(a));
	});

	it('[REACT-1] a deleted message shows no reactions', async () => {
		const a = await client(alice);
		const b = await client(bob);
		const id = await sent(a, alice, 'soon gone');
		setReactions(b.doc, id, bob.id, ['👍']);
		await waitFor(async () => (await stored(id))?.reactions.length === 1, 5000, 'the reaction');
		deleteForEveryone(a.doc, id);
		await waitFor(async () => (await stored(id))?.deletedAt != null, 5000, 'the deletion');
		expect((await stored(id))?.reactions).toEqual([]);
	});

	it('[REACT-1] a page of history carries the reactions of its own messages, and no others', async () => {
		const a = await client(alice);
		const ids: string[] = [];
		for (const body of ['first', 'second', 'third', 'fourth']) ids.push(await sent(a, alice, body));
		ids.forEach((id, i) => setReactions(a.doc, id, alice.id, [['🎉', '👀', '🙏', '🔥'][i]!]));
		await waitFor(async () => (await stored(ids[3]!))?.reactions.length === 1, 5000, 'the reactions stored');
		type Page = { messages: MessageDto[]; nextCursor: number | null };
		const newest = await api<Page>(server.url, `/api/conversations/${conversationId}/messages?limit=2`, { token: bob.token });
		expect(newest.body.messages.map((m) => [m.body, m.reactions.map((r) => r.emoji)])).toEqual([['third', ['🙏']], ['fourth', ['🔥']]]);
		const older = await api<Page>(server.url, `/api/conversations/${conversationId}/messages?limit=2&before=${newest.body.nextCursor}`, { token: bob.token });
		expect(older.body.messages.map((m) => [m.body, m.reactions.map((r) => r.emoji)])).toEqual([['first', ['🎉']], ['second', ['👀']]]);
	});
});
