import * as encoding from 'lib0/encoding';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { messagesMap, orderedMessages, seqMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { CloseReason, conversationDocName } from '../../src/lib/shared/protocol.ts';
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

type History = { messages: Array<{ id: string; body: string }> };

/** A raw socket speaking Hocuspocus frames, for what a well-behaved provider would never send. */
async function rawClient(wsUrl: string, docName: string, token: string, headers: Record<string, string> = {}) {
	const ws = new WebSocket(wsUrl, { headers });
	const frames: Uint8Array[] = [];
	const closed = new Promise<{ code: number; reason: string }>((resolve) =>
		ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() }))
	);
	ws.on('message', (data: Buffer) => frames.push(new Uint8Array(data)));
	await new Promise<void>((resolve, reject) => {
		ws.once('open', () => resolve());
		ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
		ws.once('error', reject);
	});
	const frame = (write: (e: encoding.Encoder) => void) => {
		const e = encoding.createEncoder();
		encoding.writeVarString(e, docName);
		write(e);
		return encoding.toUint8Array(e);
	};
	ws.send(frame((e) => (encoding.writeVarUint(e, 2), encoding.writeVarUint(e, 0), encoding.writeVarString(e, token))));
	await waitFor(() => frames.length > 0, 5000, 'the auth reply');
	/** The CLOSE frame's reason, if the server closed this document. */
	const closeReason = () => {
		for (const f of frames) {
			const text = Buffer.from(f).toString('latin1');
			for (const reason of Object.values(CloseReason)) if (text.includes(reason)) return reason;
		}
		return null;
	};
	return { ws, frame, closed, closeReason };
}

describe('access and frames', () => {
	const server = useTestServer();
	let alice: Account;
	let bob: Account;

	beforeAll(async () => {
		alice = await createAccount(server.url);
		bob = await createAccount(server.url);
	});

	it('[ACCESS-3] a removed member’s open connection closes within a second, and their offline updates are refused', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Revocable');
		const b = connectClient(server.wsUrl, conversationId, bob.token);
		await b.synced;
		const removedAt = Date.now();
		const removal = await api(server.url, `/api/conversations/${conversationId}/members/${bob.username}`, { method: 'DELETE', token: alice.token });
		expect(removal.status).toBe(204);
		await waitFor(() => b.refusals.includes(CloseReason.MembershipRevoked), 1000, 'the revocation');
		expect(Date.now() - removedAt).toBeLessThan(1000);

		// Written while cut off, sent when the socket comes back: refused, never stored.
		const queued = ulid();
		writeMessage(b.doc, { id: queued, author: bob.id, body: 'queued offline' });
		b.destroy();
		const back = connectClient(server.wsUrl, conversationId, bob.token, b.doc);
		await waitFor(() => back.refusals.includes(CloseReason.NotAMember), 5000, 'the refusal on reconnect');
		back.destroy();
		const history = await api<History>(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token });
		expect(history.body.messages.map((m) => m.id)).not.toContain(queued);

		const gone = await api(server.url, `/api/conversations/${conversationId}/messages`, { token: bob.token });
		expect(gone.status).toBe(403);
	});

	it('[ACCESS-3] only the owner removes others; anyone may leave', async () => {
		const carol = await createAccount(server.url);
		const conversationId = await createConversation(server.url, alice, [bob, carol], 'Owners');
		const notOwner = await api<{ error: { code: string } }>(server.url, `/api/conversations/${conversationId}/members/${carol.username}`, {
			method: 'DELETE',
			token: bob.token
		});
		expect([notOwner.status, notOwner.body.error.code]).toEqual([403, 'forbidden']);
		const leave = await api(server.url, `/api/conversations/${conversationId}/members/${bob.username}`, { method: 'DELETE', token: bob.token });
		expect(leave.status).toBe(204);
		const direct = await createConversation(server.url, alice, [carol], '');
		const fixed = await api<{ error: { code: string } }>(server.url, `/api/conversations/${direct}/members/${carol.username}`, {
			method: 'DELETE',
			token: alice.token
		});
		expect([fixed.status, fixed.body.error.code]).toEqual([400, 'not-a-group']);
	});

	it('[ONCE-2] a message written offline is delivered once on reconnect, even when two devices carry it', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Offline');
		const phone = connectClient(server.wsUrl, conversationId, alice.token);
		const reader = connectClient(server.wsUrl, conversationId, bob.token);
		await Promise.all([phone.synced, reader.synced]);
		phone.socket.disconnect();
		const ids = [ulid(), ulid(), ulid()];
		for (const id of ids) writeMessage(phone.doc, { id, author: alice.id, body: `offline ${id}` });
		// A laptop of the same user holds the same pending messages (as a second tab would).
		const laptopDoc = new Y.Doc();
		Y.applyUpdate(laptopDoc, Y.encodeStateAsUpdate(phone.doc));
		const laptop = connectClient(server.wsUrl, conversationId, alice.token, laptopDoc);
		await phone.socket.connect();
		await waitFor(() => ids.every((id) => seqMap(reader.doc).has(id)), 5000, 'delivery');
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(orderedMessages(reader.doc).map((m) => m.id)).toEqual(ids);
		const history = await api<History>(server.url, `/api/conversations/${conversationId}/messages`, { token: bob.token });
		expect(history.body.messages.map((m) => m.id)).toEqual(orderedMessages(reader.doc).map((m) => m.id));
		expect(phone.refusals.concat(laptop.refusals)).toEqual([]);
		for (const c of [phone, laptop, reader]) c.destroy();
	});

	it('[ONCE-2] a client that connects while the document is still unloading from the last one is served normally', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Churn');
		const ids: string[] = [];
		let previous: SyncClient | null = null;
		for (let round = 0; round < 30; round++) {
			// The previous client leaves as this one arrives: the document unloads and loads again at once.
			previous?.destroy();
			const c = connectClient(server.wsUrl, conversationId, round % 2 ? bob.token : alice.token);
			await c.synced;
			const id = ulid();
			ids.push(id);
			writeMessage(c.doc, { id, author: round % 2 ? bob.id : alice.id, body: `round ${round}` });
			await waitFor(() => seqMap(c.doc).has(id), 5000, `round ${round}`);
			expect(c.refusals).toEqual([]);
			previous = c;
		}
		previous?.destroy();
		const history = await api<History>(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token });
		expect(history.body.messages.map((m) => m.id)).toEqual(ids);
	});

	it('[ACCESS-4] a browser socket from a foreign Origin is refused at the upgrade', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Origins');
		await expect(rawClient(server.wsUrl, conversationDocName(conversationId), alice.token, { origin: 'https://evil.example' })).rejects.toThrow(
			'upgrade refused: 403'
		);
		const same = await rawClient(server.wsUrl, conversationDocName(conversationId), alice.token, { origin: server.url });
		expect(same.closeReason()).toBeNull();
		same.ws.close();
	});

	it('[FRAME-1] broadcast-stateless frames are not relayed; the document is closed with a reason', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Frames');
		const listener = connectClient(server.wsUrl, conversationId, bob.token);
		const stateless: string[] = [];
		listener.provider.on('stateless', ({ payload }: { payload: string }) => stateless.push(payload));
		await listener.synced;
		const raw = await rawClient(server.wsUrl, conversationDocName(conversationId), alice.token);
		raw.ws.send(raw.frame((e) => (encoding.writeVarUint(e, 6), encoding.writeVarString(e, 'spoofed'))));
		await waitFor(() => raw.closeReason() !== null, 5000, 'the close');
		expect(raw.closeReason()).toBe(CloseReason.BroadcastNotAllowed);
		expect(stateless).toEqual([]);
		raw.ws.close();
		listener.destroy();
	});

	it('[FRAME-1] malformed frames close the document with malformed-message; garbage closes the socket', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Garbage');
		const raw = await rawClient(server.wsUrl, conversationDocName(conversationId), alice.token);
		raw.ws.send(raw.frame((e) => (encoding.writeVarUint(e, 0), encoding.writeVarUint(e, 2), encoding.writeVarUint(e, 9999))));
		await waitFor(() => raw.closeReason() !== null, 5000, 'the close');
		expect(raw.closeReason()).toBe(CloseReason.MalformedMessage);
		raw.ws.close();

		const unknownType = await rawClient(server.wsUrl, conversationDocName(conversationId), alice.token);
		unknownType.ws.send(unknownType.frame((e) => encoding.writeVarUint(e, 42)));
		await waitFor(() => unknownType.closeReason() !== null, 5000, 'the close');
		expect(unknownType.closeReason()).toBe(CloseReason.MalformedMessage);
		unknownType.ws.close();

		const garbage = new WebSocket(server.wsUrl);
		await new Promise((resolve) => garbage.once('open', resolve));
		garbage.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
		const closed = await new Promise<[number, string]>((resolve) => garbage.once('close', (code, reason) => resolve([code, reason.toString()])));
		expect(closed).toEqual([1008, 'malformed-frame']);
		const history = await api<History>(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token });
		expect(history.body.messages).toEqual([]);
	});

	it('[FRAME-1] a frame over 1 MiB closes the socket with 1009 and stores nothing', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Big');
		const raw = await rawClient(server.wsUrl, conversationDocName(conversationId), alice.token);
		raw.ws.send(new Uint8Array(1024 * 1024 + 10));
		expect((await raw.closed).code).toBe(1009);
		const c = connectClient(server.wsUrl, conversationId, alice.token);
		await c.synced;
		expect(messagesMap(c.doc).size).toBe(0);
		c.destroy();
	});
});

describe('sessions and groups', () => {
	const server = useTestServer();
	beforeAll(async () => {
		// More sign-ups from one address, and more members added at once, than the defaults allow.
	});

	it('[ACCESS-3] logging out closes the sync connections of that session at once', async () => {
		const alice = await createAccount(server.url);
		const bob = await createAccount(server.url);
		const conversationId = await createConversation(server.url, alice, [bob], 'Logout');
		const a = connectClient(server.wsUrl, conversationId, alice.token);
		const b = connectClient(server.wsUrl, conversationId, bob.token);
		await Promise.all([a.synced, b.synced]);
		const out = await api(server.url, '/api/auth/logout', { method: 'POST', token: alice.token });
		expect(out.status).toBe(204);
		await waitFor(() => a.refusals.includes(CloseReason.SessionEnded), 1000, 'the close');
		expect(b.refusals).toEqual([]);
		a.destroy();
		b.destroy();
	});

	it('[ACCESS-3] an owner who leaves hands the group to the longest-standing member', async () => {
		const [owner, first, second] = [await createAccount(server.url), await createAccount(server.url), await createAccount(server.url)];
		const conversationId = await createConversation(server.url, owner, [first, second], 'Heirs');
		expect((await api(server.url, `/api/conversations/${conversationId}/members/${owner.username}`, { method: 'DELETE', token: owner.token })).status).toBe(204);
		const list = await api<{ conversations: Array<{ id: string; members: Array<{ username: string; role: string }> }> }>(server.url, '/api/conversations', {
			token: first.token
		});
		const owners = list.body.conversations.find((c) => c.id === conversationId)?.members.filter((m) => m.role === 'owner') ?? [];
		expect(owners).toHaveLength(1);
		const heir = [first, second].find((account) => account.username === owners[0]?.username)!;
		const added = await api(server.url, `/api/conversations/${conversationId}/members`, { token: heir.token, body: { members: [owner.username] } });
		expect(added.status).toBe(200);
	});

	it('a group never grows past 256 members', async () => {
		const owner = await createAccount(server.url);
		const conversationId = await createConversation(server.url, owner, [await createAccount(server.url)], 'Crowd');
		const { users } = await import('../../src/lib/server/db/schema.ts');
		const names = Array.from({ length: 255 }, (_, i) => `crowd_${i}_${Date.now() % 100000}`);
		server.app.core.db
			.insert(users)
			.values(names.map((username) => ({ id: ulid(), username, displayName: username, passwordHash: 'x', createdAt: 0 })))
			.run();
		const tooMany = await api<{ error: { code: string } }>(server.url, `/api/conversations/${conversationId}/members`, {
			token: owner.token,
			body: { members: names }
		});
		expect([tooMany.status, tooMany.body.error.code]).toEqual([400, 'too-many-members']);
		const fits = await api(server.url, `/api/conversations/${conversationId}/members`, { token: owner.token, body: { members: names.slice(0, 254) } });
		expect(fits.status).toBe(200);
	});

	it('errors SvelteKit answers itself under /api are JSON too', async () => {
		const response = await api<{ error: { code: string } }>(server.url, '/api/me', { method: 'DELETE' });
		expect([response.status, response.body.error.code]).toEqual([405, 'method-not-allowed']);
	});
});
