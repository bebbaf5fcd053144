/**
 * Hostile frames for the fuzzer, all drawn from a seeded {@link Random}:
 * - random bytes, bare or behind a valid document name;
 * - valid frames (sync steps and updates, awareness, stateless, auth, queries) mutated by bit
 *   flips, byte changes, truncation, padding, varint corruption, cut-and-repeat and splicing;
 * - structure-aware Yjs updates (tests/utils/frames.ts `encodeUpdate`) built from what the real
 *   document holds: items with other users' or the server's clientIDs and clocks, origins and
 *   right origins into others' items, wrong roots and keys, every content type, message values
 *   with wrong authors, ids, bodies and times, GC and Skip structs, zero and huge lengths, and
 *   delete sets over others' items, unsorted or huge;
 * - updates an honest provider would send for the fuzzer's own device (edits, deletions, new
 *   messages), so accepted content is part of the mix.
 * When the conversation's epoch ends, the factory moves to the new epoch's document like a device
 * ({@link FrameFactory.moveTo}); frames kept from before still name the ended one.
 */
import * as encoding from 'lib0/encoding';
import * as Y from 'yjs';
import type { AttachmentRef } from '../../../src/lib/shared/protocol.ts';
import { frame, encodeUpdate, MessageType, type YBlock, type YContent, type YDeletes, type YId, type YStruct } from '../../utils/frames.ts';
import type { Random } from './random.ts';

/** What the fuzzer knows of a conversation document: whose clientIDs and which items exist. */
export interface DocumentModel {
	docName: string;
	/** The fuzzer's own user id, its bound clientID, and its message ids. */
	userId: string;
	ownClient: number;
	ownKeys: string[];
	/** Another member, whose clientID and messages the fuzzer must not touch. */
	victimId: string;
	victimClient: number;
	victimKeys: string[];
	/** The server's writer clientIDs (the `seq` map). */
	serverClients: number[];
	/** Every item id in the document, with the key it sits in. */
	items: Array<{ client: number; clock: number; length: number; key: string | null }>;
	/** Clock of each client in the document. */
	state: Map<number, number>;
	/** Uploads of the fuzzer's user (free, until a message takes one) and of the victim (ATTACH-2). */
	ownUploads?: AttachmentRef[];
	victimUploads?: AttachmentRef[];
}

export function modelOf(doc: Y.Doc, base: Omit<DocumentModel, 'serverClients' | 'items' | 'state'>): DocumentModel {
	const items: DocumentModel['items'] = [];
	const state = new Map<number, number>();
	const serverClients = new Set<number>();
	for (const [client, structs] of doc.store.clients) {
		state.set(client, Y.getState(doc.store, client));
		for (const struct of structs) {
			const key = struct instanceof Y.Item ? struct.parentSub : null;
			items.push({ client, clock: struct.id.clock, length: struct.length, key });
			if (struct instanceof Y.Item && (struct.parent as Y.AbstractType<unknown>) === doc.getMap('seq')) serverClients.add(client);
		}
	}
	return { ...base, serverClients: [...serverClients], items, state };
}

export type FrameKind = 'random-bytes' | 'named-random' | 'mutated' | 'spliced' | 'structured' | 'honest' | 'awareness' | 'stateless' | 'oversized';

export interface FuzzFrame {
	kind: FrameKind;
	data: Uint8Array;
}

const ROOTS = ['messages', 'seq', 'messages ', 'Messages', '', 'inbox', '__proto__', 'reactions'];

export class FrameFactory {
	/** Valid frames seen or made so far, the material for mutation and splicing. */
	readonly #corpus: Uint8Array[] = [];

	constructor(
		private readonly random: Random,
		private model: DocumentModel,
		/** The fuzzer's own device's document: honest updates come from it. */
		private own: Y.Doc
	) {}

	/**
	 * The epoch ended: frames go to `docName`, the new epoch's document, and honest updates come
	 * from `own`, the device's fresh document there (EPOCH-3). Message ids outlive epochs, so the
	 * known keys stay in play (an old message of the victim's must still be refused); items and
	 * clocks are the new document's. The server's clientIDs of ended epochs stay too: nobody holds
	 * them in the new document, so claiming one must be harmless. The corpus keeps frames naming
	 * the ended epoch, which the server must refuse.
	 */
	moveTo(docName: string, own: Y.Doc): void {
		const serverClients = this.model.serverClients;
		this.model = { ...modelOf(own, { ...this.model, docName, ownClient: own.clientID }), serverClients };
		this.own = own;
	}

	next(): FuzzFrame {
		const r = this.random;
		const kind = r.weighted<FrameKind>([
			[3, 'random-bytes'],
			[6, 'named-random'],
			[30, 'mutated'],
			[6, 'spliced'],
			[35, 'structured'],
			[6, 'honest'],
			[7, 'awareness'],
			[7, 'stateless'],
			[0.002, 'oversized']
		]);
		switch (kind) {
			case 'random-bytes':
				return { kind, data: r.bytes(r.int(0, 64)) };
			case 'named-random':
				return { kind, data: concat(nameOf(this.model.docName), r.bytes(r.int(0, 96))) };
			case 'mutated':
				return { kind, data: this.#mutate(this.#validFrame()) };
			case 'spliced': {
				const a = this.#validFrame();
				const b = this.#validFrame();
				return { kind, data: concat(a.subarray(0, r.int(0, a.length)), b.subarray(r.int(0, b.length))) };
			}
			case 'structured':
				return { kind, data: this.#remember(this.#syncFrame(this.structuredUpdate())) };
			case 'honest':
				return { kind, data: this.#remember(this.#syncFrame(this.#honestUpdate())) };
			case 'awareness':
				return { kind, data: this.#remember(this.#awareness()) };
			case 'stateless':
				return { kind, data: this.#remember(this.#stateless()) };
			case 'oversized':
				return { kind, data: concat(nameOf(this.model.docName), r.bytes(1024 * 1024 + r.int(1, 4096))) };
		}
	}

	#remember(data: Uint8Array): Uint8Array {
		if (this.#corpus.length < 256) this.#corpus.push(data);
		else this.#corpus[this.random.int(0, 255)] = data;
		return data;
	}

	#validFrame(): Uint8Array {
		const r = this.random;
		if (this.#corpus.length > 0 && r.chance(0.6)) return r.pick(this.#corpus);
		const name = this.model.docName;
		return r.weighted<() => Uint8Array>([
			[4, () => this.#syncFrame(this.structuredUpdate())],
			[2, () => this.#syncFrame(Y.encodeStateAsUpdate(this.own))],
			[1, () => frame.syncStep1(name, Y.encodeStateVector(this.own))],
			[2, () => this.#awareness()],
			[2, () => this.#stateless()],
			[1, () => frame.auth(name, 'x'.repeat(r.int(0, 40)))],
			[1, () => withType(name, MessageType.QueryAwareness)],
			[1, () => withType(name, MessageType.BroadcastStateless, (e) => encoding.writeVarString(e, '{"type":"typing"}'))],
			[1, () => frame.close(name)],
			[1, () => withType(name, MessageType.SyncStatus, (e) => encoding.writeVarUint(e, 1))]
		])();
	}

	#syncFrame(update: Uint8Array): Uint8Array {
		const name = this.model.docName;
		return this.random.chance(0.7) ? frame.update(name, update) : frame.syncStep2(name, update);
	}

	#mutate(input: Uint8Array): Uint8Array {
		const r = this.random;
		let data: Uint8Array = new Uint8Array(input);
		const rounds = r.int(1, 3);
		for (let i = 0; i < rounds; i++) {
			// Past the document name most of the time, so the mutation reaches the document.
			const headerEnd = Math.min(data.length, nameOf(this.model.docName).length);
			const at = () => (data.length === 0 ? 0 : r.chance(0.9) && data.length > headerEnd ? r.int(headerEnd, data.length - 1) : r.int(0, data.length - 1));
			const op = r.int(0, 7);
			if (data.length === 0) {
				data = r.bytes(r.int(1, 16));
			} else if (op === 0) {
				const p = at();
				data[p] = data[p]! ^ (1 << r.int(0, 7));
			} else if (op === 1) {
				data[at()] = r.pick([0, 1, 0x7f, 0x80, 0xff, r.int(0, 255)]);
			} else if (op === 2) {
				data = data.slice(0, at());
			} else if (op === 3) {
				data = concat(data, r.bytes(r.int(1, 32)));
			} else if (op === 4) {
				// A varint that never ends, or one that claims a huge length or count.
				const p = at();
				const run = r.pick([[0xff, 0xff, 0xff, 0xff, 0x0f], [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], [0xff], [0xff, 0xff, 0xff, 0x7f]]);
				data = concat(data.slice(0, p), Uint8Array.from(run), data.slice(p + (r.chance(0.5) ? 1 : 0)));
			} else if (op === 5) {
				// Repeat a slice (one clientID in two blocks, a struct twice, a delete set twice).
				const p = at();
				const q = r.int(p, data.length);
				data = concat(data.slice(0, q), data.slice(p, q), data.slice(q));
			} else if (op === 6) {
				const p = at();
				data = concat(data.slice(0, p), data.slice(Math.min(data.length, p + r.int(1, 8))));
			} else {
				const p = at();
				data = concat(data.slice(0, p), r.bytes(r.int(1, 8)), data.slice(p));
			}
		}
		return data;
	}

	/** A client id: the fuzzer's own, the victim's, the server's, fresh, or odd. */
	#client(): number {
		const r = this.random;
		const m = this.model;
		return r.weighted<() => number>([
			[5, () => m.ownClient],
			[4, () => m.victimClient],
			[2, () => (m.serverClients.length ? r.pick(m.serverClients) : 0)],
			[3, () => r.next()],
			[1, () => r.pick([0, 1, 2 ** 31, 2 ** 32 - 1])]
		])();
	}

	#clock(client: number): number {
		const r = this.random;
		const known = this.model.state.get(client) ?? 0;
		return r.weighted<number>([
			[6, known],
			[2, Math.max(0, known - r.int(1, 3))],
			[2, known + r.int(1, 5)],
			[1, 0],
			[1, r.int(0, 2 ** 31)]
		]);
	}

	#knownId(): YId {
		const r = this.random;
		const items = this.model.items;
		if (items.length === 0 || r.chance(0.1)) return { client: this.#client(), clock: r.int(0, 50) };
		const item = r.pick(items);
		return { client: item.client, clock: item.clock + r.int(0, Math.max(0, item.length - 1)) + (r.chance(0.1) ? item.length : 0) };
	}

	#key(): string {
		const r = this.random;
		const m = this.model;
		return r.weighted<() => string>([
			[4, () => (m.ownKeys.length ? r.pick(m.ownKeys) : r.ulid())],
			[4, () => (m.victimKeys.length ? r.pick(m.victimKeys) : r.ulid())],
			[4, () => r.ulid()],
			[1, () => r.pick(['', 'x', '__proto__', 'constructor', 'a'.repeat(300), '0'])]
		])();
	}

	#value(key: string): unknown {
		const r = this.random;
		const m = this.model;
		const base = { id: key, author: m.userId, body: 'fuzz', createdAt: Date.now() };
		return r.weighted<() => unknown>([
			[4, () => base],
			[3, () => ({ ...base, author: m.victimId })],
			[2, () => ({ ...base, id: r.ulid() })],
			[2, () => ({ ...base, body: r.pick(['', '   ', ' padded ', 'x'.repeat(2001), 42, null]) })],
			[2, () => ({ ...base, createdAt: r.pick([0, -1, 1e20, 1.5, Date.now() + 3 * 86_400_000, '2024', null]) })],
			[1, () => ({ ...base, editedAt: r.pick([0, 'soon', Date.now()]) })],
			[1, () => ({ ...base, event: { type: 'renamed', title: 'owned' } })],
			[1, () => ({ ...base, extra: { nested: [1, 2, 3] } })],
			[1, () => r.pick([null, 0, 'text', [], [base], true])],
			[1, () => ({ ...base, author: undefined })],
			[3, () => ({ ...base, attachments: this.#attachments() })]
		])();
	}

	/** Attachments (ATTACH-2): its own uploads (free or already taken), the victim's, unknown, tampered or malformed. */
	#attachments(): unknown {
		const r = this.random;
		const own = this.model.ownUploads ?? [];
		const victims = this.model.victimUploads ?? [];
		const unknown = { id: r.ulid(), name: 'x.bin', type: 'application/octet-stream', size: 10 };
		const mine = own.length ? r.pick(own) : unknown;
		return r.weighted<() => unknown>([
			[4, () => [mine]],
			[2, () => [victims.length ? r.pick(victims) : unknown]],
			[2, () => [unknown]],
			[1, () => [{ ...mine, size: mine.size + 1 }]],
			[1, () => [{ ...mine, type: 'image/png', width: 10, height: 10 }]],
			[1, () => [mine, mine]],
			[1, () => r.pick([[], Array.from({ length: 11 }, () => mine), 'x', { id: mine.id }, [mine.id], null])]
		])();
	}

	#content(key: string): YContent {
		const r = this.random;
		return r.weighted<() => YContent>([
			[10, () => ({ any: [this.#value(key)] })],
			[2, () => ({ any: [this.#value(key), this.#value(key)] })],
			[3, () => ({ deleted: r.pick([1, 1, 2, 0, r.int(1, 1000), 2 ** 31]) })],
			[1, () => ({ string: r.pick(['hi', '', 'x'.repeat(r.int(1, 300))]) })],
			[1, () => ({ json: [this.#value(key)] })],
			[1, () => ({ binary: r.bytes(r.int(0, 16)) })],
			[1, () => ({ type: r.int(0, 6) })],
			[1, () => ({ any: [] })]
		])();
	}

	/** A key of the reactions map (REACT-1, REACT-2): mine, the victim's, forged or malformed, on messages that exist or not. */
	#reactionKey(): string {
		const r = this.random;
		const m = this.model;
		const message = r.weighted<() => string>([
			[3, () => (m.ownKeys.length ? r.pick(m.ownKeys) : r.ulid())],
			[3, () => (m.victimKeys.length ? r.pick(m.victimKeys) : r.ulid())],
			[1, () => r.ulid()],
			[1, () => r.pick(['', 'x', 'reactions:'])]
		])();
		const user = r.weighted<() => string>([
			[4, () => m.userId],
			[3, () => m.victimId],
			[1, () => r.pick(['', 'x', r.ulid(), `${m.userId}/x`])]
		])();
		return r.chance(0.1) ? `reactions:${message}/${user}` : `${message}/${user}`;
	}

	#reactionValue(): unknown {
		const r = this.random;
		return r.weighted<() => unknown>([
			[4, () => ['👍']],
			[2, () => ['👍', '❤️', '😂'].slice(0, r.int(0, 3))],
			[1, () => ['👍', '👍']],
			[1, () => Array.from({ length: 9 }, (_, i) => String.fromCodePoint(0x1f600 + i))],
			[1, () => r.pick(['ok', 'x'.repeat(40), '👍'.repeat(20), 42, null])],
			[1, () => [r.pick(['ok', '', 'x'.repeat(40), 42, null, { a: 1 }])]],
			[1, () => ({ emoji: '👍' })]
		])();
	}

	#struct(): YStruct {
		const r = this.random;
		if (r.chance(0.06)) {
			// The reactions map: a map value like a message's, checked by its own rules.
			const key = this.#reactionKey();
			const item: YContent = r.chance(0.85) ? { any: [this.#reactionValue()] } : { deleted: 1 };
			return r.chance(0.8) ? { item, parent: 'reactions', parentSub: key } : { item, parent: 'messages', parentSub: key };
		}
		const key = this.#key();
		const content = this.#content(key);
		return r.weighted<() => YStruct>([
			[8, () => ({ item: content, parent: r.chance(0.85) ? 'messages' : r.pick(ROOTS), parentSub: key })],
			[5, () => ({ item: content, origin: this.#knownId(), inMap: r.chance(0.8) })],
			[2, () => ({ item: content, origin: this.#knownId(), rightOrigin: this.#knownId() })],
			[1, () => ({ item: content, rightOrigin: this.#knownId() })],
			[1, () => ({ item: content, parent: this.#knownId(), parentSub: r.chance(0.5) ? key : undefined })],
			[1, () => ({ item: content, parent: r.pick(ROOTS) })],
			[1, () => ({ gc: r.pick([0, 1, r.int(2, 100), 2 ** 31]) })],
			[1, () => ({ skip: r.pick([0, 1, r.int(2, 100)]) })]
		])();
	}

	/** A structure-aware update (also used on its own by tests of the guard). */
	structuredUpdate(): Uint8Array {
		const r = this.random;
		const blocks: YBlock[] = [];
		const blockCount = r.weighted([
			[1, 0],
			[6, 1],
			[2, 2],
			[1, 3]
		] as const);
		for (let b = 0; b < blockCount; b++) {
			const client = r.chance(0.08) && blocks.length ? blocks[0]!.client : this.#client();
			blocks.push({ client, clock: this.#clock(client), structs: Array.from({ length: r.int(r.chance(0.05) ? 0 : 1, 4) }, () => this.#struct()) });
		}
		const deletes: YDeletes[] = [];
		const deleteCount = r.weighted([
			[5, 0],
			[4, 1],
			[1, 2]
		] as const);
		for (let d = 0; d < deleteCount; d++) {
			const target = this.#knownId();
			const ranges: Array<[number, number]> = [];
			for (let i = r.int(r.chance(0.05) ? 0 : 1, 3); i > 0; i--) {
				ranges.push(r.chance(0.7) ? [target.clock, r.pick([1, 1, 2, 0, r.int(1, 50), 2 ** 31])] : [r.int(0, 1000), r.int(0, 1000)]);
			}
			deletes.push({ client: r.chance(0.8) ? target.client : this.#client(), ranges });
		}
		try {
			return encodeUpdate(blocks, deletes);
		} catch {
			// A shape the encoder cannot write (an item with neither neighbours nor parent): send its blocks without it.
			return encodeUpdate([], deletes);
		}
	}

	/** What a stock provider would send for the fuzzer's own device: a new message, an edit or a deletion. */
	#honestUpdate(): Uint8Array {
		const r = this.random;
		const messages = this.own.getMap<Record<string, unknown>>('messages');
		let update: Uint8Array = new Uint8Array([0, 0]);
		const capture = (u: Uint8Array) => (update = u);
		this.own.on('update', capture);
		try {
			const own = [...messages.keys()];
			const choice = own.length === 0 ? 0 : r.int(0, 3);
			if (choice === 0 || own.length > 200) {
				const id = r.ulid();
				messages.set(id, { id, author: this.model.userId, body: `honest ${id.slice(-4)}`, createdAt: Date.now() });
				this.model.ownKeys.push(id);
			} else if (choice === 1) {
				const id = r.pick(own);
				const value = messages.get(id)!;
				messages.set(id, { ...value, body: `edited ${r.int(0, 999)}`, editedAt: Date.now() });
			} else if (choice === 2) {
				messages.delete(r.pick(own));
			} else {
				// A reaction of the fuzzer's user to one of its messages still there.
				const live = own.filter((id) => messages.has(id));
				if (live.length > 0) this.own.getMap<string[]>('reactions').set(`${r.pick(live)}/${this.model.userId}`, ['👍', '🎉'].slice(0, r.int(0, 2)));
				else {
					const id = r.ulid();
					messages.set(id, { author: this.model.userId, body: 'honest', createdAt: Date.now() });
					this.model.ownKeys.push(id);
				}
			}
		} finally {
			this.own.off('update', capture);
		}
		return update;
	}

	#awareness(): Uint8Array {
		const r = this.random;
		const m = this.model;
		const entries = Array.from({ length: r.int(0, 6) }, () => ({
			clientID: r.weighted<() => number>([
				[3, () => m.ownClient],
				[3, () => m.victimClient],
				[3, () => r.next()]
			])(),
			clock: r.int(0, 2 ** 31),
			state: r.weighted<() => unknown>([
				[3, () => ({ user: { name: 'fuzz' } })],
				[2, () => null],
				[1, () => ({ big: 'x'.repeat(r.int(1000, 5000)) })],
				[1, () => r.pick([0, 'a', [], true])]
			])()
		}));
		return frame.awareness(m.docName, entries);
	}

	#stateless(): Uint8Array {
		const r = this.random;
		const m = this.model;
		const payload = r.weighted<() => string>([
			[3, () => JSON.stringify({ type: 'typing', active: r.chance(0.5) })],
			[3, () => JSON.stringify({ type: 'receipt', userId: r.pick([m.userId, m.victimId, 'nobody']), deliveredSeq: r.int(0, 1e6), readSeq: r.int(-5, 1e6) })],
			[1, () => JSON.stringify({ type: 'receipt', conversationId: r.ulid(), readSeq: 1 })],
			[2, () => JSON.stringify({ type: r.pick(['update-refused', 'inbox', 'presence', '__proto__']), v: 1 })],
			[2, () => String.fromCharCode(...r.bytes(r.int(0, 40)))],
			[1, () => '{"type":"receipt","readSeq":' + '9'.repeat(r.int(10, 400)) + '}']
		])();
		return frame.stateless(m.docName, payload);
	}
}

function withType(docName: string, type: number, write?: (e: encoding.Encoder) => void): Uint8Array {
	const e = encoding.createEncoder();
	encoding.writeVarString(e, docName);
	encoding.writeVarUint(e, type);
	write?.(e);
	return encoding.toUint8Array(e);
}

function nameOf(docName: string): Uint8Array {
	const e = encoding.createEncoder();
	encoding.writeVarString(e, docName);
	return encoding.toUint8Array(e);
}

function concat(...parts: Uint8Array[]): Uint8Array {
	const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
	let offset = 0;
	for (const part of parts) {
		out.set(part, offset);
		offset += part.length;
	}
	return out;
}
