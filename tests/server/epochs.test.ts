import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { editMessage, messageOf, messagesMap, orderedMessages, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { CloseReason, conversationDocName } from '../../src/lib/shared/protocol.ts';
import { EpochClient } from '../utils/epoch-client.ts';
import { Random } from '../reliability/lib/random.ts';
import {
	api,
	connectDocument,
	createAccount,
	createConversation,
	spawnServer,
	startTestServer,
	tempDataDir,
	waitFor,
	type Account
} from '../utils/server.ts';

type Row = { id: string; event: unknown; seq: number; body: string; author: { id: string }; createdAt: number; editedAt: number | null; deletedAt: number | null };
type History = { messages: Row[]; nextCursor: number | null };

/** Small epochs that end as soon as they are full, so a few messages end one. */
const EPOCHS = { EPOCH_MESSAGES: '8', EPOCH_QUIET_MS: '0' };

async function history(url: string, conversationId: string, account: Account): Promise<History['messages']> {
	const all: History['messages'] = [];
	let before: number | null = null;
	for (;;) {
		const query: string = before === null ? '?limit=200' : `?limit=200&before=${before}`;
		const page = await api<History>(url, `/api/conversations/${conversationId}/messages${query}`, { token: account.token });
		all.unshift(...page.body.messages);
		if (page.body.nextCursor === null) return all;
		before = page.body.nextCursor;
	}
}

async function epochOf(url: string, conversationId: string, account: Account): Promise<number> {
	const { body } = await api<{ conversation: { epoch: number } }>(url, `/api/conversations/${conversationId}`, { token: account.token });
	return body.conversation.epoch;
}

/** Alice's device writes the 8 messages of epoch 0 and follows the conversation into epoch 1. */
async function fillFirstEpoch(writer: EpochClient): Promise<{ writer: EpochClient; ids: string[] }> {
	writer.connect();
	const ids = Array.from({ length: 8 }, (_, i) => writer.send(`m${i}`));
	await writer.whenAcked(ids);
	await waitFor(() => writer.epoch === 1, 5000, 'epoch 1');
	return { writer, ids };
}

describe('epochs', () => {
	const cleanups: Array<() => unknown> = [];
	afterEach(async () => {
		for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
	});

	async function setUp(env: Record<string, string> = EPOCHS) {
		const data = tempDataDir();
		cleanups.push(data.remove);
		const server = await startTestServer(data.dir, env);
		cleanups.push(() => server.close());
		const alice = await createAccount(server.url);
		const bob = await createAccount(server.url);
		const conversationId = await createConversation(server.url, alice, [bob], 'Long room');
		const device = (account: Account, epoch = 0) => {
			const client = new EpochClient(server.url, server.wsUrl, conversationId, account, epoch);
			cleanups.push(() => client.destroy());
			return client;
		};
		return { data, server, alice, bob, conversationId, device };
	}

	it('[EPOCH-1] [EPOCH-2] a full epoch ends: members are told the next one, the document tables keep only the new epoch, the history keeps everything', async () => {
		const { data, server, alice, bob, conversationId, device } = await setUp();
		const reader = device(bob);
		reader.connect();
		const writer = device(alice);
		writer.connect();
		const ids: string[] = [];
		for (let i = 0; i < 8; i++) ids.push(writer.send(`m${i}`));
		await writer.whenAcked(ids);
		await waitFor(() => reader.epoch === 1 && writer.epoch === 1, 5000, 'both devices to move to epoch 1');
		expect(await epochOf(server.url, conversationId, alice)).toBe(1);
		expect(reader.reasons).toContain(CloseReason.EpochEnded);

		const sqlite = new Database(join(data.dir, 'chat.sqlite'), { readonly: true });
		cleanups.push(() => sqlite.close());
		const rows = (table: string) => (sqlite.prepare(`select count(*) as n from ${table} where conversation_id = ?`).get(conversationId) as { n: number }).n;
		// Devices reconnected to epoch 1 and bound their clientIDs there; nothing of epoch 0 is left.
		expect(rows('doc_updates') + rows('doc_snapshots')).toBe(0);
		expect((await history(server.url, conversationId, alice)).map((m) => m.id)).toEqual(ids);

		// The next epoch starts empty: what a new device downloads is only what was written since.
		const next = writer.send('first of epoch 1');
		await writer.whenAcked([next]);
		expect([...messagesMap(writer.doc).keys()]).toEqual([next]);
		expect(writer.acked.get(next)).toBe(9);
	});

	it('[EPOCH-1] a full epoch ends at a quiet moment, not while people are writing; one three times over its limit ends at once', async () => {
		const { server, alice, conversationId, device } = await setUp({ EPOCH_MESSAGES: '8', EPOCH_QUIET_MS: '400' });
		const writer = device(alice);
		writer.connect();
		const first = Array.from({ length: 8 }, (_, i) => writer.send(`m${i}`));
		await writer.whenAcked(first);
		// A conversation going on: a message every 100 ms keeps the full epoch open.
		for (let i = 0; i < 10; i++) {
			await writer.whenAcked([writer.send(`chat ${i}`)]);
			await new Promise((resolve) => setTimeout(resolve, 100));
		}
		expect(await epochOf(server.url, conversationId, alice)).toBe(0);
		// Quiet: it ends.
		await waitFor(() => writer.epoch === 1, 5000, 'the epoch to end once quiet');
		// A burst past three times the limit ends it at once, however busy.
		const burst = Array.from({ length: 40 }, (_, i) => writer.send(`burst ${i}`));
		await writer.whenAcked(burst);
		await waitFor(() => writer.epoch === 2, 300, 'the overfull epoch to end without waiting');
	});

	it('[EPOCH-1] a full epoch found when a conversation loads (after a restart) ends before anyone downloads it; a REST send lands in the next', async () => {
		const data = tempDataDir();
		cleanups.push(data.remove);
		const env = { EPOCH_MESSAGES: '8', EPOCH_QUIET_MS: '600000' };
		const first = await startTestServer(data.dir, env);
		const alice = await createAccount(first.url);
		const bob = await createAccount(first.url);
		const conversationId = await createConversation(first.url, alice, [bob], 'Restarted');
		const writer = new EpochClient(first.url, first.wsUrl, conversationId, alice);
		writer.connect();
		const ids = Array.from({ length: 10 }, (_, i) => writer.send(`m${i}`));
		await writer.whenAcked(ids);
		writer.destroy();
		expect(await epochOf(first.url, conversationId, alice)).toBe(0);
		await first.close();

		const again = await startTestServer(data.dir, env);
		cleanups.push(() => again.close());
		const sent = await api(again.url, `/api/conversations/${conversationId}/messages`, { token: bob.token, body: { body: 'after the restart' } });
		expect(sent.status).toBe(201);
		expect(await epochOf(again.url, conversationId, alice)).toBe(1);
		const reader = new EpochClient(again.url, again.wsUrl, conversationId, bob, 0);
		cleanups.push(() => reader.destroy());
		reader.connect();
		await waitFor(() => reader.epoch === 1 && reader.acked.size === 1, 5000, 'the reader in epoch 1');
		expect(reader.reasons).toContain(CloseReason.EpochEnded);
		expect(orderedMessages(reader.doc).map((m) => m.body)).toEqual(['after the restart']);
	});

	it('[EPOCH-2] an ended epoch is refused with epoch-ended (members only); an epoch not begun does not exist', async () => {
		const { server, alice, bob, conversationId, device } = await setUp();
		await fillFirstEpoch(device(alice));
		const eve = await createAccount(server.url);
		const tries = [
			{ who: bob, name: conversationDocName(conversationId, 0), expected: CloseReason.EpochEnded },
			{ who: bob, name: conversationDocName(conversationId, 2), expected: CloseReason.ConversationNotFound },
			{ who: eve, name: conversationDocName(conversationId, 0), expected: CloseReason.NotAMember },
			{ who: bob, name: `conversation:${conversationId}@01`, expected: CloseReason.ConversationNotFound },
			{ who: bob, name: `conversation:${conversationId}@0`, expected: CloseReason.ConversationNotFound }
		];
		for (const { who, name, expected } of tries) {
			const client = connectDocument(server.wsUrl, name, who.token);
			cleanups.push(() => client.destroy());
			await waitFor(() => client.refusals.length > 0, 5000, `a refusal of ${name}`);
			expect(client.refusals[0], name).toBe(expected);
		}
		const current = connectDocument(server.wsUrl, conversationDocName(conversationId, 1), bob.token);
		cleanups.push(() => current.destroy());
		await current.synced;
	});

	it('[EPOCH-3] a device that wrote offline into an ended epoch delivers each message exactly once, after everything acknowledged before', async () => {
		const { server, alice, bob, conversationId, device } = await setUp();
		const phone = device(alice);
		phone.connect();
		const early = phone.send('before the tunnel');
		await phone.whenAcked([early]);
		phone.disconnect();
		const offline = ['in the lift', 'still in the lift', 'basement'].map((body) => phone.send(body));

		const laptop = device(bob);
		laptop.connect();
		const meanwhile: string[] = [];
		for (let chunk = 0; chunk < 5; chunk++) {
			const ids = Array.from({ length: 4 }, (_, i) => laptop.send(`bob ${chunk}.${i}`));
			await laptop.whenAcked(ids);
			meanwhile.push(...ids);
		}
		await waitFor(() => laptop.epoch >= 2, 5000, 'the second roll-over');

		phone.connect();
		await phone.whenAcked(offline);
		expect(phone.epoch).toBeGreaterThanOrEqual(2);
		const all = await history(server.url, conversationId, alice);
		expect(all.map((m) => m.id)).toEqual([early, ...meanwhile, ...offline]);
		expect(all.map((m) => m.seq)).toEqual(all.map((_, i) => i + 1));
		// The other device sees them in the same order.
		await waitFor(() => offline.every((id) => laptop.acked.has(id)));
		expect(offline.map((id) => laptop.acked.get(id))).toEqual(offline.map((id) => phone.acked.get(id)));
	});

	it('[EPOCH-3] a message stored in an ended epoch whose acknowledgement the device missed is acknowledged again with its sequence number, not stored twice', async () => {
		const { server, alice, conversationId, device } = await setUp();
		await fillFirstEpoch(device(alice));
		const stored = (await history(server.url, conversationId, alice))[3]!;

		// A device that wrote m3 and went away before its acknowledgement came back.
		const late = device(alice, 0);
		writeMessage(late.doc, { id: stored.id, author: alice.id, body: stored.body, createdAt: stored.createdAt });
		late.connect();
		await late.whenAcked([stored.id]);
		expect(late.epoch).toBe(1);
		expect(late.acked.get(stored.id)).toBe(stored.seq);
		const all = await history(server.url, conversationId, alice);
		expect(all.filter((m) => m.id === stored.id)).toHaveLength(1);
		expect(all.find((m) => m.id === stored.id)!.editedAt).toBeNull();
		expect(all).toHaveLength(8);
	});

	it('[EPOCH-3][ERASE-6] a device that missed the acknowledgement of a message edited since, in the ended epoch, does not bring the original back, nor an edit made before the stored one', async () => {
		const { server, alice, conversationId, device } = await setUp();
		const writer = device(alice);
		writer.connect();
		const ids = Array.from({ length: 7 }, (_, i) => writer.send(`m${i}`));
		await writer.whenAcked(ids);
		expect(editMessage(writer.doc, ids[3]!, 'm3, fixed')).toBe(true);
		await vi.waitFor(async () => expect((await history(server.url, conversationId, alice))[3]!.body).toBe('m3, fixed'));
		await writer.whenAcked([writer.send('m7')]);
		await waitFor(() => writer.epoch === 1, 5000, 'epoch 1');
		const stored = (await history(server.url, conversationId, alice))[3]!;

		// A device that wrote m3, went away before its acknowledgement, and comes back after the edit and the epoch's end.
		const late = device(alice, 0);
		writeMessage(late.doc, { id: stored.id, author: alice.id, body: 'm3', createdAt: stored.createdAt });
		late.connect();
		await late.whenAcked([stored.id]);
		expect(late.epoch).toBe(1);
		await waitFor(() => messageOf(late.doc, stored.id)?.body === 'm3, fixed', 5000, 'the edit on the late device');
		await waitFor(() => messageOf(writer.doc, stored.id)?.body === 'm3, fixed', 5000, 'the edit kept on the writer');
		const row = (await history(server.url, conversationId, alice)).find((m) => m.id === stored.id)!;
		expect(row).toMatchObject({ body: 'm3, fixed', seq: stored.seq, editedAt: stored.editedAt });

		// Another epoch ends, so m3 is in no document, only in the table.
		const fixedAt = messageOf(writer.doc, stored.id)!.editedAt!;
		await writer.whenAcked(Array.from({ length: 8 }, (_, i) => writer.send(`n${i}`)));
		await waitFor(() => writer.epoch === 2, 5000, 'epoch 2');
		// Another device edited m3 offline before that edit was made, and comes back: the later edit stays.

		const earlier = device(alice, 0);
		messagesMap(earlier.doc).set(stored.id, { author: alice.id, body: 'm3, an earlier fix', createdAt: stored.createdAt, editedAt: fixedAt - 5000 });
		earlier.connect();
		await earlier.whenAcked([stored.id]);
		await waitFor(() => messageOf(earlier.doc, stored.id)?.body === 'm3, fixed', 5000, 'the later edit on the device with the earlier one');
		expect((await history(server.url, conversationId, alice)).find((m) => m.id === stored.id)!.body).toBe('m3, fixed');

		// One edited after it, offline, comes back: its edit is the later one, and is taken.
		const later = device(alice, 0);
		messagesMap(later.doc).set(stored.id, { author: alice.id, body: 'm3, fixed again', createdAt: stored.createdAt, editedAt: fixedAt + 5000 });
		later.connect();
		await later.whenAcked([stored.id]);
		await vi.waitFor(async () => expect((await history(server.url, conversationId, alice)).find((m) => m.id === stored.id)!.body).toBe('m3, fixed again'));
		await waitFor(() => messageOf(writer.doc, stored.id)?.body === 'm3, fixed again', 5000, 'the later edit on the writer');
	});

	it('[EPOCH-3] messages of ended epochs can be edited and deleted by their author only, through the current epoch', async () => {
		const { server, alice, bob, conversationId, device } = await setUp();
		const { writer, ids } = await fillFirstEpoch(device(alice));
		const old = await history(server.url, conversationId, alice);
		const createdAt = (id: string) => old.find((m) => m.id === id)!.createdAt;

		// Edit m1: its value, written into the current epoch under its id.
		const edited = ids[1]!;
		messagesMap(writer.doc).set(edited, { author: alice.id, body: 'm1, fixed', createdAt: createdAt(edited), editedAt: Date.now() });
		await writer.whenAcked([edited]);
		// Delete m2: written and deleted in one transaction.
		const deleted = ids[2]!;
		writer.doc.transact(() => {
			messagesMap(writer.doc).set(deleted, { author: alice.id, body: 'm2', createdAt: createdAt(deleted) });
			messagesMap(writer.doc).delete(deleted);
		});
		await vi.waitFor(async () => {
			const rows = await history(server.url, conversationId, alice);
			expect(rows.find((m) => m.id === deleted)!.deletedAt).not.toBeNull();
		});
		const rows = await history(server.url, conversationId, alice);
		expect(rows.find((m) => m.id === edited)).toMatchObject({ body: 'm1, fixed', seq: 2 });
		expect(rows.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);

		// Bob cannot write Alice's old message into the current epoch.
		const mallory = connectDocument(server.wsUrl, conversationDocName(conversationId, 1), bob.token);
		cleanups.push(() => mallory.destroy());
		await mallory.synced;
		messagesMap(mallory.doc).set(ids[4]!, { author: bob.id, body: 'hijacked', createdAt: createdAt(ids[4]!) });
		await waitFor(() => mallory.rejected.length > 0, 5000, 'the refusal');
		expect(mallory.rejected[0]).toMatchObject({ code: 'foreign-message', messageIds: [ids[4]] });
		expect((await history(server.url, conversationId, alice)).find((m) => m.id === ids[4])!.body).toBe('m4');
	});

	it('[EPOCH-4] roll-overs under concurrent writers: every message exactly once, one order on every device, sequence without gaps', async () => {
		const { server, alice, bob, conversationId, device } = await setUp({ EPOCH_MESSAGES: '7', EPOCH_QUIET_MS: '0' });
		const carol = await createAccount(server.url);
		await api(server.url, `/api/conversations/${conversationId}/members`, { token: alice.token, body: { members: [carol.username] } });
		const random = new Random(20261124);
		const writers = [alice, bob, carol].map((account) => ({ account, client: device(account), ids: [] as string[] }));
		for (const w of writers) w.client.connect();
		for (let round = 0; round < 40; round++) {
			const w = writers[random.int(0, writers.length - 1)]!;
			if (random.chance(0.15)) w.client.disconnect();
			else if (random.chance(0.3)) w.client.connect();
			for (let n = random.int(1, 3); n > 0; n--) w.ids.push(w.client.send(`${w.account.username} ${round}.${n}`));
			await new Promise((resolve) => setTimeout(resolve, random.int(0, 30)));
		}
		for (const w of writers) w.client.disconnect();
		for (const w of writers) w.client.connect();
		for (const w of writers) await w.client.whenAcked(w.ids, 30_000);

		// Carol's joining is a timeline line of its own.
		const all = await history(server.url, conversationId, alice);
		const sent = [all[0]!.id, ...writers.flatMap((w) => w.ids)];
		expect(all.length).toBe(sent.length);
		expect(new Set(all.map((m) => m.id))).toEqual(new Set(sent));
		expect(all.map((m) => m.seq)).toEqual(all.map((_, i) => i + 1));
		for (const w of writers) for (const id of w.ids) expect(w.client.acked.get(id)).toBe(all.find((m) => m.id === id)!.seq);
		// An epoch ends after the commit that fills it, so a batch may take it past 7.
		expect(await epochOf(server.url, conversationId, alice)).toBeGreaterThanOrEqual(3);
	});

	it('[EPOCH-2] a roll-over that fails leaves the epoch whole and in use; the next commit ends it', async () => {
		const { server, alice, conversationId, device } = await setUp();
		const sqlite = server.app.core.db.$client;
		sqlite.exec(`create trigger stuck before update of epoch on conversations begin select raise(abort, 'disk on fire'); end`);
		const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
		cleanups.push(() => errors.mockRestore());
		const writer = device(alice);
		writer.connect();
		const ids = Array.from({ length: 10 }, (_, i) => writer.send(`m${i}`));
		await writer.whenAcked(ids);
		expect(writer.epoch).toBe(0);
		expect(errors.mock.calls.some((call) => String(call[0]).includes('could not end'))).toBe(true);
		sqlite.exec('drop trigger stuck');
		const more = writer.send('after the fire');
		await writer.whenAcked([more]);
		await waitFor(() => writer.epoch === 1, 5000, 'the epoch to end');
		expect((await history(server.url, conversationId, alice)).map((m) => m.id)).toEqual([...ids, more]);
	});

	it('[EPOCH-2] kill -9 at random moments while writers cross epochs: nothing acknowledged is lost or doubled, and every restart opens the current epoch', async () => {
		const data = tempDataDir();
		cleanups.push(data.remove);
		const env = { EPOCH_MESSAGES: '5', EPOCH_QUIET_MS: '0' };
		let server = await spawnServer(data.dir, { env });
		const port = Number(new URL(server.url).port);
		cleanups.push(() => server.kill('SIGKILL'));
		const alice = await createAccount(server.url);
		const bob = await createAccount(server.url);
		const conversationId = await createConversation(server.url, alice, [bob], 'Crashy');
		const random = new Random(424242);
		const devices = [alice, bob].map((account) => ({ account, client: new EpochClient(server.url, server.wsUrl, conversationId, account), ids: [] as string[] }));
		cleanups.push(() => devices.forEach((d) => d.client.destroy()));
		for (const d of devices) d.client.connect();
		for (let crash = 0; crash < 5; crash++) {
			const until = Date.now() + 300 + random.int(0, 400);
			while (Date.now() < until) {
				const d = devices[random.int(0, devices.length - 1)]!;
				d.ids.push(d.client.send(`${d.account.username} ${crash} ${d.ids.length}`));
				await new Promise((resolve) => setTimeout(resolve, random.int(0, 15)));
			}
			await server.kill('SIGKILL');
			server = await spawnServer(data.dir, { env, port });
		}
		for (const d of devices) await d.client.whenAcked(d.ids, 30_000);
		const all = await history(server.url, conversationId, alice);
		const sent = devices.flatMap((d) => d.ids);
		expect(new Set(all.map((m) => m.id))).toEqual(new Set(sent));
		expect(all.length).toBe(sent.length);
		expect(all.map((m) => m.seq)).toEqual(all.map((_, i) => i + 1));
		expect(server.output()).not.toMatch(/skipped a stored update|no longer matches/);

		// A fresh device opens the current epoch: it holds only messages sequenced since it began.
		const epoch = await epochOf(server.url, conversationId, alice);
		expect(epoch).toBeGreaterThan(3);
		const fresh = connectDocument(server.wsUrl, conversationDocName(conversationId, epoch), bob.token);
		cleanups.push(() => fresh.destroy());
		await fresh.synced;
		const inEpoch = orderedMessages(fresh.doc);
		expect(inEpoch.length).toBeLessThan(5 + 2);
		for (const message of inEpoch) expect(message.seq).toBe(all.find((m) => m.id === message.id)!.seq);
	});
});
