import { Hocuspocus } from '@hocuspocus/server';
import * as encoding from 'lib0/encoding';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import * as awarenessProtocol from 'y-protocols/awareness';
import * as syncProtocol from 'y-protocols/sync';
import * as Y from 'yjs';
import { after, decodeAwareness, encodeAwareness, encodeUpdate, frame, MessageType, newKey, RawSocket, until } from '../utils/frames.ts';

/**
 * The attack suite (tests/server/attacks.test.ts) builds updates and frames by hand. These tests
 * show that the hand-made encodings are byte for byte what Yjs, y-protocols and Hocuspocus write
 * for honest content, so that a failing attack test is about the server, not the encoder.
 */

const K1 = '01JD0000000000000000000001';
const K2 = '01JD0000000000000000000002';
const value = (id: string, body: string) => ({ id, author: 'alice-id', body, createdAt: 1_700_000_000_000 });

function docWith(clientID: number): Y.Doc {
	const doc = new Y.Doc();
	doc.clientID = clientID;
	return doc;
}

describe('hand-made Yjs updates', () => {
	it('a new map key is encoded exactly like Yjs encodes it', () => {
		const real = docWith(123);
		real.getMap('messages').set(K1, value(K1, 'hi'));
		const byHand = encodeUpdate([{ client: 123, clock: 0, structs: [newKey(K1, value(K1, 'hi'))] }]);
		expect(byHand).toEqual(Y.encodeStateAsUpdate(real));
		const applied = new Y.Doc();
		Y.applyUpdate(applied, byHand);
		expect(applied.getMap('messages').toJSON()).toEqual(real.getMap('messages').toJSON());
	});

	it('an edit (a value after the old one, which is deleted and garbage-collected) and a delete set', () => {
		const real = docWith(77);
		const messages = real.getMap('messages');
		messages.set(K1, value(K1, 'tpyo'));
		messages.set(K1, value(K1, 'typo'));
		messages.set(K2, value(K2, 'second'));
		messages.delete(K2);
		const byHand = encodeUpdate(
			[
				{
					client: 77,
					clock: 0,
					structs: [
						{ item: { deleted: 1 }, parent: 'messages', parentSub: K1 },
						after({ client: 77, clock: 0 }, { any: [value(K1, 'typo')] }),
						{ item: { deleted: 1 }, parent: 'messages', parentSub: K2 }
					]
				}
			],
			[{ client: 77, ranges: [[0, 1], [2, 1]] }]
		);
		// Yjs merges adjacent deleted ranges only when they touch; 0 and 2 do not.
		expect(byHand).toEqual(Y.encodeStateAsUpdate(real));
		const applied = new Y.Doc();
		Y.applyUpdate(applied, byHand);
		expect(applied.getMap('messages').toJSON()).toEqual({ [K1]: value(K1, 'typo') });
	});

	it('several clients, highest clientID first, and an update relative to a state vector', () => {
		const a = docWith(5);
		const b = docWith(9);
		a.getMap('messages').set(K1, value(K1, 'from a'));
		Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
		b.getMap('messages').set(K2, value(K2, 'from b'));
		const both = encodeUpdate([
			{ client: 9, clock: 0, structs: [newKey(K2, value(K2, 'from b'))] },
			{ client: 5, clock: 0, structs: [newKey(K1, value(K1, 'from a'))] }
		]);
		expect(both).toEqual(Y.encodeStateAsUpdate(b));
		const onlyB = encodeUpdate([{ client: 9, clock: 0, structs: [newKey(K2, value(K2, 'from b'))] }]);
		expect(onlyB).toEqual(Y.encodeStateAsUpdate(b, Y.encodeStateVector(a)));
	});

	it('ContentAny of several values, strings and nested types are Yjs’s encodings too', () => {
		const real = docWith(3);
		real.getArray('list').insert(0, [1, 'two', { three: 3 }]);
		expect(encodeUpdate([{ client: 3, clock: 0, structs: [{ item: { any: [1, 'two', { three: 3 }] }, parent: 'list' }] }])).toEqual(
			Y.encodeStateAsUpdate(real)
		);
		const text = docWith(4);
		text.getText('t').insert(0, 'hey');
		expect(encodeUpdate([{ client: 4, clock: 0, structs: [{ item: { string: 'hey' }, parent: 't' }] }])).toEqual(Y.encodeStateAsUpdate(text));
		const nested = docWith(6);
		nested.getMap('messages').set(K1, new Y.Map());
		expect(encodeUpdate([{ client: 6, clock: 0, structs: [{ item: { type: 1 }, parent: 'messages', parentSub: K1 }] }])).toEqual(
			Y.encodeStateAsUpdate(nested)
		);
	});

	it('what the attacks rely on: zero-length items, GC structs and repeated blocks decode as written', () => {
		const zero = encodeUpdate([{ client: 11, clock: 0, structs: [after({ client: 5, clock: 0 }, { any: [] })] }]);
		const zeroStructs = Y.decodeUpdate(zero).structs;
		expect(zeroStructs).toHaveLength(1);
		expect(zeroStructs[0]!.length).toBe(0);
		const deletedZero = Y.decodeUpdate(encodeUpdate([{ client: 11, clock: 0, structs: [after({ client: 5, clock: 0 }, { deleted: 0 })] }])).structs;
		expect((deletedZero[0] as Y.Item).content).toBeInstanceOf(Y.ContentDeleted);
		expect(deletedZero[0]!.length).toBe(0);

		const gc = Y.decodeUpdate(encodeUpdate([{ client: 12, clock: 0, structs: [{ gc: 5 }] }])).structs;
		expect(gc[0]).toBeInstanceOf(Y.GC);
		expect(gc[0]!.length).toBe(5);

		// One clientID in two blocks: the struct list shows both, Yjs applies only the last block.
		const twoBlocks = encodeUpdate([
			{ client: 13, clock: 0, structs: [newKey(K1, value(K1, 'first block'))] },
			{ client: 13, clock: 1, structs: [newKey(K2, value(K2, 'second block'))] }
		]);
		expect(Y.decodeUpdate(twoBlocks).structs.map((s) => s.id.clock)).toEqual([0, 1]);
		const applied = new Y.Doc();
		Y.applyUpdate(applied, twoBlocks);
		expect(applied.getMap('messages').size).toBe(0);
		expect(applied.store.pendingStructs).not.toBeNull();
	});
});

describe('hand-made Hocuspocus frames', () => {
	let http: Server;
	let hocuspocus: Hocuspocus;
	let wsUrl: string;
	const tokens: string[] = [];

	beforeAll(async () => {
		hocuspocus = new Hocuspocus({
			quiet: true,
			async onAuthenticate({ token }) {
				tokens.push(token);
				if (token !== 'good') throw new Error('bad token');
			}
		});
		http = createServer();
		const wss = new WebSocketServer({ server: http });
		wss.on('connection', (ws, request) => hocuspocus.handleConnection(ws, request));
		await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
		wsUrl = `ws://127.0.0.1:${(http.address() as AddressInfo).port}`;
	});
	afterAll(async () => {
		hocuspocus.closeConnections();
		http.closeAllConnections();
		await new Promise<void>((resolve) => http.close(() => resolve()));
	});

	it('sync frames carry y-protocols sync messages after the document name and type', () => {
		const doc = docWith(21);
		doc.getMap('messages').set(K1, value(K1, 'x'));
		const update = Y.encodeStateAsUpdate(doc);
		const expected = (write: (e: encoding.Encoder) => void) => {
			const e = encoding.createEncoder();
			encoding.writeVarString(e, 'd');
			encoding.writeVarUint(e, MessageType.Sync);
			write(e);
			return encoding.toUint8Array(e);
		};
		expect(frame.update('d', update)).toEqual(expected((e) => syncProtocol.writeUpdate(e, update)));
		expect(frame.syncStep2('d', update)).toEqual(expected((e) => syncProtocol.writeSyncStep2(e, doc, new Uint8Array([0]))));
		expect(frame.syncStep1('d', Y.encodeStateVector(doc))).toEqual(expected((e) => syncProtocol.writeSyncStep1(e, doc)));
	});

	it('awareness updates are y-protocols’ encoding', () => {
		const doc = docWith(31);
		const awareness = new awarenessProtocol.Awareness(doc);
		awareness.setLocalState({ name: 'alice' });
		const real = awarenessProtocol.encodeAwarenessUpdate(awareness, [31]);
		expect(encodeAwareness([{ clientID: 31, clock: awareness.meta.get(31)!.clock, state: { name: 'alice' } }])).toEqual(real);
		expect(decodeAwareness(real)).toEqual([{ clientID: 31, clock: 1, state: { name: 'alice' } }]);
		awareness.destroy();
	});

	it('a real Hocuspocus server understands the raw frames: auth, step 1/2, update, awareness, stateless', async () => {
		const raw = await RawSocket.open(wsUrl);
		expect(await raw.auth('room', 'nope')).not.toBe('authenticated');
		const name = 'room-2';
		expect(await raw.auth(name, 'good')).toBe('authenticated');
		expect(tokens).toEqual(['nope', 'good']);
		const source = docWith(41);
		const recorded: Uint8Array[] = [];
		source.on('update', (u: Uint8Array) => recorded.push(u));
		source.getMap('messages').set(K1, value(K1, 'one'));
		source.getMap('messages').set(K2, value(K2, 'two'));
		expect(await raw.sendSync(name, frame.syncStep2(name, recorded[0]!))).toBe('acknowledged');
		expect(await raw.sendSync(name, frame.update(name, recorded[1]!))).toBe('acknowledged');
		const server = hocuspocus.documents.get(name)!;
		expect(server.getMap('messages').toJSON()).toEqual(source.getMap('messages').toJSON());
		const copy = new Y.Doc();
		Y.applyUpdate(copy, await raw.fetchState(name));
		expect(copy.getMap('messages').toJSON()).toEqual(source.getMap('messages').toJSON());

		await raw.send(frame.awareness(name, [{ clientID: 41, clock: 1, state: { name: 'raw' } }]));
		await until(() => server.awareness.getStates().get(41) !== undefined, 2000, 'the awareness state');
		expect(server.awareness.getStates().get(41)).toEqual({ name: 'raw' });
		// The server relays awareness to every connection of the document, the sender included.
		await until(() => raw.framesOf(name, 'awareness').some((f) => decodeAwareness(f.update).some((e) => e.clientID === 41)), 2000, 'the relay');

		const stateless: string[] = [];
		hocuspocus.configuration.extensions.push({ async onStateless({ payload }) { stateless.push(payload); } });
		await raw.send(frame.stateless(name, '{"hello":1}'));
		await until(() => stateless.length > 0, 2000, 'the stateless message');
		expect(stateless).toEqual(['{"hello":1}']);

		await raw.send(frame.close(name));
		await until(() => raw.closeReason(name) !== null, 2000, 'the close');
		raw.close();
	});
});
