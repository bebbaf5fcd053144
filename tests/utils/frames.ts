/**
 * Hand-made Yjs updates and raw Hocuspocus frames, for what a well-behaved provider never sends.
 *
 * - `encodeUpdate` writes a Yjs update in the V1 format (UpdateEncoderV1: lib0 varUints, one
 *   block of structs per entry, then the delete set), with no checks of its own: zero-length
 *   structs, one clientID in several blocks, GC structs, arbitrary origins and delete ranges are
 *   all written as given.
 * - `frame.*` builds the frames a Hocuspocus 3.x provider sends (document name, message type, ...).
 * - `decodeServerFrame` reads what the server sends back; `RawSocket` is a WebSocket that speaks
 *   these frames and records every answer.
 *
 * tests/unit/frames.test.ts checks these encoders against Yjs, y-protocols and the provider.
 */
import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';
import WebSocket from 'ws';

// ---------------------------------------------------------------------------------------------
// Yjs updates (V1)

export type YId = { client: number; clock: number };

/** Item content, by Yjs content ref. */
export type YContent =
	/** ContentAny (ref 8): plain JSON-ish values, one clock each. */
	| { any: unknown[] }
	/** ContentDeleted (ref 1): `n` deleted clocks, no content. */
	| { deleted: number }
	/** ContentString (ref 4). */
	| { string: string }
	/** ContentJSON (ref 2). */
	| { json: unknown[] }
	/** ContentBinary (ref 3). */
	| { binary: Uint8Array }
	/** ContentType (ref 7): a nested type; 0 YArray, 1 YMap, 2 YText. */
	| { type: number };

export type YStruct =
	/** A GC struct (ref 0) of `gc` clocks. */
	| { gc: number }
	/** A Skip struct (ref 10) of `skip` clocks. */
	| { skip: number }
	/**
	 * An Item. With neither `origin` nor `rightOrigin`, `parent` (a root name or the id of the parent
	 * item) and `parentSub` (the map key) are written; otherwise Yjs copies them from the neighbour and
	 * they must be left out.
	 */
	| {
			item: YContent;
			origin?: YId;
			rightOrigin?: YId;
			parent?: string | YId;
			parentSub?: string;
			/**
			 * With an origin: set the parentSub bit without writing a key, as Yjs does for a map value
			 * (the decoder ignores it there; it only keeps the bytes identical to Yjs's).
			 */
			inMap?: boolean;
	  };

export interface YBlock {
	client: number;
	/** Clock of the block's first struct. */
	clock: number;
	structs: YStruct[];
}

export interface YDeletes {
	client: number;
	/** [clock, length] pairs, written as given (Yjs writes them sorted and merged). */
	ranges: Array<[number, number]>;
}

function contentRef(content: YContent): number {
	if ('any' in content) return 8;
	if ('deleted' in content) return 1;
	if ('string' in content) return 4;
	if ('json' in content) return 2;
	if ('binary' in content) return 3;
	return 7;
}

function writeContent(e: encoding.Encoder, content: YContent): void {
	if ('any' in content) {
		encoding.writeVarUint(e, content.any.length);
		for (const value of content.any) encoding.writeAny(e, value as never);
	} else if ('deleted' in content) {
		encoding.writeVarUint(e, content.deleted);
	} else if ('string' in content) {
		encoding.writeVarString(e, content.string);
	} else if ('json' in content) {
		encoding.writeVarUint(e, content.json.length);
		for (const value of content.json) encoding.writeVarString(e, value === undefined ? 'undefined' : JSON.stringify(value));
	} else if ('binary' in content) {
		encoding.writeVarUint8Array(e, content.binary);
	} else {
		encoding.writeVarUint(e, content.type);
	}
}

function writeStruct(e: encoding.Encoder, struct: YStruct): void {
	if ('gc' in struct) {
		encoding.writeUint8(e, 0);
		encoding.writeVarUint(e, struct.gc);
		return;
	}
	if ('skip' in struct) {
		encoding.writeUint8(e, 10);
		encoding.writeVarUint(e, struct.skip);
		return;
	}
	const { item, origin, rightOrigin, parent, parentSub, inMap } = struct;
	const info = contentRef(item) | (origin ? 0x80 : 0) | (rightOrigin ? 0x40 : 0) | (parentSub !== undefined || inMap ? 0x20 : 0);
	encoding.writeUint8(e, info);
	if (origin) {
		encoding.writeVarUint(e, origin.client);
		encoding.writeVarUint(e, origin.clock);
	}
	if (rightOrigin) {
		encoding.writeVarUint(e, rightOrigin.client);
		encoding.writeVarUint(e, rightOrigin.clock);
	}
	if (!origin && !rightOrigin) {
		if (parent === undefined) throw new Error('an item without neighbours needs a parent');
		if (typeof parent === 'string') {
			encoding.writeVarUint(e, 1);
			encoding.writeVarString(e, parent);
		} else {
			encoding.writeVarUint(e, 0);
			encoding.writeVarUint(e, parent.client);
			encoding.writeVarUint(e, parent.clock);
		}
		if (parentSub !== undefined) encoding.writeVarString(e, parentSub);
	} else if (parent !== undefined || parentSub !== undefined) {
		throw new Error('an item with an origin inherits its parent: leave parent and parentSub out');
	}
	writeContent(e, item);
}

/** A Yjs V1 update, exactly as described: blocks in the given order, then the delete set. */
export function encodeUpdate(blocks: YBlock[], deletes: YDeletes[] = []): Uint8Array {
	const e = encoding.createEncoder();
	encoding.writeVarUint(e, blocks.length);
	for (const block of blocks) {
		encoding.writeVarUint(e, block.structs.length);
		encoding.writeVarUint(e, block.client);
		encoding.writeVarUint(e, block.clock);
		for (const struct of block.structs) writeStruct(e, struct);
	}
	encoding.writeVarUint(e, deletes.length);
	for (const { client, ranges } of deletes) {
		encoding.writeVarUint(e, client);
		encoding.writeVarUint(e, ranges.length);
		for (const [clock, len] of ranges) {
			encoding.writeVarUint(e, clock);
			encoding.writeVarUint(e, len);
		}
	}
	return encoding.toUint8Array(e);
}

/** A new key of the `messages` map holding one plain value. */
export function newKey(key: string, value: unknown, root = 'messages'): YStruct {
	return { item: { any: [value] }, parent: root, parentSub: key };
}

/** A map value placed after `origin`: the value that replaces the one at `origin`, in the same key. */
export function after(origin: YId, content: YContent): YStruct {
	return { item: content, origin, inMap: true };
}

// ---------------------------------------------------------------------------------------------
// Hocuspocus frames (client → server)

export const MessageType = {
	Sync: 0,
	Awareness: 1,
	Auth: 2,
	QueryAwareness: 3,
	SyncReply: 4,
	Stateless: 5,
	BroadcastStateless: 6,
	Close: 7,
	SyncStatus: 8
} as const;

export const SyncStep = { Step1: 0, Step2: 1, Update: 2 } as const;

export interface AwarenessEntry {
	clientID: number;
	clock: number;
	/** Any JSON value; null removes the entry. */
	state: unknown;
}

function withName(documentName: string, write: (e: encoding.Encoder) => void): Uint8Array {
	const e = encoding.createEncoder();
	encoding.writeVarString(e, documentName);
	write(e);
	return encoding.toUint8Array(e);
}

/** The awareness update format of y-protocols: count, then clientID, clock, JSON state. */
export function encodeAwareness(entries: AwarenessEntry[]): Uint8Array {
	const e = encoding.createEncoder();
	encoding.writeVarUint(e, entries.length);
	for (const { clientID, clock, state } of entries) {
		encoding.writeVarUint(e, clientID);
		encoding.writeVarUint(e, clock);
		encoding.writeVarString(e, JSON.stringify(state));
	}
	return encoding.toUint8Array(e);
}

export const frame = {
	/** Auth: type 2, token submessage (0), the token. */
	auth: (doc: string, token: string) =>
		withName(doc, (e) => {
			encoding.writeVarUint(e, MessageType.Auth);
			encoding.writeVarUint(e, 0);
			encoding.writeVarString(e, token);
		}),
	/** Sync step 1 with a state vector (default: the empty one, i.e. "send me everything"). */
	syncStep1: (doc: string, stateVector: Uint8Array = new Uint8Array([0])) =>
		withName(doc, (e) => {
			encoding.writeVarUint(e, MessageType.Sync);
			encoding.writeVarUint(e, SyncStep.Step1);
			encoding.writeVarUint8Array(e, stateVector);
		}),
	/** Sync step 2: the reply to the server's step 1 (a provider's "everything you are missing"). */
	syncStep2: (doc: string, update: Uint8Array) =>
		withName(doc, (e) => {
			encoding.writeVarUint(e, MessageType.Sync);
			encoding.writeVarUint(e, SyncStep.Step2);
			encoding.writeVarUint8Array(e, update);
		}),
	/** Sync update: one local transaction, as a provider sends it. */
	update: (doc: string, update: Uint8Array) =>
		withName(doc, (e) => {
			encoding.writeVarUint(e, MessageType.Sync);
			encoding.writeVarUint(e, SyncStep.Update);
			encoding.writeVarUint8Array(e, update);
		}),
	awareness: (doc: string, entries: AwarenessEntry[]) =>
		withName(doc, (e) => {
			encoding.writeVarUint(e, MessageType.Awareness);
			encoding.writeVarUint8Array(e, encodeAwareness(entries));
		}),
	stateless: (doc: string, payload: string) =>
		withName(doc, (e) => {
			encoding.writeVarUint(e, MessageType.Stateless);
			encoding.writeVarString(e, payload);
		}),
	close: (doc: string) => withName(doc, (e) => encoding.writeVarUint(e, MessageType.Close))
};

// ---------------------------------------------------------------------------------------------
// Server → client frames

export type ServerFrame =
	| { doc: string; kind: 'authenticated'; scope: string }
	| { doc: string; kind: 'permission-denied'; reason: string }
	| { doc: string; kind: 'token-request' }
	| { doc: string; kind: 'sync'; step: number; payload: Uint8Array }
	| { doc: string; kind: 'awareness'; update: Uint8Array; bytes: number }
	| { doc: string; kind: 'stateless'; payload: string }
	| { doc: string; kind: 'close'; reason: string }
	| { doc: string; kind: 'sync-status'; saved: boolean }
	| { doc: string; kind: 'other'; type: number };

export function decodeServerFrame(data: Uint8Array): ServerFrame {
	const d = decoding.createDecoder(data);
	const doc = decoding.readVarString(d);
	const type = decoding.readVarUint(d);
	switch (type) {
		case MessageType.Auth: {
			const sub = decoding.readVarUint(d);
			if (sub === 2) return { doc, kind: 'authenticated', scope: decoding.readVarString(d) };
			if (sub === 1) return { doc, kind: 'permission-denied', reason: decoding.readVarString(d) };
			return { doc, kind: 'token-request' };
		}
		case MessageType.Sync:
		case MessageType.SyncReply: {
			const step = decoding.readVarUint(d);
			return { doc, kind: 'sync', step, payload: decoding.readVarUint8Array(d) };
		}
		case MessageType.Awareness:
			return { doc, kind: 'awareness', update: decoding.readVarUint8Array(d), bytes: data.byteLength };
		case MessageType.Stateless:
			return { doc, kind: 'stateless', payload: decoding.readVarString(d) };
		case MessageType.Close:
			return { doc, kind: 'close', reason: decoding.readVarString(d) };
		case MessageType.SyncStatus:
			return { doc, kind: 'sync-status', saved: decoding.readVarUint(d) === 1 };
		default:
			return { doc, kind: 'other', type };
	}
}

/** The entries of a y-protocols awareness update. */
export function decodeAwareness(update: Uint8Array): AwarenessEntry[] {
	const d = decoding.createDecoder(update);
	const count = decoding.readVarUint(d);
	const entries: AwarenessEntry[] = [];
	for (let i = 0; i < count; i++) {
		const clientID = decoding.readVarUint(d);
		const clock = decoding.readVarUint(d);
		entries.push({ clientID, clock, state: JSON.parse(decoding.readVarString(d)) });
	}
	return entries;
}

// ---------------------------------------------------------------------------------------------
// A raw socket

export async function until(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
	const start = Date.now();
	while (!check()) {
		if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A WebSocket speaking raw Hocuspocus frames; it records everything the server sends. */
export class RawSocket {
	readonly received: ServerFrame[] = [];
	closedWith: { code: number; reason: string } | null = null;
	readonly closed: Promise<{ code: number; reason: string }>;

	private constructor(readonly ws: WebSocket) {
		this.closed = new Promise((resolve) =>
			ws.once('close', (code, reason) => {
				this.closedWith = { code, reason: reason.toString() };
				resolve(this.closedWith);
			})
		);
		ws.on('message', (data: Buffer) => {
			try {
				this.received.push(decodeServerFrame(new Uint8Array(data)));
			} catch {
				this.received.push({ doc: '', kind: 'other', type: -1 });
			}
		});
		ws.on('error', () => {});
	}

	static open(wsUrl: string, headers: Record<string, string> = {}): Promise<RawSocket> {
		const ws = new WebSocket(wsUrl, { headers });
		return new Promise((resolve, reject) => {
			ws.once('open', () => resolve(new RawSocket(ws)));
			ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
			ws.once('error', reject);
		});
	}

	get isOpen(): boolean {
		return this.ws.readyState === WebSocket.OPEN;
	}

	/** Sends a frame; resolves once it is written to the socket (or the socket is gone). */
	send(data: Uint8Array): Promise<void> {
		if (this.ws.readyState !== WebSocket.OPEN) return Promise.resolve();
		return new Promise((resolve) => this.ws.send(data, () => resolve()));
	}

	framesOf<K extends ServerFrame['kind']>(doc: string, kind: K): Array<Extract<ServerFrame, { kind: K }>> {
		return this.received.filter((f): f is Extract<ServerFrame, { kind: K }> => f.doc === doc && f.kind === kind);
	}

	/** Authenticates a document and waits for the answer: 'authenticated' or the refusal reason. */
	async auth(doc: string, token: string): Promise<string> {
		const before = this.received.length;
		await this.send(frame.auth(doc, token));
		const answer = () =>
			this.received.slice(before).find((f) => f.doc === doc && (f.kind === 'authenticated' || f.kind === 'permission-denied'));
		await until(() => answer() !== undefined || this.closedWith !== null, 5000, `the auth reply for ${doc}`);
		const reply = answer();
		if (!reply) return `socket closed ${this.closedWith?.code}`;
		return reply.kind === 'authenticated' ? 'authenticated' : (reply as { reason: string }).reason;
	}

	/**
	 * Asks for the server's copy (sync step 1 with the given state vector) and waits for the
	 * server's step 2 reply; returns its update.
	 */
	async fetchState(doc: string, stateVector?: Uint8Array): Promise<Uint8Array> {
		const before = this.framesOf(doc, 'sync').filter((f) => f.step === SyncStep.Step2).length;
		await this.send(frame.syncStep1(doc, stateVector));
		await until(() => this.framesOf(doc, 'sync').filter((f) => f.step === SyncStep.Step2).length > before, 5000, 'the sync step 2 reply');
		return this.framesOf(doc, 'sync').filter((f) => f.step === SyncStep.Step2).at(-1)!.payload;
	}

	closeReason(doc: string): string | null {
		return this.framesOf(doc, 'close')[0]?.reason ?? null;
	}

	/** Stateless payloads the server sent on `doc`, parsed. */
	stateless(doc: string): Array<Record<string, unknown>> {
		return this.framesOf(doc, 'stateless').map((f) => {
			try {
				return JSON.parse(f.payload) as Record<string, unknown>;
			} catch {
				return { raw: f.payload };
			}
		});
	}

	refusals(doc: string): Array<{ code: string; messageIds: string[] }> {
		return this.stateless(doc).filter((s) => s.type === 'update-refused') as never;
	}

	acks(doc: string): number {
		return this.framesOf(doc, 'sync-status').length;
	}

	/**
	 * Sends a sync frame (update or step 2) and waits until the server has answered it: a SyncStatus
	 * acknowledgement, or a CLOSE for the document, or the socket closing.
	 */
	async sendSync(doc: string, data: Uint8Array, timeoutMs = 5000): Promise<'acknowledged' | 'closed'> {
		const acks = this.acks(doc);
		await this.send(data);
		await until(() => this.acks(doc) > acks || this.closeReason(doc) !== null || this.closedWith !== null, timeoutMs, 'an answer to the update');
		return this.acks(doc) > acks ? 'acknowledged' : 'closed';
	}

	close(): void {
		this.ws.terminate();
	}
}
