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
import * as Y from 'yjs';
import { HandshakeFirstProvider, isSyncStep1 } from '../../src/lib/sync/handshake-first-provider.ts';

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

	it('[ORDER-2] a message written after an offline reload does not overtake the ones written before it', async () => {
		const room = await createConversation(server.url, alice, [bob, carol], 'Order');
		// Before the reload: written offline, kept only in the device's database.
		const before = new Y.Doc();
		const older = [ulid(), ulid()];
		const start = Date.now();
		older.forEach((id, i) => writeMessage(before, { id, author: alice.id, body: `before the reload ${i}`, createdAt: start + i }));
		// After the reload: a new document (a new clientID) loads it, and the user writes again, still offline.
		const after = new Y.Doc();
		Y.applyUpdate(after, Y.encodeStateAsUpdate(before), 'database');
		const a = connectClient(server.wsUrl, room, alice.token, after, { Provider: HandshakeFirstProvider, autoConnect: false });
		// A slow network: the server's question (its sync step 1), whose answer carries the older messages, comes late.
		const handle = a.provider.onMessage.bind(a.provider);
		a.provider.onMessage = (event) => {
			if (isSyncStep1(event.data as ArrayBuffer)) setTimeout(() => handle(event), 300);
			else handle(event);
		};
		const newer = ulid();
		writeMessage(after, { id: newer, author: alice.id, body: 'after the reload', createdAt: start + 10 });
		void a.socket.connect();
		await waitFor(() => [...older, newer].every((id) => sequenceOf(after, id) !== undefined), 5000, 'every message sequenced');
		expect([...older, newer].map((id) => sequenceOf(after, id))).toEqual([1, 2, 3]);
		a.destroy();
	});

	it('[ORDER-2] a change made while the socket is closing waits for the next connection\'s answer', async () => {
		const room = await createConversation(server.url, alice, [bob, carol], 'Order, closing');
		const doc = new Y.Doc();
		const a = connectClient(server.wsUrl, room, alice.token, doc, { Provider: HandshakeFirstProvider });
		await a.synced;
		await waitFor(() => (a.provider as HandshakeFirstProvider).answeredServer === true, 5000, 'the answer');
		// The network died: what the socket sends now never arrives.
		const socket = (a.socket as unknown as { webSocket: { send: (data: unknown) => void } }).webSocket;
		socket.send = () => {};
		const lost = ulid();
		writeMessage(doc, { id: lost, author: alice.id, body: 'sent into the dead socket', createdAt: Date.now() });
		a.socket.disconnect();
		// While the socket closes, another tab's message arrives over the tabs' channel.
		const tab = new Y.Doc();
		Y.applyUpdate(tab, Y.encodeStateAsUpdate(doc));
		const fromTab = ulid();
		writeMessage(tab, { id: fromTab, author: alice.id, body: 'from the other tab', createdAt: Date.now() + 5 });
		Y.applyUpdate(doc, Y.encodeStateAsUpdate(tab, Y.encodeStateVector(doc)), 'tabs');
		await waitFor(() => a.socket.status === 'disconnected', 5000, 'the close');
		const handle = a.provider.onMessage.bind(a.provider);
		a.provider.onMessage = (event) => {
			if (isSyncStep1(event.data as ArrayBuffer)) setTimeout(() => handle(event), 300);
			else handle(event);
		};
		void a.socket.connect();
		await waitFor(() => sequenceOf(doc, lost) !== undefined && sequenceOf(doc, fromTab) !== undefined, 8000, 'both sequenced');
		expect(sequenceOf(doc, lost)!).toBeLessThan(sequenceOf(doc, fromTab)!);
		a.destroy();
	});

	it('[ORDER-2] only the server\'s sync step 1 counts as the question the device answers', () => {
		const frame = (...numbers: number[]) => new Uint8Array([4, ...new TextEncoder().encode('c:ab'), ...numbers]);
		expect(isSyncStep1(frame(0, 0, 0))).toBe(true);
		expect(isSyncStep1(frame(0, 1, 0))).toBe(false);
		expect(isSyncStep1(frame(0, 2, 0))).toBe(false);
		expect(isSyncStep1(frame(5, 0))).toBe(false);
		expect(isSyncStep1(new Uint8Array([200]))).toBe(false);
		expect(isSyncStep1(new Uint8Array([4, 1, 2, 3, 4]).buffer)).toBe(false);
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
