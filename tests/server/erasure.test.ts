import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { carryInto, deleteForEveryone, editMessage, messageOf, messagesMap, sequenceOf, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
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
import { Random } from '../reliability/lib/random.ts';

type Row = { id: string; seq: number; body: string; deletedAt: number | null; editedAt: number | null };

describe('delete for everyone erases the body', () => {
	const server = useTestServer();
	let alice: Account;
	let bob: Account;
	let conversationId: string;
	const open: SyncClient[] = [];

	async function client(account: Account, doc?: Y.Doc): Promise<SyncClient> {
		const c = connectClient(server.wsUrl, conversationId, account.token, doc);
		open.push(c);
		await c.synced;
		return c;
	}

	async function row(id: string): Promise<Row | undefined> {
		const response = await api<{ messages: Row[] }>(server.url, `/api/conversations/${conversationId}/messages?limit=200`, { token: bob.token });
		return response.body.messages.find((m) => m.id === id);
	}

	/** The files SQLite keeps for the database (main file, WAL, shared memory) that contain `text`. */
	function filesHolding(text: string): string[] {
		const needle = Buffer.from(text);
		return readdirSync(server.dataDir)
			.filter((name) => name.startsWith('chat.sqlite'))
			.filter((name) => readFileSync(join(server.dataDir, name)).includes(needle));
	}

	/** Another device of `account`, once the message `id` has reached it. */
	async function deviceHolding(account: Account, id: string, what: string): Promise<SyncClient> {
		const device = await client(account, new Y.Doc());
		await waitFor(() => messageOf(device.doc, id) !== undefined, 5000, what);
		return device;
	}

	/** Alice's message, once acknowledged. */
	async function sent(c: SyncClient, body: string): Promise<string> {
		const id = ulid();
		writeMessage(c.doc, { id, author: alice.id, body });
		await waitFor(() => sequenceOf(c.doc, id) !== undefined, 5000, 'the acknowledgement');
		return id;
	}

	/** Server-side effects (a fold, a checkpoint) take up to a few seconds. */
	const eventually = (check: () => boolean | Promise<boolean>, what: string) => waitFor(check, 15_000, what);

	beforeAll(async () => {
		alice = await createAccount(server.url);
		bob = await createAccount(server.url);
		conversationId = await createConversation(server.url, alice, [bob], 'Erasure');
		await client(alice);
	});

	afterAll(async () => {
		for (const c of open) c.destroy();
	});

	it('[ERASE-1] a deleted message leaves a tombstone with its seq on every device and an empty row in the table', async () => {
		const a = open[0]!;
		const id = await sent(a, 'meet me at the library');
		const seq = sequenceOf(a.doc, id)!;
		const b = await client(bob);
		expect(messageOf(b.doc, id)?.body).toBe('meet me at the library');
		deleteForEveryone(a.doc, id);
		await waitFor(() => messageOf(b.doc, id)?.deletedAt !== undefined, 5000, 'the tombstone at bob');
		expect(messageOf(b.doc, id)).toMatchObject({ author: alice.id, body: '', deletedAt: expect.any(Number) });
		expect(sequenceOf(b.doc, id)).toBe(seq);
		await eventually(async () => (await row(id))?.deletedAt != null, 'the deleted row');
		expect(await row(id)).toMatchObject({ seq, body: '', deletedAt: expect.any(Number) });
		// A member joining later gets the tombstone, not the body.
		const fresh = await client(bob);
		expect(messageOf(fresh.doc, id)?.body).toBe('');
	});

	it('[ERASE-2] once folded, the body is in no SQLite file: not the table, the update log, the snapshot or the WAL', async () => {
		const a = open[0]!;
		// A word no other indexed word starts like: the index stores each word after the one before it
		// without their common prefix, so only such a word is whole in the file.
		const word = `zq${Math.random().toString(36).slice(2, 12)}`;
		const secret = `erase-me-${word}`;
		const keep = `keep-me-${ulid()}`;
		const id = await sent(a, secret);
		await sent(a, keep);
		await waitFor(() => filesHolding(secret).length > 0, 5000, 'the body on disk');
		// In the search index too (a search indexes what is waiting).
		const search = await api<{ results: unknown[] }>(server.url, `/api/search?q=${word}`, { token: alice.token });
		expect(search.body.results).toHaveLength(1);
		deleteForEveryone(a.doc, id);
		await eventually(async () => filesHolding(secret).length === 0, 'the body gone from disk').catch(() => {});
		expect(filesHolding(secret)).toEqual([]);
		// Nor its words in the search index (which keeps them lower-cased).
		await eventually(async () => filesHolding(word).length === 0, 'the word gone from the index').catch(() => {});
		expect(filesHolding(word)).toEqual([]);
		// Erasing one message takes nothing else with it.
		expect(filesHolding(keep).length).toBeGreaterThan(0);
		expect((await row(id))?.body).toBe('');
	});

	it('[ERASE-2] deletions that follow each other while a fold is under way are all erased', async () => {
		const a = open[0]!;
		const secrets = Array.from({ length: 8 }, (_, i) => `gone-${i}-${ulid()}`);
		const ids: string[] = [];
		for (const secret of secrets) ids.push(await sent(a, secret));
		await waitFor(() => secrets.every((secret) => filesHolding(secret).length > 0), 5000, 'the bodies on disk');
		for (const id of ids) {
			deleteForEveryone(a.doc, id);
			await new Promise((resolve) => setTimeout(resolve, 1));
		}
		await eventually(async () => secrets.every((secret) => filesHolding(secret).length === 0), 'every body gone from disk').catch(() => {});
		expect(secrets.filter((secret) => filesHolding(secret).length > 0)).toEqual([]);
	});

	it('[ERASE-2] the body of an edited message is replaced in the table and gone from the snapshot after the next deletion', async () => {
		const a = open[0]!;
		const before = `first-draft-${ulid()}`;
		const id = await sent(a, before);
		editMessage(a.doc, id, 'second draft');
		await eventually(async () => (await row(id))?.body === 'second draft', 'the edit');
		expect((await row(id))?.editedAt).not.toBeNull();
		// A deletion elsewhere in the conversation folds the log, edits included.
		deleteForEveryone(a.doc, await sent(a, 'to be deleted'));
		await eventually(async () => filesHolding(before).length === 0, 'the first draft gone from disk').catch(() => {});
		expect(filesHolding(before)).toEqual([]);
	});

	it('[ERASE-3] deleting is final: no value but the tombstone is taken under a deleted key, even from its author', async () => {
		const a = open[0]!;
		const id = await sent(a, 'sent to the wrong chat');
		// A second device of alice still holds the message as it was.
		const other = await deviceHolding(alice, id, 'the message on the second device');
		other.socket.disconnect();
		deleteForEveryone(a.doc, id);
		await eventually(async () => (await row(id))?.deletedAt != null, 'the deletion');
		// Offline, the second device edits it, then comes back.
		editMessage(other.doc, id, 'fixed the typo');
		await other.socket.connect();
		await waitFor(() => other.refusals.includes(CloseReason.UpdateRefused), 5000, 'the refusal');
		expect(other.rejected.map((r) => [r.code, r.messageIds])).toContainEqual([RefusalCode.MessageDeleted, [id]]);
		expect((await row(id))?.body).toBe('');
		expect(messageOf(a.doc, id)?.deletedAt).toBeDefined();
	});

	it('[ERASE-6] a device that never heard the acknowledgement carries the original in again, and the edit made meanwhile elsewhere stays', async () => {
		const a = open[0]!;
		const id = await sent(a, 'original');
		const original = messageOf(a.doc, id)!;
		const other = await deviceHolding(alice, id, 'the message on the second device');
		editMessage(other.doc, id, 'edited elsewhere');
		await eventually(async () => (await row(id))?.body === 'edited elsewhere', 'the edit');
		// The first device, reloaded without its database, writes the message it never saw acknowledged
		// into a fresh document. Under a higher clientID than the original's, Yjs keeps it over the edit.
		const fresh = new Y.Doc();
		fresh.clientID = a.doc.clientID + 1;
		carryInto(fresh, [{ ...original, id }]);
		const carried = await client(alice, fresh);
		await eventually(() => sequenceOf(fresh, id) !== undefined && messageOf(fresh, id)?.body === 'edited elsewhere', 'the edit on the reloaded device');
		for (const c of [a, other, carried]) await waitFor(() => messageOf(c.doc, id)?.body === 'edited elsewhere', 5000, 'the edit everywhere');
		expect(messageOf(fresh, id)?.editedAt).toBe(messageOf(other.doc, id)?.editedAt);
		expect((await row(id))?.body).toBe('edited elsewhere');
		expect(carried.rejected).toEqual([]);
		// The value the server wrote on top is still the author's to edit.
		editMessage(fresh, id, 'edited again');
		await eventually(async () => (await row(id))?.body === 'edited again', 'the next edit');
		await waitFor(() => messageOf(other.doc, id)?.body === 'edited again', 5000, 'the next edit elsewhere');
		expect(carried.rejected).toEqual([]);
	});

	it('[ERASE-6] an edit written over another keeps winning when its device\'s clock runs behind the other\'s', async () => {
		const a = open[0]!;
		const id = await sent(a, 'clocks disagree');
		const fast = await deviceHolding(alice, id, 'the message on the fast device');
		const { createdAt } = messageOf(fast.doc, id)!;
		// This device's clock is ten minutes ahead.
		messagesMap(fast.doc).set(id, { author: alice.id, body: 'edited on the fast clock', createdAt, editedAt: Date.now() + 600_000 });
		await eventually(async () => (await row(id))?.body === 'edited on the fast clock', 'the first edit');
		await waitFor(() => messageOf(a.doc, id)?.body === 'edited on the fast clock', 5000, 'the first edit on the other device');
		expect(editMessage(a.doc, id, 'edited after it')).toBe(true);
		await eventually(async () => (await row(id))?.body === 'edited after it', 'the second edit');
		await waitFor(() => messageOf(fast.doc, id)?.body === 'edited after it', 5000, 'the second edit on the fast device');
		expect(messageOf(a.doc, id)?.body).toBe('edited after it');
	});

	it('[ERASE-6] seeded: offline edits on several devices and stale copies carried in, connecting in any order, end on the latest edit everywhere', async () => {
		const seed = Number(process.env.ERASE_SEED ?? 20261125);
		const random = new Random(seed);
		const a = open[0]!;
		for (let round = 0; round < 12; round++) {
			const id = await sent(a, `round ${round}`);
			const original = messageOf(a.doc, id)!;
			const edits = random.int(0, 3);
			const devices: Array<{ editedAt?: number; body: string; connect: () => Promise<unknown>; doc: Y.Doc }> = [];
			for (let i = 0; i < edits; i++) {
				const device = await deviceHolding(alice, id, 'the message on an editing device');
				device.socket.disconnect();
				await waitFor(() => device.socket.status === 'disconnected', 5000, 'offline');
				// Clocks that disagree by up to a minute either way; distinct times, so one edit is the latest.
				const editedAt = Date.now() + random.int(-60, 60) * 1000 + i;
				const body = `round ${round}, edit ${i}`;
				messagesMap(device.doc).set(id, { author: alice.id, body, createdAt: original.createdAt, editedAt });
				devices.push({ editedAt, body, doc: device.doc, connect: () => device.socket.connect() });
			}
			for (let i = random.int(0, 2); i > 0; i--) {
				const doc = new Y.Doc();
				carryInto(doc, [{ ...original, id }]);
				devices.push({ body: original.body, doc, connect: () => client(alice, doc) });
			}
			const latest = devices.filter((d) => d.editedAt !== undefined).sort((x, y) => y.editedAt! - x.editedAt!)[0]?.body ?? original.body;
			await Promise.all(
				random.shuffle(devices).map(async (device) => {
					await new Promise((resolve) => setTimeout(resolve, random.int(0, 30)));
					await device.connect();
				})
			);
			const context = `seed ${seed}, round ${round}: ${edits} edits, ${devices.length - edits} stale copies`;
			await eventually(async () => (await row(id))?.body === latest, `${context}: the latest edit in the table`).catch(async () => {
				throw new Error(`${context}: the table has ${JSON.stringify((await row(id))?.body)}, not ${JSON.stringify(latest)}`);
			});
			for (const doc of [a.doc, ...devices.map((d) => d.doc)]) await waitFor(() => messageOf(doc, id)?.body === latest, 5000, `${context}: the latest edit on every device`);
			await new Promise((resolve) => setTimeout(resolve, 50));
			expect((await row(id))?.body, context).toBe(latest);
		}
	});

	it('[ERASE-3] a tombstone carries only author, createdAt and deletedAt with an empty body', async () => {
		const a = open[0]!;
		for (const value of [
			{ body: 'still here', deletedAt: Date.now() },
			{ body: '', deletedAt: 'yesterday' },
			{ body: '', deletedAt: Date.now(), editedAt: Date.now() }
		]) {
			const id = await sent(a, 'about to be tombstoned');
			const c = await deviceHolding(alice, id, 'the message');
			const { createdAt } = messageOf(c.doc, id)!;
			messagesMap(c.doc).set(id, { author: alice.id, createdAt, ...value } as never);
			await waitFor(() => c.rejected.length > 0, 5000, 'the refusal');
			expect(c.rejected[0]).toMatchObject({ code: RefusalCode.InvalidMessage, messageIds: [id] });
			expect((await row(id))?.deletedAt).toBeNull();
		}
	});

	it('[ERASE-3] another member cannot delete someone else’s message for everyone', async () => {
		const a = open[0]!;
		const id = await sent(a, 'mine alone');
		const b = await deviceHolding(bob, id, 'the message at bob');
		const { createdAt } = messageOf(b.doc, id)!;
		messagesMap(b.doc).set(id, { author: alice.id, body: '', createdAt, deletedAt: Date.now() });
		await waitFor(() => b.rejected.length > 0, 5000, 'the refusal');
		expect([RefusalCode.ForeignAuthor, RefusalCode.ForeignMessage]).toContain(b.rejected[0]!.code);
		expect((await row(id))?.body).toBe('mine alone');
	});
});
