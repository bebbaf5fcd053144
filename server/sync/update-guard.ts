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

/**
 * Decides whether `userId` may apply `update` to `doc`, before anything is applied or stored.
 * Clients may only add, replace or delete their own keys in the `messages` map, with plain JSON
 * values authored by themselves; everything else is refused. Work is proportional to the update,
 * not to the document.
 */
export function inspectUpdate(doc: Y.Doc, update: Uint8Array, userId: string, owners: ClientOwners): Inspection {
	const seenIds = new Set<string>();
	try {
		return { ok: true, ...collectEffects(doc, update, userId, owners, seenIds) };
	} catch (error) {
		if (error instanceof Refusal) {
			if (error.messageId) seenIds.add(error.messageId);
			return { ok: false, code: error.code, message: error.message, messageIds: [...seenIds] };
		}
		return { ok: false, code: RefusalCode.InvalidMessage, message: 'the update could not be decoded', messageIds: [] };
	}
}

function collectEffects(
	doc: Y.Doc,
	update: Uint8Array,
	userId: string,
	owners: ClientOwners,
	seenIds: Set<string>
): UpdateEffects {
	const { structs, ds } = Y.decodeUpdate(update);
	const store = doc.store;
	const messages = doc.getMap(DOC_MESSAGES);
	const effects: UpdateEffects = { upserts: new Map(), deletions: new Set(), newClients: new Set(), hasNewContent: false };
	const nextClock = new Map<number, number>();
	const ranges = new Map<number, Range[]>();
	const touchedKeys = new Set<string>();

	const claim = (client: number, messageId?: string) => {
		const owner = owners.get(client);
		if (owner === undefined) effects.newClients.add(client);
		else if (owner !== userId) {
			throw new Refusal(RefusalCode.ForeignClient, `clientID ${client} belongs to someone else`, messageId);
		}
	};

	const placeOf = (id: Y.ID): Place => {
		const local = ranges.get(id.client)?.find((r) => id.clock >= r.start && id.clock < r.end);
		if (local) return local;
		if (id.clock >= Y.getState(store, id.client)) {
			throw new Refusal(RefusalCode.OutOfOrder, 'the update refers to content the server does not have');
		}
		const struct = Y.getItem(store, id);
		if (!(struct instanceof Y.Item) || !(struct.parent instanceof Y.AbstractType) || struct.parent._item !== null) {
			throw new Refusal(RefusalCode.UnknownRoot, 'the update refers to content outside the message map');
		}
		return { root: Y.findRootTypeKey(struct.parent), key: struct.parentSub, client: id.client };
	};

	let structCount = 0;
	for (const struct of structs) {
		if (++structCount > STRUCT_RANGES_LIMIT) throw new Refusal(RefusalCode.InvalidMessage, 'the update is too large');
		const { client, clock } = struct.id;
		const known = Y.getState(store, client);
		const expected = nextClock.get(client) ?? known;
		if (struct instanceof Y.Skip || clock > expected) {
			throw new Refusal(RefusalCode.OutOfOrder, `the update skips content of clientID ${client}`);
		}
		nextClock.set(client, Math.max(expected, clock + struct.length));
		if (clock + struct.length <= known) continue;
		effects.hasNewContent = true;
		claim(client);
		if (!(struct instanceof Y.Item)) continue; // GC: an own deleted range, no content

		const place = itemPlace(struct, placeOf, userId, owners, effects.newClients);
		if (place.key !== null) seenIds.add(place.key);
		if (place.root !== DOC_MESSAGES || place.key === null) {
			throw new Refusal(RefusalCode.UnknownRoot, `clients may only write keys of the "${DOC_MESSAGES}" map`, place.key ?? undefined);
		}
		const key = place.key;
		let list = ranges.get(client);
		if (!list) ranges.set(client, (list = []));
		list.push({ ...place, start: clock, end: clock + struct.length });

		if (struct.content instanceof Y.ContentDeleted) continue;
		if (!(struct.content instanceof Y.ContentAny) || struct.content.arr.length !== 1) {
			throw new Refusal(RefusalCode.UnsupportedContent, 'message values must be plain JSON objects', key);
		}
		const value = checkMessageValue(struct.content.arr[0], key, userId);
		const current = messages._map.get(key);
		if (current && !ownedBy(current.id.client, userId, owners, effects.newClients)) {
			throw new Refusal(RefusalCode.ForeignMessage, 'this message belongs to someone else', key);
		}
		touchedKeys.add(key);
		effects.upserts.set(key, value);
	}

	for (const [client, deletes] of ds.clients) {
		for (const { clock, len } of deletes) {
			const knownEnd = nextClock.get(client) ?? Y.getState(store, client);
			if (clock + len > knownEnd) {
				throw new Refusal(RefusalCode.OutOfOrder, `the update deletes content of clientID ${client} the server does not have`);
			}
			if (!ownedBy(client, userId, owners, effects.newClients)) {
				throw new Refusal(RefusalCode.ForeignMessage, 'the update deletes content that belongs to someone else');
			}
			if (isAlreadyDeleted(store, client, clock, len)) continue;
			effects.hasNewContent = true;
			for (const key of keysDeleted(store, ranges, client, clock, len)) {
				if (key === null) continue;
				seenIds.add(key);
				const current = messages._map.get(key);
				const removesCurrent = current && current.id.client === client && current.id.clock >= clock && current.id.clock < clock + len;
				if (removesCurrent && !touchedKeys.has(key)) effects.deletions.add(key);
			}
		}
	}
	return effects;
}

function ownedBy(client: number, userId: string, owners: ClientOwners, newClients: Set<number>): boolean {
	return owners.get(client) === userId || (owners.get(client) === undefined && newClients.has(client));
}

/** Root and key of a decoded item: given outright for a new key, else inherited from its neighbour. */
function itemPlace(
	item: Y.Item,
	placeOf: (id: Y.ID) => Place,
	userId: string,
	owners: ClientOwners,
	newClients: Set<number>
): Place {
	const parent = item.parent as unknown;
	if (typeof parent === 'string') return { root: parent, key: item.parentSub, client: item.id.client };
	if (parent !== null) throw new Refusal(RefusalCode.UnknownRoot, 'nested types are not allowed');
	const neighbour = item.origin ?? item.rightOrigin;
	if (!neighbour) throw new Refusal(RefusalCode.InvalidMessage, 'an item without a parent');
	const place = placeOf(neighbour);
	// A map item placed after another one replaces it: only the owner of that key may do so.
	if (!ownedBy(neighbour.client, userId, owners, newClients)) {
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
	return editedAt === undefined
		? { id: key, author: userId, body: checked.body, createdAt }
		: { id: key, author: userId, body: checked.body, createdAt, editedAt };
}

/** Keys of the message items in a deleted range, found in this update or in the document. */
function keysDeleted(store: Y.Doc['store'], ranges: Map<number, Range[]>, client: number, clock: number, len: number): Array<string | null> {
	const keys: Array<string | null> = [];
	const end = clock + len;
	for (const r of ranges.get(client) ?? []) if (r.start < end && r.end > clock) keys.push(r.key);
	const structs = store.clients.get(client);
	if (structs && clock < Y.getState(store, client)) {
		for (let i = Y.findIndexSS(structs, clock); i < structs.length; i++) {
			const struct = structs[i]!;
			if (struct.id.clock >= end) break;
			keys.push(struct instanceof Y.Item ? struct.parentSub : null);
		}
	}
	return keys;
}

function isAlreadyDeleted(store: Y.Doc['store'], client: number, clock: number, len: number): boolean {
	const structs = store.clients.get(client);
	if (!structs || clock + len > Y.getState(store, client)) return false;
	for (let i = Y.findIndexSS(structs, clock); i < structs.length; i++) {
		const struct = structs[i]!;
		if (struct.id.clock >= clock + len) break;
		if (!struct.deleted) return false;
	}
	return true;
}
