import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { messagesMap, orderedMessages, seqMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { CloseReason, RefusalCode } from '../../src/lib/shared/protocol.ts';
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

type History = { messages: Array<{ id: string; body: string; author: { id: string }; createdAt: number; deletedAt: number | null; editedAt: number | null }> };

describe('the server decides who wrote what', () => {
	const server = useTestServer();
	let alice: Account;
	let bob: Account;
	let conversationId: string;
	let aliceMessage: string;
	const open: SyncClient[] = [];

	async function client(account: Account, doc?: Y.Doc): Promise<SyncClient> {
		const c = connectClient(server.wsUrl, conversationId, account.token, doc);
		open.push(c);
		await c.synced;
		return c;
	}

	async function history(): Promise<History['messages']> {
		const response = await api<History>(server.url, `/api/conversations/${conversationId}/messages?limit=200`, { token: alice.token });
		return response.body.messages;
	}

	/** The server's copy of the document, as a fresh member sees it. */
	async function serverView(): Promise<Y.Doc> {
		const c = await client(alice);
		return c.doc;
	}

	async function expectRefused(c: SyncClient, code: string): Promise<void> {
		await waitFor(() => c.refusals.includes(CloseReason.UpdateRefused), 5000, 'the refusal');
		expect(c.rejected.map((r) => r.code)).toContain(code);
	}

	beforeAll(async () => {
		alice = await createAccount(server.url);
		bob = await createAccount(server.url);
		conversationId = await createConversation(server.url, alice, [bob], 'Authorship');
		const a = await client(alice);
		aliceMessage = ulid();
		writeMessage(a.doc, { id: aliceMessage, author: alice.id, body: 'original' });
		await waitFor(() => seqMap(a.doc).has(aliceMessage));
	});
	afterAll(async () => {
		for (const c of open) c.destroy();
	});

	it('[AUTH-1] a message that names another user as its author is refused and nothing of it is stored', async () => {
		const before = await history();
		const b = await client(bob);
		const forged = ulid();
		writeMessage(b.doc, { id: forged, author: alice.id, body: 'I am alice, honest' });
		await expectRefused(b, RefusalCode.ForeignAuthor);
		expect(b.rejected[0]?.messageIds).toEqual([forged]);
		expect(await history()).toEqual(before);
		expect(messagesMap(await serverView()).has(forged)).toBe(false);
	});

	it('[AUTH-2] editing someone else’s message is refused, whoever it claims as author', async () => {
		for (const author of [alice.id, bob.id]) {
			const b = await client(bob);
			messagesMap(b.doc).set(aliceMessage, { id: aliceMessage, author, body: 'edited by bob', createdAt: Date.now() });
			await expectRefused(b, RefusalCode.ForeignMessage);
		}
		const stored = (await history()).find((m) => m.id === aliceMessage);
		expect(stored?.body).toBe('original');
		expect(messagesMap(await serverView()).get(aliceMessage)?.body).toBe('original');
	});

	it('[AUTH-2] deleting someone else’s message is refused', async () => {
		const b = await client(bob);
		messagesMap(b.doc).delete(aliceMessage);
		await expectRefused(b, RefusalCode.ForeignMessage);
		expect(messagesMap(await serverView()).get(aliceMessage)?.body).toBe('original');
		expect((await history()).find((m) => m.id === aliceMessage)?.deletedAt).toBeNull();
	});

	it('[AUTH-2] authors may edit and delete their own messages; the table follows', async () => {
		const a = await client(alice);
		const id = ulid();
		writeMessage(a.doc, { id, author: alice.id, body: 'tpyo' });
		await waitFor(() => seqMap(a.doc).has(id));
		const createdAt = messagesMap(a.doc).get(id)!.createdAt;
		messagesMap(a.doc).set(id, { id, author: alice.id, body: 'typo', createdAt, editedAt: Date.now() });
		await waitFor(() => a.provider.unsyncedChanges === 0);
		let row = (await history()).find((m) => m.id === id);
		expect(row?.body).toBe('typo');
		expect(row?.editedAt).not.toBeNull();
		messagesMap(a.doc).delete(id);
		await waitFor(() => a.provider.unsyncedChanges === 0);
		row = (await history()).find((m) => m.id === id);
		expect(row?.deletedAt).not.toBeNull();
		expect(row?.body).toBe('');
		expect(a.refusals).toEqual([]);
	});

	it('[AUTH-3] a Yjs clientID stays bound to the first user who used it', async () => {
		const a = await client(alice);
		const stolenId = a.doc.clientID;
		writeMessage(a.doc, { id: ulid(), author: alice.id, body: 'binds my clientID' });
		await waitFor(() => a.provider.unsyncedChanges === 0);
		const b = await client(bob);
		// After syncing, Yjs itself would move away from a clientID it sees in use; an attacker sets it back.
		b.doc.clientID = stolenId;
		writeMessage(b.doc, { id: ulid(), author: bob.id, body: 'with alice’s clientID' });
		await expectRefused(b, RefusalCode.ForeignClient);
	});

	it('[AUTH-3] a clientID announced in awareness is bound before anyone hears of it, and stays bound after a restart', async () => {
		const listener = await client(bob);
		const doc = new Y.Doc();
		const a = await client(alice, doc);
		a.provider.awareness!.setLocalStateField('user', { name: 'alice' });
		await waitFor(() => listener.provider.awareness!.getStates().has(doc.clientID), 5000, 'alice’s awareness at bob');
		await server.restart();
		const b = await client(bob);
		b.doc.clientID = doc.clientID;
		writeMessage(b.doc, { id: ulid(), author: bob.id, body: 'with a clientID alice only announced' });
		await expectRefused(b, RefusalCode.ForeignClient);
	});

	it('[AUTH-4] clients cannot write the server’s sequence map or any other root', async () => {
		const a = await client(bob);
		seqMap(a.doc).set(aliceMessage, 999);
		await expectRefused(a, RefusalCode.UnknownRoot);
		const b = await client(bob);
		seqMap(b.doc).set(ulid(), 1);
		await expectRefused(b, RefusalCode.UnknownRoot);
		const c = await client(bob);
		c.doc.getArray('anything').insert(0, ['x']);
		await expectRefused(c, RefusalCode.UnknownRoot);
		const d = await client(bob);
		const nested = new Y.Map();
		messagesMap(d.doc).set(ulid(), nested as never);
		await expectRefused(d, RefusalCode.UnsupportedContent);
		expect(seqMap(await serverView()).get(aliceMessage)).toBe(1);
	});

	it('[AUTH-5] empty and over-long messages are refused, not truncated', async () => {
		const before = await history();
		const b = await client(bob);
		const blank = ulid();
		messagesMap(b.doc).set(blank, { id: blank, author: bob.id, body: '   ', createdAt: Date.now() });
		await expectRefused(b, RefusalCode.MessageEmpty);
		const c = await client(bob);
		writeMessage(c.doc, { id: ulid(), author: bob.id, body: 'x'.repeat(2001) });
		await expectRefused(c, RefusalCode.MessageTooLong);
		const d = await client(bob);
		messagesMap(d.doc).set(ulid(), { id: 'not-an-id', author: bob.id, body: 'hi', createdAt: Date.now() });
		await expectRefused(d, RefusalCode.InvalidMessage);
		expect(await history()).toEqual(before);
	});

	it('[AUTH-5] a 2000-character message is accepted whole; bodies in the document must be trimmed', async () => {
		const b = await client(bob);
		const id = ulid();
		writeMessage(b.doc, { id, author: bob.id, body: 'é'.repeat(2000) });
		await waitFor(() => seqMap(b.doc).has(id));
		expect((await history()).find((m) => m.id === id)?.body).toBe('é'.repeat(2000));
		const padded = await client(bob);
		const paddedId = ulid();
		messagesMap(padded.doc).set(paddedId, { id: paddedId, author: bob.id, body: `  hi${' '.repeat(5000)}`, createdAt: Date.now() });
		await expectRefused(padded, RefusalCode.InvalidMessage);
	});

	it('[AUTH-2] a message sent over REST stays its author’s to edit and delete, and no one else’s', async () => {
		const id = ulid();
		await api(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token, body: { id, body: 'from a bot' } });
		const b = await client(bob);
		const createdAt = (await history()).find((m) => m.id === id)!.createdAt;
		messagesMap(b.doc).set(id, { id, author: bob.id, body: 'hijacked', createdAt });
		await expectRefused(b, RefusalCode.ForeignMessage);
		const c = await client(bob);
		messagesMap(c.doc).delete(id);
		await expectRefused(c, RefusalCode.ForeignMessage);
		const a = await client(alice);
		messagesMap(a.doc).set(id, { id, author: alice.id, body: 'edited by its author', createdAt });
		await waitFor(() => a.provider.unsyncedChanges === 0);
		expect((await history()).find((m) => m.id === id)?.body).toBe('edited by its author');
		messagesMap(a.doc).delete(id);
		await waitFor(() => a.provider.unsyncedChanges === 0);
		expect((await history()).find((m) => m.id === id)?.deletedAt).not.toBeNull();
		expect(a.refusals).toEqual([]);
	});

	it('[AUTH-1] a refused update does not hold back later members: honest clients keep syncing', async () => {
		const a = await client(alice);
		const id = ulid();
		writeMessage(a.doc, { id, author: alice.id, body: 'still fine' });
		await waitFor(() => seqMap(a.doc).has(id));
		expect(orderedMessages(a.doc).at(-1)?.id).toBe(id);
	});
});
