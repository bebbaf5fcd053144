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
