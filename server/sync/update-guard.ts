import * as Y from 'yjs';
import { checkMessageBody, isMessageId } from '../../src/lib/shared/limits.ts';
import {
	DOC_MESSAGES,
	RefusalCode,
	type MessageValue,
	type RefusalCode as RefusalCodeType
} from '../../src/lib/shared/protocol.ts';

/** Owner of each Yjs clientID in one document: a user id, or null for the server itself. */
export type ClientOwners = Map<number, string | null>;

export interface UpdateEffects {
	/** Messages whose newest value this update sets (new or edited), by id. */
	upserts: Map<string, MessageValue>;
	/** Message ids this update deletes outright. */
	deletions: Set<string>;
	/** ClientIDs used for the first time here; they become the user's. */
	newClients: Set<number>;
	/** False when every struct and deletion was already known: nothing to store. */
	hasNewContent: boolean;
}

export type Inspection =
	| ({ ok: true } & UpdateEffects)
	| { ok: false; code: RefusalCodeType; message: string; messageIds: string[] };

class Refusal extends Error {
	constructor(
		readonly code: RefusalCodeType,
		message: string,
		readonly messageId?: string
	) {
		super(message);
	}
}

/** Where an item sits: root map name and key. */
interface Place {
	root: string;
	key: string | null;
	client: number;
}

interface Range extends Place {
	start: number;
	end: number;
}

const STRUCT_RANGES_LIMIT = 100_000;
const DELETE_RANGES_LIMIT = 10_000;

/**
 * What updates already checked in the same batch, but not yet applied to the document, add to
 * it: later updates of the batch may build on them.
 */
export class PendingChanges {
	/** Next clock per clientID after the pending updates. */
	readonly nextClock = new Map<number, number>();
	readonly ranges = new Map<number, Range[]>();
	/** ClientIDs first used by a pending update, and by whom. */
	readonly owners = new Map<number, string>();
	/** Message key → clientID that wrote its newest pending value. */
	readonly keyClients = new Map<string, number>();

	absorb(other: PendingChanges): void {
		for (const [client, clock] of other.nextClock) this.nextClock.set(client, clock);
		for (const [client, list] of other.ranges) this.ranges.set(client, [...(this.ranges.get(client) ?? []), ...list]);
		for (const [client, owner] of other.owners) this.owners.set(client, owner);
		for (const [key, client] of other.keyClients) this.keyClients.set(key, client);
	}
}

/**
 * Decides whether `userId` may apply `update` to `doc` (plus the `pending` updates of its batch),
 * before anything is applied or stored. Clients may only add, replace or delete their own keys in
 * the `messages` map, with plain JSON values authored by themselves; everything else is refused.
 * Work is proportional to the update, not to the document. On success `pending` grows by this update.
 */
export function inspectUpdate(
	doc: Y.Doc,
	update: Uint8Array,
	userId: string,
	owners: ClientOwners,
	pending = new PendingChanges(),
	/** The author the server has on record for a message id (the flattened table), if any. */
	storedAuthorOf: (key: string) => string | undefined = () => undefined
): Inspection {
	const seenIds = new Set<string>();
	const local = new PendingChanges();
	try {
		const effects = collectEffects(new View(doc, owners, pending, local, userId, storedAuthorOf), update, seenIds);
		pending.absorb(local);
		return { ok: true, ...effects };
	} catch (error) {
		if (error instanceof Refusal) {
			// Name the message at fault; when the fault is not one message's, every message the update carried.
			const messageIds = error.messageId ? [error.messageId] : [...seenIds];
			return { ok: false, code: error.code, message: error.message, messageIds };
		}
		return { ok: false, code: RefusalCode.InvalidMessage, message: 'the update could not be decoded', messageIds: [] };
	}
}

/** The document as this update sees it: stored state, then pending updates, then this one. */
class View {
	readonly store: Y.Doc['store'];
	readonly messages: Y.Map<unknown>;

	constructor(
		doc: Y.Doc,
		readonly owners: ClientOwners,
		readonly pending: PendingChanges,
		readonly local: PendingChanges,
		readonly userId: string,
		readonly storedAuthorOf: (key: string) => string | undefined
	) {
		this.store = doc.store;
		this.messages = doc.getMap(DOC_MESSAGES);
	}

	/** Clock after the document and the pending updates, before this one. */
	knownClock(client: number): number {
		return this.pending.nextClock.get(client) ?? Y.getState(this.store, client);
	}

	nextClock(client: number): number {
		return this.local.nextClock.get(client) ?? this.knownClock(client);
	}

	ownerOf(client: number): string | null | undefined {
		const stored = this.owners.get(client);
		return stored !== undefined ? stored : (this.pending.owners.get(client) ?? this.local.owners.get(client));
	}

	ownedByUser(client: number): boolean {
		return this.ownerOf(client) === this.userId;
	}

	/**
	 * Whether the user may replace or delete an item of message `key` written by `client`: their
	 * own clientID, or the server's when it wrote the message on their behalf (a REST send).
	 */
	ownsMessageItem(client: number, key: string | null): boolean {
		const owner = this.ownerOf(client);
		if (owner === this.userId) return true;
		if (owner !== null || key === null) return false;
		const value = this.messages.get(key) as { author?: unknown } | undefined;
		return value?.author === this.userId;
	}

	/** Binds a clientID first seen here to the user; refuses one that belongs to someone else. */
	claim(client: number): void {
		const owner = this.ownerOf(client);
		if (owner === undefined) this.local.owners.set(client, this.userId);
		else if (owner !== this.userId) throw new Refusal(RefusalCode.ForeignClient, `clientID ${client} belongs to someone else`);
	}

	rangeAt(id: Y.ID): Range | undefined {
		const within = (r: Range) => id.clock >= r.start && id.clock < r.end;
		return this.local.ranges.get(id.client)?.find(within) ?? this.pending.ranges.get(id.client)?.find(within);
	}

	placeOf(id: Y.ID): Place {
		const range = this.rangeAt(id);
		if (range) return range;
		if (id.clock >= Y.getState(this.store, id.client)) {
			throw new Refusal(RefusalCode.OutOfOrder, 'the update refers to content the server does not have');
		}
		const struct = Y.getItem(this.store, id);
		if (!(struct instanceof Y.Item) || !(struct.parent instanceof Y.AbstractType) || struct.parent._item !== null) {
			throw new Refusal(RefusalCode.UnknownRoot, 'the update refers to content outside the message map');
		}
		return { root: Y.findRootTypeKey(struct.parent), key: struct.parentSub, client: id.client };
	}

	/** ClientID of the newest value of a message key, if it has one. */
	currentClientOf(key: string): number | undefined {
		return this.local.keyClients.get(key) ?? this.pending.keyClients.get(key) ?? this.messages._map.get(key)?.id.client;
	}

	addRange(client: number, range: Range): void {
		let list = this.local.ranges.get(client);
		if (!list) this.local.ranges.set(client, (list = []));
		list.push(range);
	}

	/** Message keys of the items in a deleted range, pending or stored; null for anything that is not a message. */
	keysDeleted(client: number, clock: number, len: number): Array<string | null> {
		const end = clock + len;
		const keys: Array<string | null> = [];
		for (const source of [this.local.ranges, this.pending.ranges]) {
			for (const r of source.get(client) ?? []) if (r.start < end && r.end > clock) keys.push(r.key);
		}
		const structs = this.store.clients.get(client);
		if (structs && clock < Y.getState(this.store, client)) {
			for (let i = Y.findIndexSS(structs, clock); i < structs.length; i++) {
				const struct = structs[i]!;
				if (struct.id.clock >= end) break;
				const inMessages =
					struct instanceof Y.Item && struct.parent instanceof Y.AbstractType && struct.parent === this.messages;
				keys.push(inMessages ? (struct as Y.Item).parentSub : null);
			}
		}
		return keys;
	}

	isAlreadyDeleted(client: number, clock: number, len: number): boolean {
		const structs = this.store.clients.get(client);
		if (!structs || clock + len > Y.getState(this.store, client)) return false;
		for (let i = Y.findIndexSS(structs, clock); i < structs.length; i++) {
			const struct = structs[i]!;
			if (struct.id.clock >= clock + len) break;
			if (!struct.deleted) return false;
		}
		return true;
	}
}

function collectEffects(view: View, update: Uint8Array, seenIds: Set<string>): UpdateEffects {
	const { structs, ds } = Y.decodeUpdate(update);
	const { local, userId } = view;
	const effects: UpdateEffects = { upserts: new Map(), deletions: new Set(), newClients: new Set(), hasNewContent: false };
	const touchedKeys = new Set<string>();

	if (structs.length > STRUCT_RANGES_LIMIT) throw new Refusal(RefusalCode.InvalidMessage, 'the update is too large');
	for (const struct of structs) {
		const { client, clock } = struct.id;
		const known = view.knownClock(client);
		const expected = view.nextClock(client);
		if (struct instanceof Y.Skip || clock > expected) {
			throw new Refusal(RefusalCode.OutOfOrder, `the update skips content of clientID ${client}`);
		}
		// Yjs keeps one block per client: content repeated within the update would be checked but not applied.
		const endSoFar = local.nextClock.get(client);
		if (endSoFar !== undefined && clock < endSoFar) {
			throw new Refusal(RefusalCode.InvalidMessage, `the update repeats content of clientID ${client}`);
		}
		local.nextClock.set(client, Math.max(expected, clock + struct.length));
		if (clock + struct.length <= known) continue;
		effects.hasNewContent = true;
		view.claim(client);
		if (!(struct instanceof Y.Item)) continue; // GC: an own deleted range, no content

		const place = itemPlace(struct, view);
		if (place.key !== null) seenIds.add(place.key);
		if (place.root !== DOC_MESSAGES || place.key === null) {
			throw new Refusal(RefusalCode.UnknownRoot, `clients may only write keys of the "${DOC_MESSAGES}" map`, place.key ?? undefined);
		}
		const key = place.key;
		view.addRange(client, { ...place, start: clock, end: clock + struct.length });

		// Whatever the content, an item in a key may become its value: only the key's owner may write there.
		const current = view.currentClientOf(key);
		if (current !== undefined && !view.ownsMessageItem(current, key)) {
			throw new Refusal(RefusalCode.ForeignMessage, 'this message belongs to someone else', key);
		}
		const stored = view.storedAuthorOf(key);
		if (stored !== undefined && stored !== userId) {
			throw new Refusal(RefusalCode.ForeignMessage, 'this message belongs to someone else', key);
		}
		if (struct.content instanceof Y.ContentDeleted) {
			if (current !== undefined) {
				// A deleted value placed after the current one removes the message (an edit, then a delete, offline).
				if (struct.origin === null) throw new Refusal(RefusalCode.InvalidMessage, 'delete a message instead of overwriting it', key);
				effects.deletions.add(key);
				local.keyClients.set(key, client);
			}
			continue;
		}
		if (!(struct.content instanceof Y.ContentAny) || struct.content.arr.length !== 1) {
			throw new Refusal(RefusalCode.UnsupportedContent, 'message values must be plain JSON objects', key);
		}
		const value = checkMessageValue(struct.content.arr[0], key, userId);
		touchedKeys.add(key);
		effects.deletions.delete(key);
		local.keyClients.set(key, client);
		effects.upserts.set(key, value);
	}

	let ranges = 0;
	for (const [client, deletes] of ds.clients) {
		let previousEnd = -1;
		for (const { clock, len } of deletes) {
			// Yjs writes each client's deleted ranges sorted and merged; anything else only costs the server time.
			if (++ranges > DELETE_RANGES_LIMIT || clock < previousEnd || len <= 0) {
				throw new Refusal(RefusalCode.InvalidMessage, 'the delete set is malformed or too large');
			}
			previousEnd = clock + len;
			if (clock + len > view.nextClock(client)) {
				throw new Refusal(RefusalCode.OutOfOrder, `the update deletes content of clientID ${client} the server does not have`);
			}
			const keys = view.keysDeleted(client, clock, len);
			if (!view.ownedByUser(client) && !keys.every((key) => view.ownsMessageItem(client, key))) {
				throw new Refusal(RefusalCode.ForeignMessage, 'the update deletes content that belongs to someone else');
			}
			if (view.isAlreadyDeleted(client, clock, len)) continue;
			effects.hasNewContent = true;
			for (const key of keys) {
				if (key === null) continue;
				seenIds.add(key);
				if (!touchedKeys.has(key) && view.currentClientOf(key) === client) effects.deletions.add(key);
			}
		}
	}
	for (const client of local.owners.keys()) effects.newClients.add(client);
	return effects;
}

/** Root and key of a decoded item: given outright for a new key, else inherited from its neighbour. */
function itemPlace(item: Y.Item, view: View): Place {
	const parent = item.parent as unknown;
	if (typeof parent === 'string') return { root: parent, key: item.parentSub, client: item.id.client };
	if (parent !== null) throw new Refusal(RefusalCode.UnknownRoot, 'nested types are not allowed');
	// Map values only ever have a left neighbour (the value they replace).
	if (item.rightOrigin !== null) throw new Refusal(RefusalCode.InvalidMessage, 'message values have no right neighbour');
	const neighbour = item.origin;
	if (!neighbour) throw new Refusal(RefusalCode.InvalidMessage, 'an item without a parent');
	const place = view.placeOf(neighbour);
	// A map item placed after another one replaces it: only the owner of that key may do so.
	if (!view.ownsMessageItem(neighbour.client, place.root === DOC_MESSAGES ? place.key : null)) {
		throw new Refusal(RefusalCode.ForeignMessage, 'this message belongs to someone else', place.key ?? undefined);
	}
	return { ...place, client: item.id.client };
}

function checkMessageValue(value: unknown, key: string, userId: string): MessageValue {
	if (!isMessageId(key)) throw new Refusal(RefusalCode.InvalidMessage, 'message ids are ULIDs or UUIDs', key);
	if (typeof value !== 'object' || value === null || Array.isArray(value)) {
		throw new Refusal(RefusalCode.InvalidMessage, 'a message is a JSON object', key);
	}
	const { id, author, body, createdAt, editedAt, ...rest } = value as Record<string, unknown>;
	if (author !== userId) throw new Refusal(RefusalCode.ForeignAuthor, 'the author must be the connected user', key);
	if (id !== key) throw new Refusal(RefusalCode.InvalidMessage, 'the message id must equal its key', key);
	if (Object.keys(rest).length > 0) throw new Refusal(RefusalCode.InvalidMessage, `unknown message fields: ${Object.keys(rest).join(', ')}`, key);
	if (typeof createdAt !== 'number' || !Number.isFinite(createdAt)) {
		throw new Refusal(RefusalCode.InvalidMessage, 'createdAt must be a number (ms)', key);
	}
	if (editedAt !== undefined && (typeof editedAt !== 'number' || !Number.isFinite(editedAt))) {
		throw new Refusal(RefusalCode.InvalidMessage, 'editedAt must be a number (ms)', key);
	}
	if (typeof body !== 'string') throw new Refusal(RefusalCode.InvalidMessage, 'body must be a string', key);
	const checked = checkMessageBody(body);
	if (!checked.ok) {
		const text = checked.code === 'message-empty' ? 'the message is empty' : 'the message is longer than 2000 characters';
		throw new Refusal(checked.code === 'message-empty' ? RefusalCode.MessageEmpty : RefusalCode.MessageTooLong, text, key);
	}
	// The document is what every device shows, so it must hold exactly what the table holds.
	if (checked.body !== body) throw new Refusal(RefusalCode.InvalidMessage, 'trim the body before writing it', key);
	return editedAt === undefined
		? { id: key, author: userId, body: checked.body, createdAt }
		: { id: key, author: userId, body: checked.body, createdAt, editedAt };
}
