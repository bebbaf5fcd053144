/**
 * Attacks on the sync server, and honest traffic it must not mistake for one.
 *
 * Each test is one reported finding, named with the rule it proves:
 * - GUARD-1 every struct is validated before anything is skipped (length >= 1, one block per
 *   client, Items placed and owned, content typed);
 * - GUARD-2 an honest provider's traffic is never refused (overlaps, repeats, whole delete sets,
 *   updates ahead of their sync reply are normal);
 * - GUARD-3 history rows are the projection of what the document resolves to;
 * - GUARD-4 a stored update that cannot be applied never bricks a conversation;
 * - GUARD-5 createdAt is bounded;
 * - LIMIT-1 unauthenticated sockets have a byte, document and time budget;
 * - LIMIT-2 awareness entries bound per frame, state size capped, other users' entries dropped;
 * - LIMIT-3 sockets end with their session;
 * - LIMIT-4 typing relayed at most about once per second per user and conversation; message
 *   floods slowed, never lost.
 *
 * The server runs in this process on port 0. Attacks use hand-made Yjs updates and raw
 * Hocuspocus frames (tests/utils/frames.ts, checked against Yjs in tests/unit/frames.test.ts);
 * honest traffic uses the real provider. Providers here pass `awareness: null` unless a test is
 * about awareness, so that a refusal is about the update under test (the provider sends every
 * awareness change, other members' states included: see the LIMIT-2 test).
 *
 * Tests with several parts use `expect.soft`, so that a run lists every broken expectation of a
 * finding, not only the first. A few reach into the running server: the database (clientID
 * bindings in doc_clients, an update written straight into doc_updates) and Hocuspocus's extension
 * list (to hold a document load open, standing in for a slow disk).
 */
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import type { Extension } from '@hocuspocus/server';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { QuietWebSocket } from '../utils/quiet-websocket.ts';
import * as Y from 'yjs';
import { messageOf, messagesMap, seqMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { conversationDocName, decodeServerStateless, type MessageValue, type ServerStateless } from '../../src/lib/shared/protocol.ts';
import {
	after,
	decodeAwareness,
	encodeUpdate,
	frame,
	newKey,
	RawSocket,
	sleep,
	SyncStep,
	until,
	type YContent,
	type YId
} from '../utils/frames.ts';
import { api, createAccount, createConversation, startTestServer, tempDataDir, uniqueName, type Account, type TestServer } from '../utils/server.ts';

/** GUARD-5: createdAt more than this far ahead of the server's clock is refused. */
const CREATED_AT_MAX_AHEAD_MS = 24 * 60 * 60 * 1000;
/** GUARD-5: createdAt before this instant (2020-01-01T00:00:00Z) is refused. */
const CREATED_AT_MIN = Date.UTC(2020, 0, 1);
/** The error code of a REST send whose fields break the schema (docs/api.md: `createdAt` not a finite number). */
const REST_INVALID_CODE = 'invalid-request';

const DAY_MS = 24 * 60 * 60 * 1000;

type HistoryRow = {
	id: string;
	seq: number;
	author: { id: string };
	body: string;
	createdAt: number;
	editedAt: number | null;
	deletedAt: number | null;
};

/** A random clientID that no honest Y.Doc of this run will pick by chance. */
function freshClientId(): number {
	return 1_000_000 + Math.floor(Math.random() * 2_000_000_000);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
	return Promise.race([
		promise,
		new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms))
	]);
}

/** A device: a real provider on its own socket (like connectClient, with awareness off unless asked). */
interface Device {
	doc: Y.Doc;
	provider: HocuspocusProvider;
	socket: HocuspocusProviderWebsocket;
	/** Auth failures and document closes, by reason. */
	refusals: string[];
	rejected: Array<Extract<ServerStateless, { type: 'update-refused' }>>;
	stateless: ServerStateless[];
	synced: Promise<void>;
	destroy(): void;
}

function connectDevice(wsUrl: string, conversationId: string, token: string, options: { doc?: Y.Doc; awareness?: boolean } = {}): Device {
	const doc = options.doc ?? new Y.Doc();
	const socket = new HocuspocusProviderWebsocket({ url: wsUrl, WebSocketPolyfill: QuietWebSocket, delay: 50, minDelay: 50, maxDelay: 500 });
	const refusals: string[] = [];
	const rejected: Device['rejected'] = [];
	const stateless: ServerStateless[] = [];
	let markSynced: () => void = () => {};
	const synced = new Promise<void>((resolve) => (markSynced = resolve));
	const provider = new HocuspocusProvider({
		websocketProvider: socket,
		name: conversationDocName(conversationId),
		document: doc,
		token,
		...(options.awareness ? {} : { awareness: null }),
		onSynced: () => markSynced(),
		onAuthenticationFailed: ({ reason }) => refusals.push(reason),
		onClose: ({ event }) => {
			if (event.reason) refusals.push(event.reason);
		},
		onStateless: ({ payload }) => {
			const message = decodeServerStateless(payload);
			if (message) stateless.push(message);
			if (message?.type === 'update-refused') rejected.push(message);
		}
	});
	provider.attach();
	return {
		doc,
		provider,
		socket,
		refusals,
		rejected,
		stateless,
		synced,
		destroy() {
			provider.destroy();
			socket.destroy();
		}
	};
}

/** Records each transaction of `doc` as the update a provider would send for it. */
function recordUpdates(doc: Y.Doc): Uint8Array[] {
	const updates: Uint8Array[] = [];
	doc.on('update', (update: Uint8Array) => updates.push(update));
	return updates;
}

function message(id: string, author: Account, body: string, createdAt = Date.now()): MessageValue {
	return { id, author: author.id, body, createdAt };
}

interface World {
	/** Changes on restart. */
	server: TestServer;
	alice: Account;
	bob: Account;
	carol: Account;
	/** A group of alice (owner), bob and carol. */
	conversation(title: string): Promise<string>;
	device(account: Account, conversationId: string, options?: { doc?: Y.Doc; awareness?: boolean }): Device;
	synced(account: Account, conversationId: string, options?: { doc?: Y.Doc; awareness?: boolean }): Promise<Device>;
	raw(account: Account, conversationId: string): Promise<{ sock: RawSocket; name: string }>;
	openRaw(headers?: Record<string, string>): Promise<RawSocket>;
	history(conversationId: string, viewer?: Account): Promise<HistoryRow[]>;
	freshDocument(conversationId: string, viewer?: Account): Promise<Y.Doc>;
	expectHistoryEqualsDocument(conversationId: string, viewer?: Account, soft?: boolean, label?: string): Promise<void>;
	restart(): Promise<void>;
	boundClients(conversationId: string): number;
}

/**
 * One server for a describe block, three members and helpers.
 */
function useWorld(env: Record<string, string> = {}): World {
	const data = tempDataDir();
	const devices: Device[] = [];
	const raws: RawSocket[] = [];
	const ctx: World = {
		server: undefined as unknown as TestServer,
		alice: undefined as unknown as Account,
		bob: undefined as unknown as Account,
		carol: undefined as unknown as Account,

		async conversation(title: string): Promise<string> {
			return createConversation(ctx.server.url, ctx.alice, [ctx.bob, ctx.carol], title);
		},

		device(account: Account, conversationId: string, options: { doc?: Y.Doc; awareness?: boolean } = {}): Device {
			const device = connectDevice(ctx.server.wsUrl, conversationId, account.token, options);
			devices.push(device);
			return device;
		},

		async synced(account: Account, conversationId: string, options: { doc?: Y.Doc; awareness?: boolean } = {}): Promise<Device> {
			const device = ctx.device(account, conversationId, options);
			await withTimeout(device.synced, 5000, `${account.username}'s first sync`);
			return device;
		},

		/** A raw socket with the conversation authenticated for `account`. */
		async raw(account: Account, conversationId: string): Promise<{ sock: RawSocket; name: string }> {
			const sock = await RawSocket.open(ctx.server.wsUrl);
			raws.push(sock);
			const name = conversationDocName(conversationId);
			const answer = await sock.auth(name, account.token);
			if (answer !== 'authenticated') throw new Error(`raw auth failed: ${answer}`);
			return { sock, name };
		},

		async openRaw(headers: Record<string, string> = {}): Promise<RawSocket> {
			const sock = await RawSocket.open(ctx.server.wsUrl, headers);
			raws.push(sock);
			return sock;
		},

		/** The whole REST history, oldest first. */
		async history(conversationId: string, viewer: Account = ctx.alice): Promise<HistoryRow[]> {
			const rows: HistoryRow[] = [];
			let before: number | null = null;
			for (;;) {
				const query: string = before === null ? '?limit=200' : `?limit=200&before=${before}`;
				const page = await api<{ messages: HistoryRow[]; nextCursor: number | null }>(
					ctx.server.url,
					`/api/conversations/${conversationId}/messages${query}`,
					{ token: viewer.token }
				);
				if (page.status !== 200) throw new Error(`history: ${page.status} ${JSON.stringify(page.body)}`);
				rows.unshift(...page.body.messages);
				if (page.body.nextCursor === null) return rows;
				before = page.body.nextCursor;
			}
		},

		/** What a member who opens the conversation now receives: the server's document. */
		async freshDocument(conversationId: string, viewer: Account = ctx.alice): Promise<Y.Doc> {
			const device = connectDevice(ctx.server.wsUrl, conversationId, viewer.token);
			try {
				await withTimeout(device.synced, 5000, `a fresh member's sync of ${conversationId}`);
				return device.doc;
			} finally {
				device.destroy();
			}
		},

		/**
		 * GUARD-3: the REST history (its live rows) is exactly what the document resolves to for a
		 * fresh member: the same ids, authors, bodies, createdAt and sequence numbers.
		 */
		async expectHistoryEqualsDocument(conversationId: string, viewer: Account = ctx.alice, soft = false, label = ''): Promise<void> {
			const rows = await ctx.history(conversationId, viewer);
			const doc = await ctx.freshDocument(conversationId, viewer);
			const fromRest = rows
				.filter((row) => row.deletedAt === null)
				.map((row) => ({ id: row.id, author: row.author.id, body: row.body, createdAt: row.createdAt, seq: row.seq }));
			const seqs = seqMap(doc);
			const fromDoc = [...messagesMap(doc).entries()]
				.map(([id, value]) => ({
					id,
					author: (value as MessageValue | undefined)?.author,
					body: (value as MessageValue | undefined)?.body,
					createdAt: (value as MessageValue | undefined)?.createdAt,
					seq: seqs.get(id)
				}))
				.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity) || (a.id < b.id ? -1 : 1));
			(soft ? expect.soft : expect)(fromRest, `${label ? `${label}: ` : ''}REST history (live rows) vs. the document a fresh member gets`).toEqual(fromDoc);
		},

		async restart(): Promise<void> {
			for (const device of devices.splice(0)) device.destroy();
			for (const sock of raws.splice(0)) sock.close();
			await ctx.server.close();
			ctx.server = await startTestServer(data.dir, env);
		},

		/** Rows of doc_clients (clientID bindings) of a conversation. */
		boundClients(conversationId: string): number {
			const row = ctx.server.app.core.db.$client
				.prepare('select count(*) as n from doc_clients where conversation_id = ?')
				.get(conversationId) as { n: number };
			return row.n;
		}
	};

	beforeAll(async () => {
		ctx.server = await startTestServer(data.dir, env);
		ctx.alice = await createAccount(ctx.server.url, uniqueName('alice'));
		ctx.bob = await createAccount(ctx.server.url, uniqueName('bob'));
		ctx.carol = await createAccount(ctx.server.url, uniqueName('carol'));
	});
	afterAll(async () => {
		for (const device of devices) device.destroy();
		for (const sock of raws) sock.close();
		await ctx.server.close();
		data.remove();
	});
	return ctx;
}

/** Writes a message through a device and waits for its sequence number (the "sent" acknowledgement). */
async function sendAndWait(device: Device, value: MessageValue, what = 'the sequence number'): Promise<number> {
	writeMessage(device.doc, value);
	await until(() => seqMap(device.doc).has(value.id), 5000, `${what} of ${value.body}`);
	return seqMap(device.doc).get(value.id)!;
}

/** Takes a device offline and waits until its socket is closed. */
async function goOffline(device: Device): Promise<void> {
	device.socket.disconnect();
	await until(() => device.socket.status === 'disconnected', 5000, 'the socket to close');
}

/** How a document on a raw socket ended: its CLOSE reason, else the socket's close reason, else null. */
function endedWith(sock: RawSocket, name: string): string | null {
	return sock.closeReason(name) ?? sock.closedWith?.reason ?? null;
}

function itemIdOf(doc: Y.Doc, key: string): YId {
	const item = messagesMap(doc)._map.get(key);
	if (!item) throw new Error(`no item for ${key}`);
	return { client: item.id.client, clock: item.id.clock };
}

// =============================================================================================

describe('the update guard', () => {
	const w = useWorld();

	it('[GUARD-1] [GUARD-4] zero-length items are refused: they cannot blank another member’s message, wedge the live document, or brick the conversation across restarts', async () => {
		const { alice, bob, carol } = w;
		const variants: Array<{ name: string; content: YContent; piggyback: boolean }> = [
			{ name: 'ContentAny([]) after the victim', content: { any: [] }, piggyback: false },
			{ name: 'ContentAny([]) after the victim, with a valid message', content: { any: [] }, piggyback: true },
			{ name: 'ContentDeleted(0) after the victim', content: { deleted: 0 }, piggyback: false },
			{ name: 'ContentDeleted(0) after the victim, with a valid message', content: { deleted: 0 }, piggyback: true }
		];
		const cases: Array<{ conversationId: string; victim: MessageValue; later: MessageValue; smuggled?: string; name: string }> = [];
		for (const variant of variants) {
			const conversationId = await w.conversation(`zero length: ${variant.name}`);
			const a = await w.synced(alice, conversationId);
			const c = await w.synced(carol, conversationId);
			const victim = message(ulid(), alice, 'the victim’s words');
			await sendAndWait(a, victim);
			await until(() => messagesMap(c.doc).has(victim.id), 5000, 'carol to see the victim');

			const { sock, name } = await w.raw(bob, conversationId);
			const smuggled = variant.piggyback ? ulid() : undefined;
			const blocks = [{ client: freshClientId(), clock: 0, structs: [after(itemIdOf(a.doc, victim.id), variant.content)] }];
			if (smuggled) blocks.push({ client: freshClientId(), clock: 0, structs: [newKey(smuggled, message(smuggled, bob, 'rides along'))] });
			const answer = await sock.sendSync(name, frame.update(name, encodeUpdate(blocks)));
			await sleep(200);

			expect.soft(answer, `${variant.name}: the update is refused`).toBe('closed');
			expect.soft(sock.refusals(name).length, `${variant.name}: an update-refused message precedes the close`).toBeGreaterThan(0);
			expect.soft(sock.closeReason(name), `${variant.name}: close reason`).toBe('update-refused');
			for (const [who, device] of [
				['alice', a],
				['carol', c]
			] as const) {
				expect.soft(messageOf(device.doc, victim.id), `${variant.name}: the victim's message on ${who}'s open document`).toEqual(victim);
			}
			const rows = await w.history(conversationId);
			expect.soft(rows.find((row) => row.id === victim.id)?.body, `${variant.name}: REST keeps the victim's message`).toBe(victim.body);
			if (smuggled) expect.soft(rows.map((row) => row.id), `${variant.name}: nothing of the refused update is stored`).not.toContain(smuggled);

			// The live document keeps working: a later message is acknowledged and broadcast.
			const later = message(ulid(), alice, 'still here?');
			writeMessage(a.doc, later);
			const delivered = await until(() => seqMap(c.doc).has(later.id) && seqMap(a.doc).has(later.id), 5000, 'the later message').then(
				() => true,
				() => false
			);
			expect.soft(delivered, `${variant.name}: a later message is acknowledged and broadcast to other members`).toBe(true);
			const fresh = await w.freshDocument(conversationId, carol).catch((error: Error) => error);
			expect.soft(fresh instanceof Y.Doc ? messageOf(fresh, victim.id) : String(fresh), `${variant.name}: a fresh member gets the victim's message`).toEqual(victim);
			cases.push({ conversationId, victim, later, smuggled, name: variant.name });
		}

		// GUARD-4: a stored update that cannot be applied (here written into the log directly, as an
		// older server could have stored it) does not make the conversation unloadable.
		const poisoned = await w.conversation('a poisoned log');
		const a = await w.synced(alice, poisoned);
		const before = message(ulid(), alice, 'before the poison');
		await sendAndWait(a, before);
		const poison = encodeUpdate([
			{ client: freshClientId(), clock: 0, structs: [after(itemIdOf(a.doc, before.id), { deleted: 0 })] },
			{ client: freshClientId(), clock: 0, structs: [newKey(ulid(), message(ulid(), alice, 'poison carrier'))] }
		]);
		w.server.app.core.db.$client
			.prepare('insert into doc_updates (conversation_id, "update", created_at) values (?, ?, ?)')
			.run(poisoned, Buffer.from(poison), Date.now());

		await w.restart();
		for (const { conversationId, victim, later, name } of cases) {
			const fresh = await w.freshDocument(conversationId, carol).catch((error: Error) => error);
			expect.soft(fresh instanceof Y.Doc, `${name}: the conversation loads after a restart (${String(fresh)})`).toBe(true);
			if (!(fresh instanceof Y.Doc)) continue;
			expect.soft(messageOf(fresh, victim.id), `${name}: the victim's message after a restart`).toEqual(victim);
			expect.soft(messagesMap(fresh).has(later.id), `${name}: the later message after a restart`).toBe(true);
			await w.expectHistoryEqualsDocument(conversationId, carol, true, name);
		}
		const reloaded = await w.freshDocument(poisoned, carol).catch((error: Error) => error);
		expect.soft(reloaded instanceof Y.Doc, `a conversation with an unappliable stored update still loads (${String(reloaded)})`).toBe(true);
		if (reloaded instanceof Y.Doc) expect.soft(messageOf(reloaded, before.id)).toEqual(before);
		const after2 = await w.synced(alice, poisoned).catch((error: Error) => error);
		if (!(after2 instanceof Error)) {
			const next = message(ulid(), alice, 'after the poison');
			writeMessage(after2.doc, next);
			const stored = await until(() => seqMap(after2.doc).has(next.id), 5000, 'a message after the poison').then(() => true, () => false);
			expect.soft(stored, 'a poisoned conversation still accepts messages').toBe(true);
		}
	}, 90_000);

	it('[GUARD-2] honest members are not refused after someone else edits or deletes, or after a member’s GC struct', async () => {
		const { alice, bob, carol } = w;
		// Bob edits one message and deletes another; Alice's document now holds Bob's deleted values.
		const conversationId = await w.conversation('edits and deletes');
		const a = await w.synced(alice, conversationId);
		const b = await w.synced(bob, conversationId);
		const edited = message(ulid(), bob, 'tpyo');
		const removed = message(ulid(), bob, 'oops');
		await sendAndWait(b, edited);
		await sendAndWait(b, removed);
		messagesMap(b.doc).set(edited.id, { ...edited, body: 'typo', editedAt: Date.now() });
		messagesMap(b.doc).delete(removed.id);
		await until(() => b.provider.unsyncedChanges === 0, 5000, 'bob’s edit and delete to be stored');
		await until(() => messagesMap(a.doc).get(edited.id)?.body === 'typo' && !messagesMap(a.doc).has(removed.id), 5000, 'alice to see them');

		// Alice writes offline and reconnects: her sync reply carries her whole delete set, Bob's old values included.
		await goOffline(a);
		const offline = message(ulid(), alice, 'written in the lift');
		writeMessage(a.doc, offline);
		void a.socket.connect();
		const stored = await until(() => seqMap(a.doc).has(offline.id), 5000, 'alice’s offline message').then(() => true, () => false);
		expect.soft(a.rejected.map((r) => r.code), 'alice is not refused').toEqual([]);
		expect.soft(a.refusals, 'alice’s document is not closed').toEqual([]);
		expect.soft(stored, 'alice’s offline message is acknowledged').toBe(true);
		expect.soft((await w.history(conversationId)).map((row) => row.id)).toContain(offline.id);

		// A member sends a GC struct (5 clocks) on a fresh clientID; everyone who synced it then reconnects.
		const gcConversation = await w.conversation('a GC struct');
		const a2 = await w.synced(alice, gcConversation);
		const c2 = await w.synced(carol, gcConversation);
		const { sock, name } = await w.raw(bob, gcConversation);
		const gcClient = freshClientId();
		await sock.sendSync(name, frame.update(name, encodeUpdate([{ client: gcClient, clock: 0, structs: [{ gc: 5 }] }])));
		await sleep(300);
		for (const [who, device, account] of [
			['alice', a2, alice],
			['carol', c2, carol]
		] as const) {
			await goOffline(device);
			const mine = message(ulid(), account, `${who} after the GC struct`);
			writeMessage(device.doc, mine);
			void device.socket.connect();
			const ok = await until(() => seqMap(device.doc).has(mine.id), 5000, `${who}’s message`).then(() => true, () => false);
			expect.soft(device.rejected.map((r) => r.code), `${who} is not refused after the GC struct`).toEqual([]);
			expect.soft(ok, `${who}’s offline message is acknowledged after the GC struct`).toBe(true);
		}
	});

	it('[GUARD-5] createdAt must lie between 2020-01-01 and one day ahead, on sync and on REST, and an edit cannot change it', async () => {
		const { alice, bob } = w;
		const conversationId = await w.conversation('clocks');
		const now = Date.now();
		const refused = [1e300, -1e300, 9e15, 0, now + 365 * DAY_MS, now + CREATED_AT_MAX_AHEAD_MS + 60 * 60 * 1000, CREATED_AT_MIN - 1];
		const accepted = [now, now - 30 * DAY_MS, CREATED_AT_MIN + DAY_MS, now + 60 * 60 * 1000];

		for (const createdAt of refused) {
			const device = await w.synced(bob, conversationId);
			const id = ulid();
			messagesMap(device.doc).set(id, message(id, bob, `from ${createdAt}`, createdAt));
			const answered = await until(() => device.rejected.length > 0 || seqMap(device.doc).has(id), 5000, 'an answer').then(() => true, () => false);
			expect.soft(answered && device.rejected.map((r) => r.code), `sync, createdAt ${createdAt}: refused as invalid-message`).toEqual(['invalid-message']);
			device.destroy();
			const rest = await api<{ error?: { code: string } }>(w.server.url, `/api/conversations/${conversationId}/messages`, {
				token: bob.token,
				body: { id: ulid(), body: `rest ${createdAt}`, createdAt }
			});
			expect.soft([rest.status, rest.body.error?.code], `REST, createdAt ${createdAt}: 400 ${REST_INVALID_CODE}`).toEqual([400, REST_INVALID_CODE]);
		}
		for (const createdAt of accepted) {
			const device = await w.synced(bob, conversationId);
			const id = ulid();
			messagesMap(device.doc).set(id, message(id, bob, `fine ${createdAt}`, createdAt));
			const ok = await until(() => seqMap(device.doc).has(id), 5000, 'the acknowledgement').then(() => true, () => false);
			expect.soft(ok && device.rejected.length === 0, `sync, createdAt ${createdAt} (${new Date(createdAt).toISOString()}) is accepted`).toBe(true);
			device.destroy();
			const rest = await api(w.server.url, `/api/conversations/${conversationId}/messages`, {
				token: bob.token,
				body: { id: ulid(), body: `rest fine ${createdAt}`, createdAt }
			});
			expect.soft(rest.status, `REST, createdAt ${createdAt} is accepted`).toBe(201);
		}
		const rows = await w.history(conversationId);
		const outOfBounds = rows.filter((row) => row.createdAt < CREATED_AT_MIN || row.createdAt > Date.now() + CREATED_AT_MAX_AHEAD_MS);
		expect.soft(outOfBounds.map((row) => row.createdAt), 'no stored createdAt is out of bounds').toEqual([]);

		// An edit keeps createdAt: one that changes it is refused, and nothing changes.
		const a = await w.synced(alice, conversationId);
		const original = message(ulid(), alice, 'when did I say this?', now - 60_000);
		await sendAndWait(a, original);
		messagesMap(a.doc).set(original.id, { ...original, body: 'edited, and moved in time', createdAt: now - 30_000, editedAt: Date.now() });
		const answered = await until(() => a.rejected.length > 0 || a.provider.unsyncedChanges === 0, 5000, 'an answer to the edit').then(() => true, () => false);
		expect.soft(answered && a.rejected.map((r) => r.code), 'an edit that changes createdAt is refused as invalid-message').toEqual(['invalid-message']);
		const row = (await w.history(conversationId)).find((r) => r.id === original.id);
		expect.soft([row?.body, row?.createdAt], 'the stored message is unchanged').toEqual([original.body, original.createdAt]);
		const fresh = await w.freshDocument(conversationId);
		expect.soft(messageOf(fresh, original.id), 'the document is unchanged').toEqual(original);
	});

	it('[GUARD-1] [GUARD-3] one clientID in two blocks of one update: refused, or the history equals the document', async () => {
		const { alice, bob, carol } = w;
		for (const secondClock of [1, 0]) {
			const conversationId = await w.conversation(`two blocks from ${secondClock}`);
			const a = await w.synced(alice, conversationId);
			const c = await w.synced(carol, conversationId);
			await sendAndWait(a, message(ulid(), alice, 'before'));
			const { sock, name } = await w.raw(bob, conversationId);
			const client = freshClientId();
			const [m1, m2] = [ulid(), ulid()];
			await sock.sendSync(
				name,
				frame.update(
					name,
					encodeUpdate([
						{ client, clock: 0, structs: [newKey(m1, message(m1, bob, 'first block'))] },
						{ client, clock: secondClock, structs: [newKey(m2, message(m2, bob, 'second block'))] }
					])
				)
			);
			await sleep(200);
			await w.expectHistoryEqualsDocument(conversationId, alice, true);
			const later = message(ulid(), alice, 'after the two blocks');
			writeMessage(a.doc, later);
			const delivered = await until(() => seqMap(c.doc).has(later.id), 5000, 'the later message').then(() => true, () => false);
			expect.soft(delivered, `blocks at 0 and ${secondClock}: later messages are still delivered`).toBe(true);
		}
	});

	it('[GUARD-2] two or more offline messages, then reconnect: the queued updates and the sync reply that repeats them are all stored once', async () => {
		const { alice, bob } = w;
		// A real provider: online messages, then several offline (one of them an edit), then back.
		const conversationId = await w.conversation('offline burst');
		const a = await w.synced(alice, conversationId);
		const online = [message(ulid(), alice, 'one'), message(ulid(), alice, 'two')];
		for (const m of online) await sendAndWait(a, m);
		await goOffline(a);
		const offline = [message(ulid(), alice, 'three'), message(ulid(), alice, 'four'), message(ulid(), alice, 'five')];
		for (const m of offline) writeMessage(a.doc, m);
		messagesMap(a.doc).set(online[1]!.id, { ...online[1]!, body: 'two (edited)', editedAt: Date.now() });
		void a.socket.connect();
		const all = await until(() => offline.every((m) => seqMap(a.doc).has(m.id)) && a.provider.unsyncedChanges === 0, 5000, 'the offline messages').then(
			() => true,
			() => false
		);
		expect.soft(a.rejected.map((r) => r.code), 'the provider is not refused').toEqual([]);
		expect.soft(a.refusals, 'the document is not closed').toEqual([]);
		expect.soft(all, 'every offline message is acknowledged').toBe(true);
		const rows = await w.history(conversationId);
		expect.soft(rows.map((r) => r.id), 'each message stored once, in order').toEqual([...online, ...offline].map((m) => m.id));
		expect.soft(rows.find((r) => r.id === online[1]!.id)?.body).toBe('two (edited)');
		await w.expectHistoryEqualsDocument(conversationId, alice, true);

		// The same on raw frames: update c@4-5, update c@5-8, then a sync reply c@5-10 repeating the second.
		const rawConversation = await w.conversation('offline burst, raw');
		const { sock, name } = await w.raw(bob, rawConversation);
		const doc = new Y.Doc();
		doc.clientID = freshClientId();
		const updates = recordUpdates(doc);
		const ids: string[] = [];
		const write = (count: number) =>
			doc.transact(() => {
				for (let i = 0; i < count; i++) {
					const id = ulid();
					ids.push(id);
					writeMessage(doc, message(id, bob, `raw ${ids.length}`));
				}
			});
		write(4); // c@0-4, sent while online
		expect(await sock.sendSync(name, frame.update(name, updates[0]!))).toBe('acknowledged');
		write(1); // c@4-5
		const stateAfterFirst = Y.encodeStateVector(doc);
		write(3); // c@5-8
		write(2); // c@8-10, not sent on its own
		const acks = sock.acks(name);
		await sock.send(frame.update(name, updates[1]!));
		await sock.send(frame.update(name, updates[2]!));
		await sock.send(frame.syncStep2(name, Y.encodeStateAsUpdate(doc, stateAfterFirst)));
		const answered = await until(() => sock.acks(name) >= acks + 3 || sock.closeReason(name) !== null, 5000, 'three answers').then(() => true, () => false);
		expect.soft(sock.refusals(name), 'raw: no refusal').toEqual([]);
		expect.soft(sock.closeReason(name), 'raw: the document is not closed').toBeNull();
		expect.soft(answered, 'raw: all three frames are acknowledged').toBe(true);
		expect.soft((await w.history(rawConversation)).map((r) => r.id), 'raw: each message stored once, in order').toEqual(ids);
		await w.expectHistoryEqualsDocument(rawConversation, alice, true);
	});

	it('[GUARD-2] an update that arrives ahead of the sync reply that fills its gap is not refused', async () => {
		const { alice, bob } = w;
		// A provider: write offline, start connecting and drop before the socket opens (the provider
		// clears its queue), write again, reconnect: the second update is sent before the sync reply.
		const conversationId = await w.conversation('aborted connect');
		const a = await w.synced(alice, conversationId);
		const first = message(ulid(), alice, 'online');
		await sendAndWait(a, first);
		await goOffline(a);
		const m1 = message(ulid(), alice, 'offline, before the aborted connect');
		writeMessage(a.doc, m1);
		void a.socket.connect();
		await until(() => a.socket.status === 'connecting', 5000, 'the connection attempt');
		a.socket.disconnect();
		await until(() => a.socket.status === 'disconnected', 5000, 'the aborted connection to close');
		const m2 = message(ulid(), alice, 'offline, after the aborted connect');
		writeMessage(a.doc, m2);
		void a.socket.connect();
		const both = await until(() => seqMap(a.doc).has(m1.id) && seqMap(a.doc).has(m2.id), 5000, 'both messages').then(() => true, () => false);
		expect.soft(a.rejected.map((r) => r.code), 'the provider is not refused').toEqual([]);
		expect.soft(both, 'both messages are acknowledged').toBe(true);
		expect.soft((await w.history(conversationId)).map((r) => r.id).sort(), 'each stored once').toEqual([first.id, m1.id, m2.id].sort());

		// Raw frames on one connection: update c@1-2, then the sync reply c@0-2.
		const rawConversation = await w.conversation('ahead of the reply, raw');
		const { sock, name } = await w.raw(bob, rawConversation);
		const doc = new Y.Doc();
		doc.clientID = freshClientId();
		const updates = recordUpdates(doc);
		const [r1, r2] = [message(ulid(), bob, 'gap filler'), message(ulid(), bob, 'ahead of its gap')];
		writeMessage(doc, r1);
		writeMessage(doc, r2);
		const acks = sock.acks(name);
		await sock.send(frame.update(name, updates[1]!));
		await sock.send(frame.syncStep2(name, Y.encodeStateAsUpdate(doc)));
		const answered = await until(() => sock.acks(name) >= acks + 2 || sock.closeReason(name) !== null, 5000, 'two answers').then(() => true, () => false);
		await sleep(200);
		expect.soft(sock.refusals(name), 'raw: no refusal').toEqual([]);
		expect.soft(sock.closeReason(name), 'raw: the document is not closed').toBeNull();
		expect.soft(answered, 'raw: both frames are acknowledged').toBe(true);
		expect.soft((await w.history(rawConversation)).map((r) => r.id).sort(), 'raw: both stored once').toEqual([r1.id, r2.id].sort());
		await w.expectHistoryEqualsDocument(rawConversation, alice, true);
	});

	it('[GUARD-3] a sync reply whose delete range covers an edited message’s old value and a deleted message deletes only the deleted one', async () => {
		const { alice } = w;
		const conversationId = await w.conversation('merged delete ranges');
		const doc = new Y.Doc();
		const first = await w.synced(alice, conversationId, { doc });
		const k1 = message(ulid(), alice, 'K1');
		const k2 = message(ulid(), alice, 'K2');
		await sendAndWait(first, k1);
		await sendAndWait(first, k2);
		messagesMap(doc).set(k1.id, { ...k1, body: 'K1, edited', editedAt: Date.now() });
		await until(() => first.provider.unsyncedChanges === 0, 5000, 'the edit');
		first.destroy();
		// The app is closed; K2 is deleted on the device; then the app opens again with the same document.
		messagesMap(doc).delete(k2.id);
		const again = await w.synced(alice, conversationId, { doc });
		await until(() => again.provider.unsyncedChanges === 0, 5000, 'the sync reply to be stored');
		await sleep(200);
		expect.soft(again.rejected.map((r) => r.code), 'not refused').toEqual([]);
		const rows = await w.history(conversationId);
		const row1 = rows.find((r) => r.id === k1.id);
		const row2 = rows.find((r) => r.id === k2.id);
		expect.soft([row1?.body, row1?.deletedAt], 'K1 is edited, not deleted').toEqual(['K1, edited', null]);
		expect.soft(row2?.deletedAt, 'K2 is deleted').not.toBeNull();
		await w.expectHistoryEqualsDocument(conversationId, alice, true);
	});

	it('[GUARD-3] [GUARD-2] same-id copies from two devices of one user: the history follows the document whichever arrives first', async () => {
		const { alice } = w;
		// Yjs keeps the copy of the higher clientID as the key's value, whatever the order of arrival.
		const low = freshClientId();
		const high = low + 1;
		type Side = 'low' | 'high';
		const cases: Array<{ deleter: Side | null; first: Side }> = [
			{ deleter: null, first: 'low' },
			{ deleter: null, first: 'high' },
			{ deleter: 'low', first: 'low' },
			{ deleter: 'low', first: 'high' },
			{ deleter: 'high', first: 'high' },
			{ deleter: 'high', first: 'low' }
		];
		for (const { deleter, first } of cases) {
			const label = `${deleter ? `the ${deleter} clientID deletes its copy` : 'no deletion'}, the ${first} clientID's device arrives first`;
			const conversationId = await w.conversation(label);
			const id = ulid();
			const createdAt = Date.now();
			const docs = { low: new Y.Doc(), high: new Y.Doc() };
			docs.low.clientID = low;
			docs.high.clientID = high;
			// Both devices write the message while offline; one of them may then delete it. Each then
			// opens the conversation (one sync reply carrying everything).
			messagesMap(docs.low).set(id, message(id, alice, 'copy from the low clientID', createdAt));
			messagesMap(docs.high).set(id, message(id, alice, 'copy from the high clientID', createdAt));
			if (deleter) messagesMap(docs[deleter]).delete(id);
			for (const which of first === 'low' ? (['low', 'high'] as const) : (['high', 'low'] as const)) {
				const device = await w.synced(alice, conversationId, { doc: docs[which] });
				const settled = await until(() => device.provider.unsyncedChanges === 0 || device.rejected.length > 0, 5000, 'the device’s sync').then(
					() => true,
					() => false
				);
				expect.soft(settled && device.rejected.map((r) => r.code), `${label}: the ${which} device is not refused`).toEqual([]);
				device.destroy();
			}
			await w.expectHistoryEqualsDocument(conversationId, alice, true, label);
		}
	});
});

// =============================================================================================

describe('socket limits', () => {
	const w = useWorld();

	it('[LIMIT-1] an unauthenticated socket has a byte, document and time budget', async () => {
		const { carol } = w;
		const conversationId = await w.conversation('budgets');
		const started = Date.now();

		// Bytes: ~1 MB frames for a real conversation, never authenticated.
		const bytes = (async () => {
			const sock = await w.openRaw();
			const name = conversationDocName(conversationId);
			const payload = new Uint8Array(1_000_000 - 64);
			const big = frame.update(name, payload);
			let sent = 0;
			for (; sent < 64 && sock.isOpen; sent++) await sock.send(big);
			const closed = await withTimeout(sock.closed, 3000, 'the close').then(
				() => true,
				() => false
			);
			return { closed, sent, atMs: Date.now() - started };
		})();

		// Documents: small frames for thousands of document names, never authenticated.
		const documents = (async () => {
			const sock = await w.openRaw();
			let sent = 0;
			for (; sent < 5000 && sock.isOpen; sent++) void sock.send(frame.syncStep1(conversationDocName(ulid())));
			const closed = await withTimeout(sock.closed, 5000, 'the close').then(
				() => true,
				() => false
			);
			return { closed, sent, atMs: Date.now() - started };
		})();

		// Time: silent, a frame without auth, a refused auth; and, as a control, a socket that authenticated.
		const silent = await w.openRaw();
		const unauthenticatedFrame = await w.openRaw();
		await unauthenticatedFrame.send(frame.syncStep1(conversationDocName(conversationId)));
		const refused = await w.openRaw();
		const refusal = await refused.auth(conversationDocName(conversationId), 'not-a-token');
		const control = await w.raw(carol, conversationId);

		const [b, d] = await Promise.all([bytes, documents]);
		expect.soft(b.closed, `64 MB of unauthenticated frames close the socket (sent ${b.sent} MB)`).toBe(true);
		if (b.closed) expect.soft(b.atMs, 'the byte budget closes the socket before any idle limit would').toBeLessThan(8000);
		expect.soft(d.closed, `frames for ${d.sent} documents close the socket`).toBe(true);
		if (d.closed) expect.soft(d.atMs, 'the document budget closes the socket before any idle limit would').toBeLessThan(8000);

		expect(refusal).toBe('unauthenticated');
		const idle = await Promise.all(
			[silent, unauthenticatedFrame, refused].map((sock) =>
				withTimeout(sock.closed, Math.max(1, 16_000 - (Date.now() - started)), 'the idle close').then(
					() => true,
					() => false
				)
			)
		);
		expect.soft(idle, 'sockets that authenticate nothing (silent, a frame without auth, a refused auth) are closed within ~10 s').toEqual([
			true,
			true,
			true
		]);
		expect.soft(control.sock.isOpen && control.sock.closeReason(control.name), 'a socket with an authenticated document stays open').toBeNull();
	}, 40_000);

	it('[LIMIT-1] a frame without a document name closes its socket with malformed-frame, and no refusal is written to the log', async () => {
		const { bob } = w;
		const conversationId = await w.conversation('quiet refusals');
		const errors = vi.spyOn(console, 'error');
		try {
			// Refused frames on an authenticated connection: undecodable content, a broadcast, another user's message.
			for (const bad of [new Uint8Array([0xff, 0xff, 0xff]), new Uint8Array([250, 7, 1])]) {
				const { sock, name } = await w.raw(bob, conversationId);
				const named = new Uint8Array([...frame.syncStep1(name).slice(0, name.length + 1), ...bad]);
				await sock.send(named);
				await until(() => sock.closeReason(name) !== null, 3000, 'the refusal');
				expect.soft(sock.closeReason(name)).toBe('malformed-message');
				expect.soft(sock.isOpen, 'the socket stays open for other documents').toBe(true);
				sock.close();
			}
			// Bytes that do not even name a document.
			const sock = await w.openRaw();
			await sock.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
			const closed = await withTimeout(sock.closed, 3000, 'the socket close');
			expect.soft(closed).toEqual({ code: 1008, reason: 'malformed-frame' });
			await sleep(100);
			expect.soft(errors.mock.calls.map((call) => String(call[0])), 'nothing logged').toEqual([]);
		} finally {
			errors.mockRestore();
		}
	});

	it('[ABUSE-3] after a hostile refusal, the sender’s frames wait behind other members’', async () => {
		const { alice, bob } = w;
		const conversationId = await w.conversation('back of the line');
		const a = await w.synced(alice, conversationId);
		const refused = await w.raw(bob, conversationId);
		const named = frame.syncStep1(refused.name).slice(0, refused.name.length + 1);
		await refused.sock.send(new Uint8Array([...named, 0xff, 0xff, 0xff]));
		await until(() => refused.sock.closeReason(refused.name) !== null, 3000, 'the refusal');
		// Bob comes back and asks for the document 300 times; Alice sends one message right after.
		const { sock, name } = await w.raw(bob, conversationId);
		const replies = () => sock.framesOf(name, 'sync').filter((f) => f.step === SyncStep.Step2).length;
		const before = replies();
		const asks = 300;
		for (let i = 0; i < asks; i++) void sock.send(frame.syncStep1(name));
		const id = ulid();
		writeMessage(a.doc, message(id, alice, 'not behind bob'));
		await until(() => seqMap(a.doc).has(id), 5000, 'alice’s message');
		const answeredBob = replies() - before;
		await until(() => replies() - before === asks, 10_000, 'all of bob’s answers');
		expect(answeredBob, 'alice was answered before bob’s queued frames were').toBeLessThan(asks);
		expect(sock.closeReason(name), 'bob is slowed, not refused').toBeNull();
	});

	it('[LIMIT-2] a connection holds awareness states for at most 4 clientIDs, however it binds them', async () => {
		const { bob, carol } = w;
		const conversationId = await w.conversation('awareness hoard');
		const { sock, name } = await w.raw(bob, conversationId);
		const first = freshClientId();
		// Three frames of two new clientIDs each: within the per-frame limit, over the per-connection one.
		for (let i = 0; i < 3 && sock.closeReason(name) === null; i++) {
			await sock.send(frame.awareness(name, [0, 1].map((k) => ({ clientID: first + 2 * i + k, clock: 1, state: { n: i } }))));
			await sock.fetchState(name).catch(() => undefined);
		}
		await until(() => sock.closeReason(name) !== null, 3000, 'the refusal');
		expect.soft(sock.closeReason(name)).toBe('awareness-refused');
		// A member who connects now is sent at most the four states that were accepted (and removed as the connection closed).
		const newcomer = await w.raw(carol, conversationId);
		await newcomer.sock.fetchState(newcomer.name).catch(() => undefined);
		await sleep(200);
		const held = newcomer.sock.framesOf(newcomer.name, 'awareness').flatMap((f) => decodeAwareness(f.update)).filter((e) => e.state !== null);
		expect.soft(held.length).toBeLessThanOrEqual(4);
	});

	it('[LIMIT-2] awareness: a few new clientIDs per frame, capped state size, other users’ entries dropped without refusing the sender', async () => {
		const { alice, bob, carol } = w;

		// Amplification: one frame naming 20,000 clientIDs.
		const conversationId = await w.conversation('awareness flood');
		const { sock, name } = await w.raw(bob, conversationId);
		const bound = w.boundClients(conversationId);
		const first = freshClientId();
		const entries = Array.from({ length: 20_000 }, (_, i) => ({ clientID: first + i, clock: 1, state: {} }));
		await sock.send(frame.awareness(name, entries));
		const t0 = Date.now();
		const me = await api(w.server.url, '/api/me', { token: alice.token });
		const meMs = Date.now() - t0;
		expect.soft(me.status).toBe(200);
		expect.soft(meMs, 'GET /api/me answers within 2 s while the frame is handled').toBeLessThan(2000);
		await sock.fetchState(name).catch(() => undefined);
		await sleep(500);
		expect.soft(w.boundClients(conversationId) - bound, 'at most 4 new clientIDs bound by one awareness frame').toBeLessThanOrEqual(4);

		// State size: ten 900 KB states are not relayed to other members.
		const sizeConversation = await w.conversation('awareness size');
		const observer = await w.raw(alice, sizeConversation);
		const sender = await w.raw(bob, sizeConversation);
		const bobClient = freshClientId();
		for (let i = 1; i <= 10; i++) {
			await sender.sock.send(frame.awareness(sender.name, [{ clientID: bobClient, clock: i, state: { blob: 'x'.repeat(900_000) } }]));
		}
		await sender.sock.fetchState(sender.name).catch(() => undefined);
		await sleep(500);
		const relayed = observer.sock.framesOf(observer.name, 'awareness');
		const largest = Math.max(0, ...relayed.map((f) => f.bytes));
		const total = relayed.reduce((sum, f) => sum + f.bytes, 0);
		expect.soft(largest, 'no 900 KB awareness state reaches another member').toBeLessThan(900_000);
		expect.soft(total, 'other members receive far less than the 9 MB sent').toBeLessThan(1_000_000);

		// Another user's entry, re-sent the way an honest provider does when it loses its socket
		// (y-protocols removes remote states and the provider sends that change on reconnect).
		const relayConversation = await w.conversation('awareness relay');
		const a = await w.synced(alice, relayConversation, { awareness: true });
		a.provider.setAwarenessField('user', { name: 'alice' });
		const aliceClient = a.doc.clientID;
		// Bob's provider receives Alice's state; the provider sends every awareness change, remote ones included.
		const b = await w.synced(bob, relayConversation, { awareness: true });
		await until(() => (b.provider.awareness?.getStates().get(aliceClient) as { user?: unknown } | undefined)?.user !== undefined, 5000, 'bob to see alice')
			.catch(() => undefined);
		await goOffline(b);
		void b.socket.connect();
		await withTimeout(b.synced, 5000, 'bob’s reconnect').catch(() => undefined);
		await until(() => b.provider.synced, 5000, 'bob to sync again').catch(() => undefined);
		await sleep(500);
		expect.soft(b.rejected.map((r) => r.code), 'an honest provider relaying another user’s entry is not refused').toEqual([]);
		expect.soft(b.refusals, 'its document is not closed').toEqual([]);
		const bobMessage = message(ulid(), bob, 'still connected');
		writeMessage(b.doc, bobMessage);
		const stored = await until(() => seqMap(b.doc).has(bobMessage.id), 5000, 'bob’s message').then(() => true, () => false);
		expect.soft(stored, 'bob can still write after reconnecting').toBe(true);

		// The same entry forged on a raw socket: overwritten, then removed. Dropped, sender not refused.
		const forger = await w.raw(bob, relayConversation);
		const aliceClock = 100;
		await forger.sock.send(frame.awareness(forger.name, [{ clientID: aliceClient, clock: aliceClock, state: { user: { name: 'mallory' } } }]));
		await forger.sock.send(frame.awareness(forger.name, [{ clientID: aliceClient, clock: aliceClock + 1, state: null }]));
		await forger.sock.fetchState(forger.name).catch(() => undefined);
		await sleep(300);
		expect.soft(forger.sock.refusals(forger.name), 'the sender of another user’s entry is not refused').toEqual([]);
		expect.soft(forger.sock.closeReason(forger.name), 'nor closed').toBeNull();
		expect.soft(a.rejected.map((r) => r.code), 'alice’s honest provider is not refused either').toEqual([]);
		// What the server holds for Alice: a member who connects now receives it first thing.
		const newcomer = await w.raw(carol, relayConversation);
		const aliceState = () =>
			newcomer.sock
				.framesOf(newcomer.name, 'awareness')
				.flatMap((f) => decodeAwareness(f.update))
				.filter((entry) => entry.clientID === aliceClient)
				.at(-1)?.state;
		await until(() => aliceState() !== undefined, 2000, 'alice’s awareness entry').catch(() => undefined);
		expect.soft(aliceState(), 'alice’s presence is neither removed nor overwritten').toEqual({ user: { name: 'alice' } });
	}, 120_000);

	it('[LIMIT-4] typing is relayed about once per second per user; a burst of messages is slowed, never lost', async () => {
		const { alice, bob } = w;
		// Typing: 500 frames as fast as they go.
		const conversationId = await w.conversation('typing flood');
		const a = await w.synced(alice, conversationId);
		const b = await w.synced(bob, conversationId);
		const started = Date.now();
		for (let i = 0; i < 500; i++) a.provider.sendStateless(JSON.stringify({ type: 'typing', active: true }));
		await until(() => b.stateless.some((s) => s.type === 'typing'), 5000, 'the first typing signal').catch(() => undefined);
		await sleep(1500);
		const relayed = b.stateless.filter((s) => s.type === 'typing' && s.userId === alice.id).length;
		const seconds = Math.ceil((Date.now() - started) / 1000);
		expect.soft(relayed, 'the first typing signal is relayed').toBeGreaterThan(0);
		expect.soft(relayed, `at most about one typing signal per second is relayed (${seconds} s)`).toBeLessThanOrEqual(seconds + 2);

		// A flood: 3,000 messages in one frame, then 500 one by one. All stored, each once.
		const floodConversation = await w.conversation('message flood');
		const flooder = await w.synced(alice, floodConversation);
		const reader = await w.synced(bob, floodConversation);
		const ids: string[] = [];
		flooder.doc.transact(() => {
			for (let i = 0; i < 3000; i++) {
				const id = ulid();
				ids.push(id);
				writeMessage(flooder.doc, message(id, alice, `flood ${i}`));
			}
		});
		for (let i = 0; i < 500; i++) {
			const id = ulid();
			ids.push(id);
			writeMessage(flooder.doc, message(id, alice, `trickle ${i}`));
		}
		const all = await until(() => ids.every((id) => seqMap(flooder.doc).has(id)), 90_000, 'every message of the burst').then(() => true, () => false);
		expect.soft(flooder.rejected.map((r) => r.code), 'the burst is not refused').toEqual([]);
		expect.soft(all, 'every message of the burst is acknowledged (eventually)').toBe(true);
		await until(() => ids.every((id) => seqMap(reader.doc).has(id)), 30_000, 'the reader').catch(() => undefined);
		expect.soft(ids.filter((id) => !seqMap(reader.doc).has(id)).length, 'the other member receives every message').toBe(0);
		const rows = await w.history(floodConversation);
		expect.soft(rows.length, 'each message stored once').toBe(ids.length);
		expect.soft(new Set(rows.map((r) => r.id)), 'exactly the messages of the burst').toEqual(new Set(ids));
	}, 150_000);
});

// =============================================================================================

describe('sessions', () => {
	// Its own server: the last part moves the server's clock past every session's end.
	const w = useWorld();

	it('[LIMIT-3] sockets end with their session: a replaced cookie session, a logout during the load, an expired session', async () => {
		const { alice } = w;
		const password = 'correct horse battery';

		// 1. Logging in again replaces the cookie session: sockets opened with the old cookie close.
		const dave = await createAccount(w.server.url, uniqueName('dave'));
		const conversationId = await createConversation(w.server.url, alice, [dave], 'replaced session');
		const a = await w.synced(alice, conversationId);
		const login = await fetch(`${w.server.url}/api/auth/login`, {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ username: dave.username, password })
		});
		const cookie = /session=([^;]+)/.exec(login.headers.get('set-cookie') ?? '')?.[1];
		expect(cookie).toBeDefined();
		const browser = await w.openRaw({ cookie: `session=${cookie}` });
		const name = conversationDocName(conversationId);
		expect(await browser.auth(name, '')).toBe('authenticated');
		const relogin = await fetch(`${w.server.url}/api/auth/login`, {
			method: 'POST',
			headers: { 'content-type': 'application/json', cookie: `session=${cookie}` },
			body: JSON.stringify({ username: dave.username, password })
		});
		expect(relogin.status).toBe(200);
		await until(() => endedWith(browser, name) !== null, 2000, 'the close').catch(() => undefined);
		expect.soft(endedWith(browser, name) ?? 'still open', 'the old cookie’s socket closes with session-ended').toBe('session-ended');
		const seenBefore = browser.framesOf(name, 'sync').length;
		const aliceAfter = message(ulid(), alice, 'after dave logged in again');
		await sendAndWait(a, aliceAfter);
		await sleep(200);
		expect.soft(browser.framesOf(name, 'sync').length, 'the old cookie’s socket receives nothing more').toBe(seenBefore);
		const ghost = ulid();
		const ghostDoc = new Y.Doc();
		writeMessage(ghostDoc, message(ghost, dave, 'written with the old cookie'));
		await browser.send(frame.update(name, Y.encodeStateAsUpdate(ghostDoc)));
		await sleep(300);
		expect.soft((await w.history(conversationId)).map((r) => r.id), 'nothing written with the old cookie is stored').not.toContain(ghost);
		expect.soft(messagesMap(a.doc).has(ghost), 'nor delivered').toBe(false);

		// 2. A logout that lands while the document loads (a slow disk, simulated by holding the load).
		const erin = await createAccount(w.server.url, uniqueName('erin'));
		const slowConversation = await createConversation(w.server.url, alice, [erin], 'slow load');
		const slowName = conversationDocName(slowConversation);
		let release: () => void = () => {};
		const held = new Promise<void>((resolve) => (release = resolve));
		let loading = false;
		const gate: Extension = {
			async onLoadDocument({ documentName }) {
				if (documentName !== slowName) return;
				loading = true;
				await held;
			}
		};
		const extensions = w.server.app.core.sync.hocuspocus.configuration.extensions;
		extensions.push(gate);
		try {
			const sock = await w.openRaw();
			await sock.send(frame.auth(slowName, erin.token));
			await until(() => loading, 5000, 'the document to start loading');
			const logout = await api(w.server.url, '/api/auth/logout', { method: 'POST', token: erin.token });
			expect(logout.status).toBe(204);
			release();
			const ending = () => endedWith(sock, slowName) ?? sock.framesOf(slowName, 'permission-denied')[0]?.reason ?? null;
			await until(() => ending() !== null, 3000, 'the close').catch(() => undefined);
			const reason = ending() ?? 'still open';
			expect.soft(reason, 'a logout during the load ends the document').toMatch(/session-ended|unauthenticated/);
			const late = ulid();
			const lateDoc = new Y.Doc();
			writeMessage(lateDoc, message(late, erin, 'written after logging out'));
			await sock.send(frame.update(slowName, Y.encodeStateAsUpdate(lateDoc)));
			await sleep(300);
			expect.soft((await w.history(slowConversation)).map((r) => r.id), 'nothing written after the logout is stored').not.toContain(late);
		} finally {
			release();
			extensions.splice(extensions.indexOf(gate), 1);
		}

		// 3. A session that expires while the socket is open. The server's clock jumps past the
		// session's end (SESSION_DAYS is at least one day); the socket's next write must not be stored.
		const frank = await createAccount(w.server.url, uniqueName('frank'));
		const expiring = await createConversation(w.server.url, alice, [frank], 'expiry');
		const expiringName = conversationDocName(expiring);
		const watcher = await w.synced(alice, expiring);
		const sock = await w.openRaw();
		expect(await sock.auth(expiringName, frank.token)).toBe('authenticated');
		const stale = ulid();
		const staleDoc = new Y.Doc();
		writeMessage(staleDoc, message(stale, frank, 'written after my session expired'));
		const realNow = Date.now.bind(Date);
		const clock = vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 31 * DAY_MS);
		try {
			await sock.send(frame.update(expiringName, Y.encodeStateAsUpdate(staleDoc)));
			await until(() => endedWith(sock, expiringName) !== null || sock.acks(expiringName) > 0, 2000, 'an answer').catch(() => undefined);
		} finally {
			clock.mockRestore();
		}
		expect.soft(endedWith(sock, expiringName), 'the expired session’s document closes with session-ended').toBe('session-ended');
		// Everyone's session looked expired for that moment: fetch the history with a new token.
		const token = await api<{ token: string }>(w.server.url, '/api/auth/tokens', { body: { username: alice.username, password } });
		const rows = await api<{ messages: HistoryRow[] }>(w.server.url, `/api/conversations/${expiring}/messages`, { token: token.body.token });
		expect.soft(rows.body.messages.map((r) => r.id), 'nothing written with the expired session is stored').not.toContain(stale);
		expect.soft(messagesMap(watcher.doc).has(stale), 'nor delivered').toBe(false);
	});
});
