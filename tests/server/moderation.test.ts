import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { deleteForEveryone, messageOf, messagesMap, reactionsMap, sequenceOf, setReactions, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import type { MessageDto } from '../../src/lib/shared/api-types.ts';
import { RefusalCode, reactionKey } from '../../src/lib/shared/protocol.ts';
import { api, connectClient, createAccount, createConversation, waitFor, type Account, type SyncClient } from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

describe('moderators delete others’ messages, and nothing more', () => {
	const server = useTestServer();
	let owner: Account;
	let ben: Account;
	let cal: Account;
	let conversationId: string;
	const open: SyncClient[] = [];

	async function client(account: Account): Promise<SyncClient> {
		const c = connectClient(server.wsUrl, conversationId, account.token, new Y.Doc());
		open.push(c);
		await c.synced;
		return c;
	}

	async function sent(account: Account, body: string): Promise<string> {
		const c = await client(account);
		const id = ulid();
		writeMessage(c.doc, { id, author: account.id, body });
		await waitFor(() => sequenceOf(c.doc, id) !== undefined, 5000, 'the acknowledgement');
		return id;
	}

	async function row(id: string): Promise<MessageDto | undefined> {
		const history = await api<{ messages: MessageDto[] }>(server.url, `/api/conversations/${conversationId}/messages?limit=200`, { token: owner.token });
		return history.body.messages.find((m) => m.id === id);
	}

	/** `change` applied by `account` on a fresh synced copy: the refusal code, or 'accepted'. */
	async function attempt(account: Account, change: (doc: Y.Doc) => void): Promise<string> {
		const c = await client(account);
		const before = c.rejected.length;
		let acked = false;
		c.provider.on('unsyncedChanges', ({ number }: { number: number }) => (acked = number === 0));
		change(c.doc);
		await waitFor(() => c.rejected.length > before || acked, 5000, 'an answer');
		return c.rejected.length > before ? c.rejected[before]!.code : 'accepted';
	}

	beforeAll(async () => {
		[owner, ben, cal] = [await createAccount(server.url), await createAccount(server.url), await createAccount(server.url)];
		conversationId = await createConversation(server.url, owner, [ben, cal], 'Moderated');
	});

	afterAll(async () => {
		for (const c of open) c.destroy();
	});

	it('[MOD-1] a plain member cannot delete someone else’s message; made a moderator by the owner, they can, and the author keeps it deleted', async () => {
		const id = await sent(ben, 'spam spam spam');
		expect(await attempt(cal, (doc) => deleteForEveryone(doc, id))).toBe(RefusalCode.ForeignMessage);
		expect((await row(id))?.deletedAt).toBeNull();
		const made = await api(server.url, `/api/conversations/${conversationId}/members/${cal.username}`, { method: 'PATCH', token: owner.token, body: { role: 'moderator' } });
		expect(made.status).toBe(200);
		expect(await attempt(cal, (doc) => deleteForEveryone(doc, id))).toBe('accepted');
		const deleted = await row(id);
		expect(deleted).toMatchObject({ body: '', author: { id: ben.id } });
		expect(deleted?.deletedAt).not.toBeNull();
		// The author cannot bring it back.
		expect(await attempt(ben, (doc) => messagesMap(doc).set(id, { author: ben.id, body: 'back', createdAt: messageOf(doc, id)!.createdAt, editedAt: Date.now() }))).toBe(RefusalCode.MessageDeleted);
	});

	it('[MOD-1] a moderator may not edit, remove the key, re-author, touch reactions or the server’s lines', async () => {
		const id = await sent(ben, 'keep me as I am');
		expect(await attempt(cal, (doc) => messagesMap(doc).set(id, { ...messageOf(doc, id)!, id: undefined, body: 'changed', editedAt: Date.now() }))).toBe(RefusalCode.ForeignMessage);
		expect(await attempt(cal, (doc) => messagesMap(doc).delete(id))).toBe(RefusalCode.ForeignMessage);
		expect(await attempt(cal, (doc) => messagesMap(doc).set(id, { author: cal.id, body: '', createdAt: messageOf(doc, id)!.createdAt, deletedAt: Date.now() }))).toBe(RefusalCode.ForeignAuthor);
		const benReacts = await client(ben);
		setReactions(benReacts.doc, id, ben.id, ['👍']);
		expect(await attempt(cal, (doc) => reactionsMap(doc).set(reactionKey(id, ben.id), ['👎']))).toBe(RefusalCode.ForeignMessage);
		// A timeline line (renaming the group) is nobody's to delete.
		await api(server.url, `/api/conversations/${conversationId}`, { method: 'PATCH', token: owner.token, body: { title: 'Renamed' } });
		const line = (await api<{ messages: MessageDto[] }>(server.url, `/api/conversations/${conversationId}/messages?limit=200`, { token: owner.token })).body.messages.find((m) => m.event?.type === 'renamed')!;
		expect(await attempt(cal, (doc) => deleteForEveryone(doc, line.id) || messagesMap(doc).set(line.id, { author: owner.id, body: '', createdAt: line.createdAt, deletedAt: Date.now() }))).toBe(RefusalCode.ForeignMessage);
		expect((await row(id))?.body).toBe('keep me as I am');
	});

	it('[MOD-1] a group’s owner moderates; roles are the owner’s to give, and only to members; a moderator closes and reopens', async () => {
		const id = await sent(cal, 'off topic');
		expect(await attempt(owner, (doc) => deleteForEveryone(doc, id))).toBe('accepted');
		const notOwner = await api<{ error: { code: string } }>(server.url, `/api/conversations/${conversationId}/members/${ben.username}`, { method: 'PATCH', token: ben.token, body: { role: 'moderator' } });
		expect([notOwner.status, notOwner.body.error.code]).toEqual([403, 'forbidden']);
		const stranger = await createAccount(server.url);
		const notMember = await api<{ error: { code: string } }>(server.url, `/api/conversations/${conversationId}/members/${stranger.username}`, { method: 'PATCH', token: owner.token, body: { role: 'moderator' } });
		expect([notMember.status, notMember.body.error.code]).toEqual([404, 'not-a-member']);
		const badRole = await api<{ error: { code: string } }>(server.url, `/api/conversations/${conversationId}/members/${ben.username}`, { method: 'PATCH', token: owner.token, body: { role: 'owner' } });
		expect([badRole.status, badRole.body.error.code]).toEqual([400, 'invalid-request']);
		// A moderator closes and reopens the conversation too (CTX-2).
		const closed = await api<{ conversation: { status: string } }>(server.url, `/api/conversations/${conversationId}`, { method: 'PATCH', token: cal.token, body: { status: 'closed' } });
		expect(closed.body.conversation.status).toBe('closed');
		await api(server.url, `/api/conversations/${conversationId}`, { method: 'PATCH', token: cal.token, body: { status: 'open' } });
		// Back to member: no longer a moderator.
		await api(server.url, `/api/conversations/${conversationId}/members/${cal.username}`, { method: 'PATCH', token: owner.token, body: { role: 'member' } });
		const other = await sent(ben, 'one more');
		expect(await attempt(cal, (doc) => deleteForEveryone(doc, other))).toBe(RefusalCode.ForeignMessage);
	});
});

describe('hostile updates around moderation and closed conversations', () => {
	const server = useTestServer();
	let owner: Account;
	let ben: Account;
	let conversationId: string;
	const open: SyncClient[] = [];

	beforeAll(async () => {
		[owner, ben] = [await createAccount(server.url), await createAccount(server.url)];
		conversationId = await createConversation(server.url, owner, [ben], 'Hostile');
	});

	afterAll(async () => {
		for (const c of open) c.destroy();
	});

	async function client(account: Account): Promise<SyncClient> {
		const c = connectClient(server.wsUrl, conversationId, account.token, new Y.Doc());
		open.push(c);
		await c.synced;
		return c;
	}

	it('[MOD-1] a moderator cannot remove a message by writing and deleting a value in one update', async () => {
		const writer = await client(ben);
		const id = ulid();
		writeMessage(writer.doc, { id, author: ben.id, body: 'stays, with a placeholder if deleted' });
		await waitFor(() => sequenceOf(writer.doc, id) !== undefined, 5000, 'the acknowledgement');
		const moderator = await client(owner);
		moderator.doc.transact(() => {
			messagesMap(moderator.doc).set(id, { author: ben.id, body: '', createdAt: messageOf(moderator.doc, id)!.createdAt, deletedAt: Date.now() });
			messagesMap(moderator.doc).delete(id);
		});
		await waitFor(() => moderator.rejected.length > 0, 5000, 'the refusal');
		expect(moderator.rejected[0]!.code).toBe(RefusalCode.ForeignMessage);
		const history = await api<{ messages: MessageDto[] }>(server.url, `/api/conversations/${conversationId}/messages`, { token: owner.token });
		expect(history.body.messages.find((m) => m.id === id)).toMatchObject({ body: 'stays, with a placeholder if deleted', deletedAt: null });
	});

	it('[CTX-2] a key written and deleted while open cannot carry a message into the conversation once it is closed', async () => {
		const sneaky = await client(ben);
		const keys = [ulid(), ulid()];
		for (const key of keys) {
			sneaky.doc.transact(() => {
				messagesMap(sneaky.doc).set(key, { author: ben.id, body: 'placeholder', createdAt: Date.now() });
				messagesMap(sneaky.doc).delete(key);
			});
		}
		await new Promise((resolve) => setTimeout(resolve, 200));
		await api(server.url, `/api/conversations/${conversationId}`, { method: 'PATCH', token: owner.token, body: { status: 'closed' } });
		const later = await client(ben);
		// The key exists (deleted) in the document: writing it again is still a new message.
		messagesMap(later.doc).set(keys[0]!, { author: ben.id, body: 'sent after the close', createdAt: Date.now() });
		await waitFor(() => later.rejected.length > 0, 5000, 'the refusal');
		expect(later.rejected[0]).toMatchObject({ code: RefusalCode.ConversationClosed, messageIds: [keys[0]] });
		const history = await api<{ messages: MessageDto[] }>(server.url, `/api/conversations/${conversationId}/messages`, { token: owner.token });
		expect(history.body.messages.some((m) => m.body === 'sent after the close')).toBe(false);
	});
});
