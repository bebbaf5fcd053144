import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { writeMessage, messagesMap } from '../../src/lib/shared/conversation-doc.ts';
import { RefusalCode } from '../../src/lib/shared/protocol.ts';
import { inspectUpdate, PendingChanges, type ClientOwners } from '../../server/sync/update-guard.ts';

const ALICE = 'alice-id';
const BOB = 'bob-id';
const ID1 = '01JD0000000000000000000001';
const ID2 = '01JD0000000000000000000002';

/** Captures each transaction of `doc` as its own update, like a provider sends them. */
function recorder(doc: Y.Doc): Uint8Array[] {
	const updates: Uint8Array[] = [];
	doc.on('update', (update: Uint8Array) => updates.push(update));
	return updates;
}

describe('update guard (pure logic)', () => {
	it('[AUTH-1] accepts an own new message and reports it with its new clientID', () => {
		const server = new Y.Doc();
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID1, author: ALICE, body: 'hi', createdAt: 1 });
		const result = inspectUpdate(server, updates[0]!, ALICE, new Map());
		expect(result).toMatchObject({ ok: true, hasNewContent: true });
		if (!result.ok) return;
		expect([...result.upserts.values()]).toEqual([{ id: ID1, author: ALICE, body: 'hi', createdAt: 1 }]);
		expect([...result.newClients]).toEqual([client.clientID]);
	});

	it('[ONCE-2] content the server already has is not new', () => {
		const server = new Y.Doc();
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID1, author: ALICE, body: 'hi', createdAt: 1 });
		Y.applyUpdate(server, updates[0]!);
		const owners: ClientOwners = new Map([[client.clientID, ALICE]]);
		expect(inspectUpdate(server, updates[0]!, ALICE, owners)).toMatchObject({ ok: true, hasNewContent: false });
	});

	it('[AUTH-3] later updates of a batch build on earlier pending ones, and keep clientIDs bound', () => {
		const server = new Y.Doc();
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID1, author: ALICE, body: 'first', createdAt: 1 });
		messagesMap(client).set(ID1, { id: ID1, author: ALICE, body: 'edited', createdAt: 1 });
		messagesMap(client).delete(ID1);
		const pending = new PendingChanges();
		const owners: ClientOwners = new Map();
		expect(inspectUpdate(server, updates[0]!, ALICE, owners, pending).ok).toBe(true);
		const edit = inspectUpdate(server, updates[1]!, ALICE, owners, pending);
		expect(edit.ok && [...edit.upserts.values()][0]?.body).toBe('edited');
		const removal = inspectUpdate(server, updates[2]!, ALICE, owners, pending);
		expect(removal.ok && [...removal.deletions]).toEqual([ID1]);
		// Bob cannot continue a clientID that a pending update bound to Alice.
		const bob = new Y.Doc();
		Y.applyUpdate(bob, Y.encodeStateAsUpdate(client));
		bob.clientID = client.clientID;
		const bobUpdates = recorder(bob);
		writeMessage(bob, { id: ID2, author: BOB, body: 'sneaky', createdAt: 3 });
		expect(inspectUpdate(server, bobUpdates[0]!, BOB, owners, pending)).toMatchObject({ ok: false, code: RefusalCode.ForeignClient });
	});

	it('[AUTH-2] refuses an update that skips content it depends on', () => {
		const server = new Y.Doc();
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID1, author: ALICE, body: 'first', createdAt: 1 });
		writeMessage(client, { id: ID2, author: ALICE, body: 'second', createdAt: 2 });
		expect(inspectUpdate(server, updates[1]!, ALICE, new Map())).toMatchObject({ ok: false, code: RefusalCode.OutOfOrder });
	});

	it('[AUTH-1] names the refused message ids and never throws on garbage', () => {
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID2, author: BOB, body: 'forged', createdAt: 2 });
		expect(inspectUpdate(new Y.Doc(), updates[0]!, ALICE, new Map())).toMatchObject({
			ok: false,
			code: RefusalCode.ForeignAuthor,
			messageIds: [ID2]
		});
		expect(inspectUpdate(new Y.Doc(), new Uint8Array([9, 9, 9, 9]), ALICE, new Map())).toMatchObject({ ok: false });
	});
});

describe('update guard against crafted updates', () => {
	const K = '01JD0000000000000000000001';

	it('[AUTH-2] a deleted value slipped into someone else’s key is refused (it would hide their message)', () => {
		const server = new Y.Doc();
		const victim = new Y.Doc();
		victim.clientID = 1000;
		messagesMap(victim).set(K, { id: K, author: BOB, body: 'hello', createdAt: 1 });
		Y.applyUpdate(server, Y.encodeStateAsUpdate(victim));
		const attacker = new Y.Doc();
		attacker.clientID = 0xffffffff;
		messagesMap(attacker).set(K, { id: K, author: ALICE, body: 'x', createdAt: 1 });
		messagesMap(attacker).delete(K);
		const result = inspectUpdate(server, Y.encodeStateAsUpdate(attacker), ALICE, new Map([[1000, BOB]]));
		expect(result).toMatchObject({ ok: false, code: RefusalCode.ForeignMessage, messageIds: [K] });
	});

	it('[AUTH-2] a message id the server has on record for another author is refused', () => {
		const client = new Y.Doc();
		writeMessage(client, { id: K, author: ALICE, body: 'mine now', createdAt: 1 });
		const result = inspectUpdate(new Y.Doc(), Y.encodeStateAsUpdate(client), ALICE, new Map(), new PendingChanges(), () => BOB);
		expect(result).toMatchObject({ ok: false, code: RefusalCode.ForeignMessage });
	});

	it('[FRAME-1] an update that repeats a client’s block (Yjs would apply only one of them) is refused', () => {
		const X = 777777;
		const e = encoding.createEncoder();
		encoding.writeVarUint(e, 2);
		// Block 1: a deleted run of 6 under messages/K.
		encoding.writeVarUint(e, 1);
		encoding.writeVarUint(e, X);
		encoding.writeVarUint(e, 0);
		encoding.writeUint8(e, 1 | 32);
		encoding.writeVarUint(e, 1);
		encoding.writeVarString(e, 'messages');
		encoding.writeVarString(e, K);
		encoding.writeVarUint(e, 6);
		// Block 2: the same client from clock 0 again, with an origin inside block 1.
		encoding.writeVarUint(e, 1);
		encoding.writeVarUint(e, X);
		encoding.writeVarUint(e, 0);
		encoding.writeUint8(e, 8 | 128);
		encoding.writeVarUint(e, X);
		encoding.writeVarUint(e, 5);
		encoding.writeVarUint(e, 1);
		encoding.writeAny(e, { id: K, author: ALICE, body: 'boom', createdAt: 1 });
		encoding.writeVarUint(e, 0);
		const result = inspectUpdate(new Y.Doc(), encoding.toUint8Array(e), ALICE, new Map());
		expect(result).toMatchObject({ ok: false, code: RefusalCode.InvalidMessage });
	});

	it('[FRAME-1] a delete set of overlapping or too many ranges is refused before any walk', () => {
		const server = new Y.Doc();
		const mine = new Y.Doc();
		mine.clientID = 4242;
		for (let i = 0; i < 50; i++) {
			const id = `01JD${String(i).padStart(22, '0')}`;
			messagesMap(mine).set(id, { id, author: ALICE, body: 'x', createdAt: 1 });
		}
		Y.applyUpdate(server, Y.encodeStateAsUpdate(mine));
		const e = encoding.createEncoder();
		encoding.writeVarUint(e, 0);
		encoding.writeVarUint(e, 1);
		encoding.writeVarUint(e, 4242);
		encoding.writeVarUint(e, 1000);
		for (let i = 0; i < 1000; i++) {
			encoding.writeVarUint(e, 0);
			encoding.writeVarUint(e, 50);
		}
		const result = inspectUpdate(server, encoding.toUint8Array(e), ALICE, new Map([[4242, ALICE]]));
		expect(result).toMatchObject({ ok: false, code: RefusalCode.InvalidMessage });
	});
});
