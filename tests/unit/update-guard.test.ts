import * as encoding from 'lib0/encoding';
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { messagesMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { RefusalCode } from '../../src/lib/shared/protocol.ts';
import { inspectUpdate, type ClientOwners, type StoredFacts } from '../../server/sync/update-guard.ts';
import { encodeUpdate } from '../utils/frames.ts';

const ALICE = 'alice-id';
const BOB = 'bob-id';
const ID1 = '01JD0000000000000000000001';
const ID2 = '01JD0000000000000000000002';
const ID3 = '01JD0000000000000000000003';
const NOW = Date.UTC(2026, 10, 23);
const T = NOW - 60_000;

/** Captures each transaction of `doc` as its own update, like a provider sends them. */
function recorder(doc: Y.Doc): Uint8Array[] {
	const updates: Uint8Array[] = [];
	doc.on('update', (update: Uint8Array) => updates.push(update));
	return updates;
}

function inspect(
	server: Y.Doc,
	update: Uint8Array,
	userId: string,
	owners: ClientOwners = new Map(),
	stored: (key: string) => StoredFacts | undefined = () => undefined
) {
	return inspectUpdate({ doc: server, userId, owners, stored, now: NOW }, update);
}

/** Applies an update the guard accepted and binds its new clientIDs, as the server does. */
function accept(server: Y.Doc, update: Uint8Array, userId: string, owners: ClientOwners) {
	const verdict = inspect(server, update, userId, owners);
	expect(verdict.kind).toBe('accepted');
	if (verdict.kind !== 'accepted') return verdict;
	for (const client of verdict.newClients) owners.set(client, userId);
	Y.applyUpdate(server, update);
	return verdict;
}

/** Hand-made Yjs v1 updates: one block of structs for one client, and an optional delete set. */
function handMade(
	client: number,
	clock: number,
	structs: Array<
		| { gc: number }
		| { deleted: number; key?: string; origin?: [number, number] }
		| { any: unknown[]; key?: string; origin?: [number, number] }
	>
): Uint8Array {
	const e = encoding.createEncoder();
	encoding.writeVarUint(e, 1);
	encoding.writeVarUint(e, structs.length);
	encoding.writeVarUint(e, client);
	encoding.writeVarUint(e, clock);
	for (const struct of structs) {
		if ('gc' in struct) {
			encoding.writeUint8(e, 0);
			encoding.writeVarUint(e, struct.gc);
			continue;
		}
		const ref = 'deleted' in struct ? 1 : 8;
		encoding.writeUint8(e, ref | (struct.origin ? 128 : 32));
		if (struct.origin) {
			encoding.writeVarUint(e, struct.origin[0]);
			encoding.writeVarUint(e, struct.origin[1]);
		} else {
			encoding.writeVarUint(e, 1);
			encoding.writeVarString(e, 'messages');
			encoding.writeVarString(e, struct.key!);
		}
		if ('deleted' in struct) encoding.writeVarUint(e, struct.deleted);
		else {
			encoding.writeVarUint(e, struct.any.length);
			for (const value of struct.any) encoding.writeAny(e, value as never);
		}
	}
	encoding.writeVarUint(e, 0);
	return encoding.toUint8Array(e);
}

describe('update guard (pure logic)', () => {
	it('[AUTH-1] accepts an own new message and reports its key and new clientID', () => {
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID1, author: ALICE, body: 'hi', createdAt: T });
		const verdict = inspect(new Y.Doc(), updates[0]!, ALICE);
		expect(verdict).toMatchObject({ kind: 'accepted', hasNewContent: true, newMessages: 1 });
		if (verdict.kind !== 'accepted') return;
		expect([...verdict.keys]).toEqual([ID1]);
		expect([...verdict.newClients]).toEqual([client.clientID]);
	});

	it('[AUTH-4] a value without an id is what clients write; an id in the value must be the key', () => {
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID1, author: ALICE, body: 'lean', createdAt: T });
		expect(messagesMap(client).get(ID1)).toEqual({ author: ALICE, body: 'lean', createdAt: T });
		messagesMap(client).set(ID2, { id: ID2, author: ALICE, body: 'older client', createdAt: T });
		messagesMap(client).set(ID3, { id: ID1, author: ALICE, body: 'someone else’s id', createdAt: T });
		const server = new Y.Doc();
		expect(inspect(server, updates[0]!, ALICE).kind).toBe('accepted');
		Y.applyUpdate(server, updates[0]!);
		expect(inspect(server, updates[1]!, ALICE).kind).toBe('accepted');
		Y.applyUpdate(server, updates[1]!);
		expect(inspect(server, updates[2]!, ALICE)).toMatchObject({ kind: 'refused', code: RefusalCode.InvalidMessage, messageIds: [ID3] });
	});

	it('[ONCE-2] content the server already has is not new', () => {
		const server = new Y.Doc();
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID1, author: ALICE, body: 'hi', createdAt: T });
		const owners: ClientOwners = new Map();
		accept(server, updates[0]!, ALICE, owners);
		expect(inspect(server, updates[0]!, ALICE, owners)).toMatchObject({ kind: 'accepted', hasNewContent: false });
	});

	it('[AUTH-3] a clientID stays bound to its first user', () => {
		const server = new Y.Doc();
		const client = new Y.Doc();
		const owners: ClientOwners = new Map();
		writeMessage(client, { id: ID1, author: ALICE, body: 'first', createdAt: T });
		accept(server, Y.encodeStateAsUpdate(client), ALICE, owners);
		const bob = new Y.Doc();
		Y.applyUpdate(bob, Y.encodeStateAsUpdate(client));
		bob.clientID = client.clientID;
		const bobUpdates = recorder(bob);
		writeMessage(bob, { id: ID2, author: BOB, body: 'sneaky', createdAt: T });
		expect(inspect(server, bobUpdates[0]!, BOB, owners)).toMatchObject({ kind: 'refused', code: RefusalCode.ForeignClient });
	});

	it('[AUTH-1] names the refused message ids and never throws on garbage', () => {
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID2, author: BOB, body: 'forged', createdAt: T });
		expect(inspect(new Y.Doc(), updates[0]!, ALICE)).toMatchObject({ kind: 'refused', code: RefusalCode.ForeignAuthor, messageIds: [ID2] });
		expect(inspect(new Y.Doc(), new Uint8Array([9, 9, 9, 9]), ALICE)).toMatchObject({ kind: 'refused' });
	});
});

describe('[GUARD-2] what a stock provider sends on a flaky link is never refused', () => {
	it('[GUARD-2] an update ahead of the content it continues is held, and says what it waits for', () => {
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID1, author: ALICE, body: 'first', createdAt: T });
		writeMessage(client, { id: ID2, author: ALICE, body: 'second', createdAt: T });
		expect(inspect(new Y.Doc(), updates[1]!, ALICE)).toMatchObject({ kind: 'held', waitsFor: { client: client.clientID, clock: 0 } });
	});

	it('[GUARD-2] a sync reply that repeats queued updates is judged only on what is new', () => {
		const server = new Y.Doc();
		const client = new Y.Doc();
		const updates = recorder(client);
		const owners: ClientOwners = new Map();
		for (const id of [ID1, ID2, ID3]) writeMessage(client, { id, author: ALICE, body: id, createdAt: T });
		accept(server, updates[0]!, ALICE, owners);
		accept(server, updates[1]!, ALICE, owners);
		// The sync reply covers clocks 0-3, two of which the server has.
		const verdict = accept(server, Y.encodeStateAsUpdate(client), ALICE, owners);
		expect(verdict).toMatchObject({ hasNewContent: true, newMessages: 1 });
		expect(inspect(server, updates[2]!, ALICE, owners)).toMatchObject({ kind: 'accepted', hasNewContent: false });
	});

	it('[GUARD-2] a whole delete set naming other members’ old values (already deleted) is accepted', () => {
		const server = new Y.Doc();
		const owners: ClientOwners = new Map();
		const bob = new Y.Doc();
		writeMessage(bob, { id: ID1, author: BOB, body: 'tpyo', createdAt: T });
		messagesMap(bob).set(ID1, { id: ID1, author: BOB, body: 'typo', createdAt: T, editedAt: NOW });
		accept(server, Y.encodeStateAsUpdate(bob), BOB, owners);
		const alice = new Y.Doc();
		Y.applyUpdate(alice, Y.encodeStateAsUpdate(server));
		writeMessage(alice, { id: ID2, author: ALICE, body: 'written offline', createdAt: T });
		const verdict = accept(server, Y.encodeStateAsUpdate(alice, Y.encodeStateVector(server)), ALICE, owners);
		expect(verdict).toMatchObject({ hasNewContent: true, newMessages: 1 });
	});

	it('[GUARD-2] a member’s GC struct does not turn later honest reconnects into refusals', () => {
		const server = new Y.Doc();
		const owners: ClientOwners = new Map();
		accept(server, handMade(5151, 0, [{ gc: 5 }]), BOB, owners);
		const alice = new Y.Doc();
		Y.applyUpdate(alice, Y.encodeStateAsUpdate(server));
		writeMessage(alice, { id: ID2, author: ALICE, body: 'offline', createdAt: T });
		expect(accept(server, Y.encodeStateAsUpdate(alice, Y.encodeStateVector(server)), ALICE, owners)).toMatchObject({ newMessages: 1 });
	});
});

describe('[GUARD-1] every struct is checked before anything is skipped', () => {
	it('[GUARD-1] a struct of length 0 is refused, even one that would sort before known clocks', () => {
		const server = new Y.Doc();
		const owners: ClientOwners = new Map();
		const bob = new Y.Doc();
		bob.clientID = 1000;
		writeMessage(bob, { id: ID1, author: BOB, body: 'hello', createdAt: T });
		accept(server, Y.encodeStateAsUpdate(bob), BOB, owners);
		expect(inspect(server, handMade(2000, 0, [{ any: [], origin: [1000, 0] }]), ALICE, owners)).toMatchObject({ kind: 'refused', code: RefusalCode.InvalidMessage });
		expect(inspect(server, handMade(2000, 0, [{ deleted: 0, origin: [1000, 0] }]), ALICE, owners)).toMatchObject({ kind: 'refused' });
		expect(inspect(server, handMade(2000, 0, [{ gc: 0 }]), ALICE, owners)).toMatchObject({ kind: 'refused' });
	});

	it('[GUARD-1] one clientID in two blocks of one update is refused (Yjs would apply only one)', () => {
		const X = 777777;
		const e = encoding.createEncoder();
		encoding.writeVarUint(e, 2);
		for (const body of ['one', 'two']) {
			encoding.writeVarUint(e, 1);
			encoding.writeVarUint(e, X);
			encoding.writeVarUint(e, 0);
			encoding.writeUint8(e, 8 | 32);
			encoding.writeVarUint(e, 1);
			encoding.writeVarString(e, 'messages');
			encoding.writeVarString(e, body === 'one' ? ID1 : ID2);
			encoding.writeVarUint(e, 1);
			encoding.writeAny(e, { id: body === 'one' ? ID1 : ID2, author: ALICE, body, createdAt: T });
		}
		encoding.writeVarUint(e, 0);
		expect(inspect(new Y.Doc(), encoding.toUint8Array(e), ALICE)).toMatchObject({ kind: 'refused', code: RefusalCode.InvalidMessage });
	});

	it('[AUTH-2] a deleted value slipped into someone else’s key is refused (it would hide their message)', () => {
		const server = new Y.Doc();
		const owners: ClientOwners = new Map();
		const victim = new Y.Doc();
		victim.clientID = 1000;
		writeMessage(victim, { id: ID1, author: BOB, body: 'hello', createdAt: T });
		accept(server, Y.encodeStateAsUpdate(victim), BOB, owners);
		expect(inspect(server, handMade(3000, 0, [{ deleted: 1, origin: [1000, 0] }]), ALICE, owners)).toMatchObject({
			kind: 'refused',
			code: RefusalCode.ForeignMessage,
			messageIds: [ID1]
		});
		expect(inspect(server, handMade(3000, 0, [{ deleted: 1, key: ID1 }]), ALICE, owners)).toMatchObject({ kind: 'refused', code: RefusalCode.ForeignMessage });
	});

	it('[AUTH-2] a message id the server has on record for another author is refused', () => {
		const client = new Y.Doc();
		writeMessage(client, { id: ID1, author: ALICE, body: 'mine now', createdAt: T });
		const verdict = inspect(new Y.Doc(), Y.encodeStateAsUpdate(client), ALICE, new Map(), () => ({ authorId: BOB, createdAt: T, event: null }));
		expect(verdict).toMatchObject({ kind: 'refused', code: RefusalCode.ForeignMessage });
	});

	it('[FRAME-1] a delete set of overlapping or too many ranges is refused before any walk', () => {
		const server = new Y.Doc();
		const owners: ClientOwners = new Map();
		const mine = new Y.Doc();
		mine.clientID = 4242;
		for (let i = 0; i < 50; i++) {
			const id = `01JD${String(i).padStart(22, '0')}`;
			messagesMap(mine).set(id, { id, author: ALICE, body: 'x', createdAt: T });
		}
		accept(server, Y.encodeStateAsUpdate(mine), ALICE, owners);
		const e = encoding.createEncoder();
		encoding.writeVarUint(e, 0);
		encoding.writeVarUint(e, 1);
		encoding.writeVarUint(e, 4242);
		encoding.writeVarUint(e, 1000);
		for (let i = 0; i < 1000; i++) {
			encoding.writeVarUint(e, 0);
			encoding.writeVarUint(e, 50);
		}
		expect(inspect(server, encoding.toUint8Array(e), ALICE, owners)).toMatchObject({ kind: 'refused', code: RefusalCode.InvalidMessage });
	});
});

describe('[GUARD-5] message times are plausible and edits keep them', () => {
	it.each([1e300, -1e300, 9e15, 0, 1, NOW + 366 * 24 * 3600 * 1000, 1.5e12 + 0.5])('[GUARD-5] createdAt %s is refused', (createdAt) => {
		const client = new Y.Doc();
		messagesMap(client).set(ID1, { id: ID1, author: ALICE, body: 'when?', createdAt });
		expect(inspect(new Y.Doc(), Y.encodeStateAsUpdate(client), ALICE)).toMatchObject({ kind: 'refused', code: RefusalCode.InvalidMessage });
	});

	it('[GUARD-5] an edit that changes createdAt is refused', () => {
		const server = new Y.Doc();
		const owners: ClientOwners = new Map();
		const client = new Y.Doc();
		const updates = recorder(client);
		writeMessage(client, { id: ID1, author: ALICE, body: 'first', createdAt: T });
		accept(server, updates[0]!, ALICE, owners);
		messagesMap(client).set(ID1, { id: ID1, author: ALICE, body: 'edited', createdAt: T - 1000, editedAt: NOW });
		expect(inspect(server, updates[1]!, ALICE, owners)).toMatchObject({ kind: 'refused', code: RefusalCode.InvalidMessage });
	});
});

describe('[GUARD-1] content the server has, resent with other neighbours', () => {
	it.each([
		['another client’s clock the server does not have', (_own: number) => ({ client: 4242, clock: 7 })],
		['its own client beyond the server’s clock', (own: number) => ({ client: own, clock: 50 })]
	])('[GUARD-1] a known struct naming %s is refused (Yjs would leave it pending or throw, and the document would reload)', (_, originOf) => {
		const server = new Y.Doc();
		const owners: ClientOwners = new Map();
		const client = new Y.Doc();
		const value = { id: ID1, author: ALICE, body: 'first', createdAt: T };
		writeMessage(client, value);
		accept(server, Y.encodeStateAsUpdate(client), ALICE, owners);
		// Alice's first struct again, with a different left neighbour, and one new (GC) clock so that something is new.
		const update = encodeUpdate([
			{ client: client.clientID, clock: 0, structs: [{ item: { any: [value] }, origin: originOf(client.clientID), inMap: true }, { gc: 1 }] }
		]);
		expect(inspect(server, update, ALICE, owners)).toMatchObject({ kind: 'refused', code: RefusalCode.InvalidMessage });
		// What the guard must not let through: Yjs cannot apply it cleanly.
		const copy = new Y.Doc();
		Y.applyUpdate(copy, Y.encodeStateAsUpdate(server));
		let failed = false;
		try {
			Y.applyUpdate(copy, update);
		} catch {
			failed = true;
		}
		expect(failed || copy.store.pendingStructs !== null).toBe(true);
	});
});

describe('[GUARD-1] a struct the server has the head of, continued elsewhere', () => {
	it('[GUARD-1] a tail whose own origin names another place than its head is refused (after garbage Yjs throws)', () => {
		const server = new Y.Doc();
		const owners: ClientOwners = new Map();
		const writer = new Y.Doc();
		writer.getMap('seq').set(ID1, 1);
		Y.applyUpdate(server, Y.encodeStateAsUpdate(writer));
		owners.set(writer.clientID, null);
		// Alice's clientID 77 starts with one clock of garbage, which the server accepts.
		accept(server, encodeUpdate([{ client: 77, clock: 0, structs: [{ gc: 1 }] }]), ALICE, owners);
		// The same struct again, longer, now an item after the server's own sequence number.
		const update = encodeUpdate([{ client: 77, clock: 0, structs: [{ item: { deleted: 3 }, origin: { client: writer.clientID, clock: 0 }, inMap: true }] }]);
		expect(inspect(server, update, ALICE, owners)).toMatchObject({ kind: 'refused', code: RefusalCode.InvalidMessage });
		const copy = new Y.Doc();
		Y.applyUpdate(copy, Y.encodeStateAsUpdate(server));
		expect(() => Y.applyUpdate(copy, update)).toThrow();
	});
});
