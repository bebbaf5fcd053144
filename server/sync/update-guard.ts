import * as decoding from 'lib0/decoding';
import * as Y from 'yjs';
import { ATTACHMENTS_PER_MESSAGE_MAX, checkMessageBody, isAttachmentList, isMessageId, isPlausibleTimestamp, isReactionList, MESSAGE_MAX_CHARS, REACTIONS_PER_USER_MAX } from '../../src/lib/shared/limits.ts';
import { DOC_MESSAGES, DOC_REACTIONS, parseReactionKey, RefusalCode, type AttachmentRef, type RefusalCode as RefusalCodeType } from '../../src/lib/shared/protocol.ts';

/** Owner of each Yjs clientID in one document: a user id, or null for the server itself. */
export type ClientOwners = Map<number, string | null>;

/** What the server has on record for a message id (the flattened table). */
export interface StoredFacts {
	authorId: string;
	createdAt: number;
	/** Set on lines the server wrote into the timeline: nobody's to change. */
	event: unknown;
	/** Set once the message was deleted for everyone. */
	deletedAt?: number | null;
	/** JSON of the message's attachments (null: none). */
	attachments?: string | null;
}

/** What the server has on record for an upload a message names (ATTACH-2). */
export interface UploadOnRecord {
	ownerId: string;
	ref: AttachmentRef;
	/** The message key of this conversation that carries it; '(elsewhere)' for another conversation's message or a profile photo; null while free. */
	attachedTo: string | null;
}

export interface GuardContext {
	/** The document as it is now: stored state plus every update already accepted in this batch. */
	doc: Y.Doc;
	userId: string;
	owners: ClientOwners;
	stored(key: string): StoredFacts | undefined;
	/** The upload with this id, if any (attachments are refused when absent). */
	upload?(id: string): UploadOnRecord | undefined;
	/** Whether the connected user moderates this conversation (asked only when they write someone else's key). */
	isModerator?(): boolean;
	now: number;
}

export type Verdict =
	| {
			kind: 'accepted';
			/** False when the server already has everything the update carries: nothing to store. */
			hasNewContent: boolean;
			/** Message keys whose items this update adds or deletes: their resolved values may change. */
			keys: Set<string>;
			/** ClientIDs used for the first time here; they become the user's once committed. */
			newClients: Set<number>;
			/** Keys this update creates (messages the server has never seen). */
			newMessages: number;
			/** Uploads its messages carry, with the message key carrying each. */
			attachments: Map<string, string>;
			/** Message keys the update gives a value (not only deletes): what a closed conversation refuses when new (CTX-2). */
			valueKeys: Set<string>;
	  }
	/** The update builds on content the server does not have yet (it may be on its way): wait for it. */
	| { kind: 'held'; reason: string; waitsFor: Dependency }
	| { kind: 'refused'; code: RefusalCodeType; message: string; messageIds: string[] };

class Refusal extends Error {
	constructor(
		readonly code: RefusalCodeType,
		message: string,
		readonly messageId?: string
	) {
		super(message);
	}
}

const STRUCTS_LIMIT = 100_000;
/** The owner of keys the server wrote for itself (timeline lines): no user's. */
const SERVER = '(server)';
const DELETE_RANGES_LIMIT = 10_000;

type Struct = Y.Item | Y.GC | Y.Skip;
/** Yjs's decoded delete set (not exported as a type). */
interface DeleteSet {
	clients: Map<number, Array<{ clock: number; len: number }>>;
}

/** Content an update builds on: the server needs clientID `client` up to and including `clock`. */
export interface Dependency {
	client: number;
	clock: number;
}

/** One client's contiguous run of structs in the update. */
interface Block {
	start: number;
	end: number;
	structs: Struct[];
}

/** Where a new item lands: a key of the messages map, or nowhere (it turns into garbage). */
type Place = { key: string } | { key: null };

/**
 * Decides what `ctx.userId` may apply, judging only what the server does not have yet: structs at
 * or beyond the server's clock for their client, and deletions of items not already deleted. Whatever
 * a stock provider resends (overlapping updates, its whole delete set, a sync reply repeating queued
 * updates) is therefore never refused for being old. Every struct is checked for shape before
 * anything is skipped. Clients may only add, replace or delete values of their own keys in the
 * `messages` map, with plain JSON values authored by themselves; an update that builds on content
 * the server lacks is held, not refused. Work is proportional to the update (and the deleted ranges
 * it names), not to the document.
 */
export function inspectUpdate(ctx: GuardContext, update: Uint8Array): Verdict {
	let decoded: { structs: Struct[]; ds: DeleteSet };
	try {
		decoded = Y.decodeUpdate(update) as { structs: Struct[]; ds: DeleteSet };
	} catch {
		return { kind: 'refused', code: RefusalCode.InvalidMessage, message: 'the update could not be decoded', messageIds: [] };
	}
	const inspection = new Inspection(ctx);
	try {
		return inspection.run(blocksOf(update, decoded.structs), decoded.ds);
	} catch (error) {
		if (!(error instanceof Refusal)) throw error;
		// Name the message at fault; when the fault is not one message's, every message the update named.
		const messageIds = error.messageId ? [error.messageId] : [...inspection.namedKeys].filter(isMessageId);
		return { kind: 'refused', code: error.code, message: error.message, messageIds };
	}
}

/**
 * Whether an update is shaped as Yjs writes them: no struct of length 0 and each client in one
 * contiguous block. Stored updates are checked with this before a load applies them.
 */
export function isWellFormedUpdate(update: Uint8Array): boolean {
	try {
		const { structs } = Y.decodeUpdate(update) as { structs: Struct[] };
		blocksOf(update, structs);
		return true;
	} catch {
		return false;
	}
}

function blocksOf(update: Uint8Array, structs: Struct[]): Map<number, Block> {
	if (structs.length > STRUCTS_LIMIT) throw new Refusal(RefusalCode.InvalidMessage, 'the update is too large');
	const blocks = new Map<number, Block>();
	let current: Block | undefined;
	let currentClient: number | undefined;
	for (const struct of structs) {
		const { client, clock } = struct.id;
		// A struct of length 0 is skipped by every clock comparison while Yjs still integrates it.
		if (!(struct.length >= 1)) throw new Refusal(RefusalCode.InvalidMessage, 'the update has a struct of length 0');
		if (client !== currentClient) {
			// Yjs keeps only one block per client: a second one would be checked here but not applied.
			if (blocks.has(client)) throw new Refusal(RefusalCode.InvalidMessage, `the update has clientID ${client} in two blocks`);
			blocks.set(client, (current = { start: clock, end: clock, structs: [] }));
			currentClient = client;
		}
		if (clock !== current!.end) throw new Refusal(RefusalCode.InvalidMessage, `the update has a gap inside clientID ${client}'s block`);
		current!.structs.push(struct);
		current!.end = clock + struct.length;
	}
	// A client written as two blocks back to back reads as one run above, yet Yjs keeps only the last block.
	if (decoding.readVarUint(decoding.createDecoder(update)) !== blocks.size) {
		throw new Refusal(RefusalCode.InvalidMessage, 'the update repeats a clientID\'s block or has an empty one');
	}
	return blocks;
}

class Inspection {
	readonly namedKeys = new Set<string>();
	readonly #store: Y.Doc['store'];
	readonly #messages: Y.Map<unknown>;
	readonly #reactions: Y.Map<unknown>;
	/** New structs of this update per client, in clock order, with the clock where their new part starts. */
	readonly #fresh = new Map<number, Array<{ struct: Struct; from: number }>>();
	readonly #places = new Map<Y.Item, Place>();
	/** Keys this update creates, so later structs of the same update may build on them. */
	readonly #claimedKeys = new Set<string>();
	/** createdAt of the first value of each key this update creates: later values in the update keep it. */
	readonly #createdInUpdate = new Map<string, number>();
	#held: { reason: string; waitsFor: Dependency } | null = null;
	/** Reactions values, checked once every message key of the update is claimed. */
	readonly #reactionChecks: Array<() => void> = [];
	/** Message keys given a value by this update. */
	readonly #valueKeys = new Set<string>();
	/** Others' messages this update deletes as their conversation's moderator, with their authors (MOD-1). */
	readonly #moderated = new Map<string, string>();
	/** Uploads the update's values carry, each with its message key: one message each (ATTACH-2). */
	readonly #attachments = new Map<string, string>();

	constructor(private readonly ctx: GuardContext) {
		this.#store = ctx.doc.store;
		this.#messages = ctx.doc.getMap(DOC_MESSAGES);
		this.#reactions = ctx.doc.getMap(DOC_REACTIONS);
	}

	run(blocks: Map<number, Block>, ds: DeleteSet): Verdict {
		const keys = new Set<string>();
		const newClients = new Set<number>();
		let hasNewContent = false;

		for (const [client, block] of blocks) {
			const known = Y.getState(this.#store, client);
			this.#checkKnownReferences(block, known);
			if (block.end <= known) continue;
			if (block.start > known) {
				this.#hold(`clientID ${client} continues from clock ${block.start}; the server has ${known}`, client, block.start - 1);
				continue;
			}
			const fresh = block.structs.filter((s) => s.id.clock + s.length > known).map((struct) => ({ struct, from: Math.max(known, struct.id.clock) }));
			const skip = fresh.find(({ struct }) => struct instanceof Y.Skip);
			if (skip) {
				this.#hold(`the update skips content of clientID ${client}`, client, skip.struct.id.clock + skip.struct.length - 1);
				continue;
			}
			this.#claimClient(client, newClients);
			this.#fresh.set(client, fresh);
			hasNewContent = true;
		}

		let newMessages = 0;
		for (const fresh of this.#fresh.values()) {
			for (const { struct, from } of fresh) {
				if (!(struct instanceof Y.Item)) continue; // GC: a range of the user's own clientID, deleted, no place
				const place = this.#placeOf(struct, from);
				if (place === undefined || place.key === null) continue;
				const key = place.key;
				this.namedKeys.add(key);
				const created = this.#checkOwnership(key);
				if (from > struct.id.clock && !(struct.content instanceof Y.ContentDeleted)) {
					throw new Refusal(RefusalCode.UnsupportedContent, 'message values are single JSON objects', key);
				}
				this.#checkContent(struct, key);
				if (created) newMessages += 1;
				keys.add(key);
			}
		}

		// Reactions last: the message they are for may come in a block of this update checked after theirs.
		for (const check of this.#reactionChecks) check();
		if (this.#checkDeletions(ds, blocks, keys)) hasNewContent = true;
		if (this.#held !== null) return { kind: 'held', ...this.#held };
		return { kind: 'accepted', hasNewContent, keys, newClients, newMessages, attachments: this.#attachments, valueKeys: this.#valueKeys };
	}

	/**
	 * Yjs looks up the neighbours and parent of every struct it reads, also of those it already has
	 * and then skips (`Item.getMissing`): one naming content the server lacks waits in Yjs's pending
	 * structs, and one naming its own client beyond the server's clock makes Yjs throw. A struct the
	 * server already has (wholly or its head) was integrated here with the same references, so a
	 * resend from an honest device only names content the server has; anything else is forged.
	 */
	#checkKnownReferences(block: Block, known: number): void {
		for (const struct of block.structs) {
			if (struct.id.clock >= known) return;
			if (!(struct instanceof Y.Item)) continue;
			const parent = struct.parent instanceof Y.ID ? struct.parent : null;
			for (const ref of [struct.origin, struct.rightOrigin, parent]) {
				if (ref && ref.clock >= Y.getState(this.#store, ref.client)) {
					throw new Refusal(RefusalCode.InvalidMessage, 'the update resends content the server has with neighbours it does not have');
				}
			}
		}
	}

	#hold(reason: string, client: number, clock: number): void {
		this.#held ??= { reason, waitsFor: { client, clock } };
	}

	#claimClient(client: number, newClients: Set<number>): void {
		const owner = this.ctx.owners.get(client);
		if (owner === undefined) newClients.add(client);
		else if (owner !== this.ctx.userId) throw new Refusal(RefusalCode.ForeignClient, `clientID ${client} belongs to someone else`);
	}

	/**
	 * The key a new item lands in: given outright for a first value, else inherited from its left
	 * origin (the value it replaces), which may be in the document or earlier in this update.
	 * Undefined while the origin is content the server does not have (the update is held).
	 */
	#placeOf(item: Y.Item, from: number): Place | undefined {
		// Follow origins inside the update without recursion; every item on the way gets the same place.
		const chain: Y.Item[] = [];
		const visited = new Set<Y.Item>();
		let current = item;
		let currentFrom = from;
		let place = this.#places.get(item);
		while (place === undefined) {
			visited.add(current);
			chain.push(current);
			const step = this.#directPlace(current, currentFrom);
			if (step.kind === 'missing') return undefined;
			if (step.kind === 'place') {
				place = step.place;
				break;
			}
			if (visited.has(step.item)) throw new Refusal(RefusalCode.InvalidMessage, 'the update has circular origins');
			place = this.#places.get(step.item);
			current = step.item;
			currentFrom = step.from;
		}
		for (const link of chain) this.#places.set(link, place);
		return place;
	}

	#directPlace(
		item: Y.Item,
		from: number
	): { kind: 'place'; place: Place } | { kind: 'missing' } | { kind: 'fresh'; item: Y.Item; from: number } {
		if (from > item.id.clock) {
			// Only the tail of this struct is new: Yjs continues it after its own head, which the server has,
			// but takes its parent from the struct's own references (Item.getMissing). Where they disagree,
			// Yjs links the tail into one list after an item of another (or, after garbage, throws).
			const place = this.#placeInDocument({ client: item.id.client, clock: from - 1 } as Y.ID);
			const own = this.#originalKey(item);
			if (own !== null && own !== place.key) {
				throw new Refusal(RefusalCode.InvalidMessage, 'the update continues a struct the server has in another place', place.key ?? undefined);
			}
			return { kind: 'place', place };
		}
		const parent = item.parent as unknown;
		if (parent instanceof Y.ID) throw new Refusal(RefusalCode.UnknownRoot, 'nested types are not allowed');
		if (typeof parent === 'string') {
			if ((parent !== DOC_MESSAGES && parent !== DOC_REACTIONS) || item.parentSub === null) {
				throw new Refusal(RefusalCode.UnknownRoot, `clients may only write keys of the "${DOC_MESSAGES}" and "${DOC_REACTIONS}" maps`, item.parentSub ?? undefined);
			}
			return { kind: 'place', place: { key: placeKey(parent, item.parentSub) } };
		}
		// Map values only ever have a left neighbour (the value they replace).
		if (item.rightOrigin !== null) throw new Refusal(RefusalCode.InvalidMessage, 'message values have no right neighbour');
		const origin = item.origin;
		if (origin === null) throw new Refusal(RefusalCode.InvalidMessage, 'an item without a parent');
		if (origin.client === item.id.client && origin.clock >= item.id.clock) {
			throw new Refusal(RefusalCode.InvalidMessage, 'an item placed after its own future');
		}
		if (origin.clock < Y.getState(this.#store, origin.client)) return { kind: 'place', place: this.#placeInDocument(origin) };
		const fresh = this.#freshAt(origin);
		if (fresh) return { kind: 'fresh', ...fresh };
		this.#hold(`an item builds on clientID ${origin.client} clock ${origin.clock}, which the server does not have`, origin.client, origin.clock);
		return { kind: 'missing' };
	}

	/**
	 * The key a struct's own references name, as Yjs reads them when it continues a struct the server
	 * has: null when they lead to garbage (Yjs then drops the struct), '' when not to a message key.
	 * Its references are in the document (`#checkKnownReferences`).
	 */
	#originalKey(item: Y.Item): string | null {
		const neighbour = item.origin ?? item.rightOrigin;
		if (neighbour) {
			const struct = Y.getItem(this.#store, neighbour) as Struct;
			if (!(struct instanceof Y.Item)) return null;
			return this.#isClientMap(struct.parent) && struct.parentSub !== null ? placeKey(this.#rootName(struct.parent), struct.parentSub) : '';
		}
		const parent = item.parent as unknown;
		return (parent === DOC_MESSAGES || parent === DOC_REACTIONS) && item.parentSub !== null ? placeKey(parent, item.parentSub) : '';
	}

	/** The new struct of this update that holds `id`, if any. */
	#freshAt(id: Y.ID): { item: Y.Item; from: number } | undefined {
		const list = this.#fresh.get(id.client);
		if (!list) return undefined;
		let low = 0;
		let high = list.length - 1;
		while (low <= high) {
			const middle = (low + high) >> 1;
			const { struct, from } = list[middle]!;
			if (id.clock < struct.id.clock) high = middle - 1;
			else if (id.clock >= struct.id.clock + struct.length) low = middle + 1;
			else {
				if (id.clock < from) return undefined;
				// A GC origin turns the item into garbage too: it lands nowhere.
				return struct instanceof Y.Item ? { item: struct, from } : undefined;
			}
		}
		return undefined;
	}

	/** The key of the document struct holding `id` (which the server has). */
	#placeInDocument(id: Y.ID): Place {
		const struct = Y.getItem(this.#store, id) as Struct;
		// Yjs turns an item whose left neighbour was garbage-collected into garbage as well.
		if (!(struct instanceof Y.Item)) return { key: null };
		if (!this.#isClientMap(struct.parent) || struct.parentSub === null) {
			throw new Refusal(RefusalCode.UnknownRoot, `clients may only write keys of the "${DOC_MESSAGES}" and "${DOC_REACTIONS}" maps`);
		}
		return { key: placeKey(this.#rootName(struct.parent), struct.parentSub) };
	}

	/** The two maps clients write: messages and reactions. */
	#isClientMap(parent: unknown): parent is Y.Map<unknown> {
		return parent === this.#messages || parent === this.#reactions;
	}

	#rootName(map: Y.Map<unknown>): string {
		return map === this.#reactions ? DOC_REACTIONS : DOC_MESSAGES;
	}

	/** Who a key belongs to: its stored author, else the writer of its items in the document. */
	#ownerOfKey(key: string): string | undefined {
		// A reactions key names its user: it is theirs, whoever wrote there first.
		const reaction = reactionPlace(key);
		if (reaction) return reaction.userId;
		const stored = this.ctx.stored(key);
		if (stored) return stored.event ? SERVER : stored.authorId;
		const item = this.#messages._map.get(key);
		if (item) {
			const owner = this.ctx.owners.get(item.id.client);
			if (owner !== null) return owner ?? '(unbound)';
			const value = item.deleted ? undefined : (item.content.getContent()[0] as { author?: unknown; event?: unknown } | undefined);
			return typeof value?.author === 'string' && !value.event ? value.author : SERVER;
		}
		return this.#claimedKeys.has(key) ? this.ctx.userId : undefined;
	}

	/** Any item in a key may become its value, deleted ones included: only the key's owner may write there. True for a new key. */
	#checkOwnership(key: string): boolean {
		if (reactionPlace(key)) {
			if (this.#ownerOfKey(key) !== this.ctx.userId) throw new Refusal(RefusalCode.ForeignMessage, 'these reactions belong to someone else', reactionPlace(key)!.messageId);
			return false;
		}
		const owner = this.#ownerOfKey(key);
		if (owner === undefined) {
			this.#claimedKeys.add(key);
			return true;
		}
		if (owner !== this.ctx.userId) {
			// A moderator may replace another member's message with its tombstone, and nothing else (MOD-1).
			if (owner !== SERVER && owner !== '(unbound)' && this.ctx.isModerator?.()) {
				this.#moderated.set(key, owner);
				return false;
			}
			throw new Refusal(RefusalCode.ForeignMessage, 'this message belongs to someone else', key);
		}
		return false;
	}

	#checkContent(item: Y.Item, key: string): void {
		if (item.content instanceof Y.ContentDeleted) {
			// Written and deleted within the update: for a moderator that would remove the message, not tombstone it (MOD-1).
			if (this.#moderated.has(key)) throw new Refusal(RefusalCode.ForeignMessage, 'a moderator may only replace someone else\'s message with its tombstone', key);
			return;
		}
		if (!(item.content instanceof Y.ContentAny) || item.content.arr.length !== 1) {
			throw new Refusal(RefusalCode.UnsupportedContent, 'message values must be plain JSON objects', key);
		}
		const value = item.content.arr[0];
		const reaction = reactionPlace(key);
		if (reaction) {
			this.#reactionChecks.push(() => this.#checkReactions(value, reaction.messageId));
			return;
		}
		const moderatedAuthor = this.#moderated.get(key);
		if (moderatedAuthor !== undefined && (typeof value !== 'object' || value === null || (value as { deletedAt?: unknown }).deletedAt === undefined)) {
			throw new Refusal(RefusalCode.ForeignMessage, 'a moderator may only delete someone else\'s message (its tombstone), not change it', key);
		}
		checkMessageValue(value, key, this.ctx, this.#createdAtOf(key), this.#isDeleted(key), moderatedAuthor);
		this.#valueKeys.add(key);
		this.#checkAttachments(value as { attachments?: AttachmentRef[]; deletedAt?: number }, key);
		if (!this.#createdInUpdate.has(key)) this.#createdInUpdate.set(key, (value as { createdAt: number }).createdAt);
	}

	/** A user's reactions to a message: distinct emoji, few of them, on a message the conversation has. */
	#checkReactions(value: unknown, messageId: string): void {
		if (!isReactionList(value)) {
			throw new Refusal(RefusalCode.InvalidMessage, `reactions are an array of at most ${REACTIONS_PER_USER_MAX} distinct emoji`, messageId);
		}
		if (!this.ctx.stored(messageId) && !this.#messages._map.has(messageId) && !this.#claimedKeys.has(messageId)) {
			throw new Refusal(RefusalCode.InvalidMessage, 'a reaction to a message the conversation does not have', messageId);
		}
	}

	/**
	 * ATTACH-2: every file a message carries is an upload of its author's, described as the server
	 * has it, carried by no other message; an edit keeps the message's files as they were.
	 */
	#checkAttachments(value: { attachments?: AttachmentRef[]; deletedAt?: number }, key: string): void {
		if (value.deletedAt !== undefined) return;
		const list = value.attachments ?? [];
		const before = this.#attachmentsBefore(key);
		if (before !== undefined && JSON.stringify(before.map((ref) => ref.id)) !== JSON.stringify(list.map((ref) => ref.id))) {
			throw new Refusal(RefusalCode.InvalidMessage, 'an edit keeps the message\'s attachments', key);
		}
		for (const ref of list) {
			const claimed = this.#attachments.get(ref.id);
			if (claimed !== undefined && claimed !== key) throw new Refusal(RefusalCode.AttachmentTaken, 'this file is already attached to another message', key);
			const upload = this.ctx.upload?.(ref.id);
			if (!upload) throw new Refusal(RefusalCode.AttachmentUnknown, 'no such upload (it may have expired: upload the file again)', key);
			if (upload.ownerId !== this.ctx.userId) throw new Refusal(RefusalCode.ForeignAttachment, 'this file was uploaded by someone else', key);
			if (upload.attachedTo !== null && upload.attachedTo !== key) throw new Refusal(RefusalCode.AttachmentTaken, 'this file is already attached to another message', key);
			if (JSON.stringify(upload.ref) !== JSON.stringify({ id: ref.id, name: ref.name, type: ref.type, size: ref.size, ...(ref.width !== undefined ? { width: ref.width, height: ref.height } : {}) })) {
				throw new Refusal(RefusalCode.InvalidMessage, 'an attachment is described as its upload answered (id, name, type, size, width, height)', key);
			}
			this.#attachments.set(ref.id, key);
		}
	}

	/** The attachments a key's message already has (stored, or in the document); undefined for a new message. */
	#attachmentsBefore(key: string): AttachmentRef[] | undefined {
		const stored = this.ctx.stored(key);
		if (stored) return stored.attachments ? (JSON.parse(stored.attachments) as AttachmentRef[]) : [];
		const item = this.#messages._map.get(key);
		const value = item && !item.deleted ? (item.content.getContent()[0] as { attachments?: AttachmentRef[]; deletedAt?: unknown } | undefined) : undefined;
		if (!value || value.deletedAt !== undefined) return undefined;
		return value.attachments ?? [];
	}

	/** Whether the key's message was deleted for everyone: stored so, or its value in the document (this batch included) is a tombstone. */
	#isDeleted(key: string): boolean {
		if (this.ctx.stored(key)?.deletedAt != null) return true;
		const item = this.#messages._map.get(key);
		const value = item && !item.deleted ? (item.content.getContent()[0] as { deletedAt?: unknown } | undefined) : undefined;
		return value?.deletedAt !== undefined;
	}

	/** The creation time a key already has: edits keep it. */
	#createdAtOf(key: string): number | undefined {
		const stored = this.ctx.stored(key);
		if (stored) return stored.createdAt;
		if (this.#createdInUpdate.has(key)) return this.#createdInUpdate.get(key);
		const item = this.#messages._map.get(key);
		const value = item && !item.deleted ? (item.content.getContent()[0] as { createdAt?: unknown }) : undefined;
		return typeof value?.createdAt === 'number' ? value.createdAt : undefined;
	}

	/**
	 * Deleted ranges: what is already deleted is skipped before anything else (a provider resends its
	 * whole delete set, other members' old values included); a live item may be deleted only by its
	 * key's owner. True when the update deletes something the document still has.
	 */
	#checkDeletions(ds: DeleteSet, blocks: Map<number, Block>, keys: Set<string>): boolean {
		let ranges = 0;
		let deletesLive = false;
		for (const [client, deletes] of ds.clients) {
			const known = Y.getState(this.#store, client);
			const block = blocks.get(client);
			const reach = block && block.start <= known ? Math.max(known, block.end) : known;
			let previousEnd = -1;
			for (const { clock, len } of deletes) {
				// Yjs writes each client's deleted ranges sorted and merged; anything else only costs the server time.
				if (++ranges > DELETE_RANGES_LIMIT || clock < previousEnd || !(len >= 1)) {
					throw new Refusal(RefusalCode.InvalidMessage, 'the delete set is malformed or too large');
				}
				previousEnd = clock + len;
				if (clock + len > reach) this.#hold(`the update deletes content of clientID ${client} the server does not have`, client, clock + len - 1);
				if (clock >= known) continue; // the update's own new structs, checked above
				const structs = this.#store.clients.get(client)!;
				const end = Math.min(clock + len, known);
				for (let i = Y.findIndexSS(structs, clock); i < structs.length; i++) {
					const struct = structs[i]!;
					if (struct.id.clock >= end) break;
					if (struct.deleted) continue;
					if (!(struct instanceof Y.Item) || !this.#isClientMap(struct.parent) || struct.parentSub === null) {
						throw new Refusal(RefusalCode.ForeignMessage, 'the update deletes content outside the messages and reactions maps');
					}
					const key = placeKey(this.#rootName(struct.parent), struct.parentSub);
					this.namedKeys.add(key);
					// A moderator's tombstone in this update replaces the value it deletes (MOD-1).
					if (this.#ownerOfKey(key) !== this.ctx.userId && !this.#moderated.has(key)) {
						throw new Refusal(RefusalCode.ForeignMessage, 'the update deletes a message that belongs to someone else', key);
					}
					keys.add(key);
					deletesLive = true;
				}
			}
		}
		return deletesLive;
	}
}

/**
 * Where an item lands, as one string: a message id, or a reactions key tagged with its root. The tag
 * keeps the two apart whatever a forged update names (a message key is refused unless it is a message
 * id, a reactions key unless it names a message and a user).
 */
const REACTIONS_TAG = `${DOC_REACTIONS}:`;

function placeKey(root: string, key: string): string {
	if (root === DOC_REACTIONS) return REACTIONS_TAG + key;
	// A message key is a message id, so it never looks like a tagged reactions key.
	if (!isMessageId(key)) throw new Refusal(RefusalCode.InvalidMessage, 'message ids are ULIDs or UUIDs');
	return key;
}

/** The message and user of a reactions place key; null for a message key. Refuses a malformed reactions key. */
export function reactionPlace(key: string): { messageId: string; userId: string; key: string } | null {
	if (!key.startsWith(REACTIONS_TAG)) return null;
	const own = key.slice(REACTIONS_TAG.length);
	const parsed = parseReactionKey(own);
	if (!parsed) throw new Refusal(RefusalCode.InvalidMessage, 'a reactions key is <messageId>/<userId>');
	return { ...parsed, key: own };
}

/** `authorId`: who the value must name as author: the connected user, or the author of the message a moderator deletes. */
function checkMessageValue(value: unknown, key: string, ctx: GuardContext, createdAtBefore: number | undefined, deletedBefore: boolean, authorId = ctx.userId): void {
	if (!isMessageId(key)) throw new Refusal(RefusalCode.InvalidMessage, 'message ids are ULIDs or UUIDs', key);
	if (typeof value !== 'object' || value === null || Array.isArray(value)) {
		throw new Refusal(RefusalCode.InvalidMessage, 'a message is a JSON object', key);
	}
	const { id, author, body, createdAt, editedAt, deletedAt, replyTo, attachments, ...rest } = value as Record<string, unknown>;
	if (author !== authorId) throw new Refusal(RefusalCode.ForeignAuthor, authorId === ctx.userId ? 'the author must be the connected user' : 'a deleted message keeps its author', key);
	if (id !== undefined && id !== key) throw new Refusal(RefusalCode.InvalidMessage, 'a message id in the value must equal its key', key);
	if (Object.keys(rest).length > 0) throw new Refusal(RefusalCode.InvalidMessage, `unknown message fields: ${Object.keys(rest).join(', ')}`, key);
	if (createdAtBefore !== undefined ? createdAt !== createdAtBefore : !isPlausibleTimestamp(createdAt, ctx.now)) {
		throw new Refusal(
			RefusalCode.InvalidMessage,
			createdAtBefore !== undefined ? 'an edit keeps the message\'s createdAt' : 'createdAt must be a time in ms between 2020 and a day from now',
			key
		);
	}
	if (editedAt !== undefined && !isPlausibleTimestamp(editedAt, ctx.now)) {
		throw new Refusal(RefusalCode.InvalidMessage, 'editedAt must be a time in ms between 2020 and a day from now', key);
	}
	if (typeof body !== 'string') throw new Refusal(RefusalCode.InvalidMessage, 'body must be a string', key);
	// Deleting for everyone is final: the key then holds its tombstone and nothing else.
	if (deletedBefore && deletedAt === undefined) {
		throw new Refusal(RefusalCode.MessageDeleted, 'this message was deleted for everyone', key);
	}
	if (replyTo !== undefined && (!isMessageId(replyTo) || replyTo === key)) {
		throw new Refusal(RefusalCode.InvalidMessage, 'replyTo is the id of another message', key);
	}
	if (attachments !== undefined && !isAttachmentList(attachments)) {
		throw new Refusal(RefusalCode.InvalidMessage, `attachments are 1 to ${ATTACHMENTS_PER_MESSAGE_MAX} uploads, each as its upload answered`, key);
	}
	if (deletedAt !== undefined) {
		if (replyTo !== undefined || attachments !== undefined) throw new Refusal(RefusalCode.InvalidMessage, 'a deleted message keeps only author, createdAt and deletedAt (body empty)', key);
		if (!isPlausibleTimestamp(deletedAt, ctx.now)) throw new Refusal(RefusalCode.InvalidMessage, 'deletedAt must be a time in ms between 2020 and a day from now', key);
		if (body !== '' || editedAt !== undefined) throw new Refusal(RefusalCode.InvalidMessage, 'a deleted message keeps only author, createdAt and deletedAt (body empty)', key);
		return;
	}
	// A file may go without a caption.
	if (attachments !== undefined && body === '') return;
	const checked = checkMessageBody(body);
	if (!checked.ok) {
		const text = checked.code === 'message-empty' ? 'the message is empty' : `the message is longer than ${MESSAGE_MAX_CHARS} characters`;
		throw new Refusal(checked.code === 'message-empty' ? RefusalCode.MessageEmpty : RefusalCode.MessageTooLong, text, key);
	}
	// The document is what every device shows, so it must hold exactly what the table holds.
	if (checked.body !== body) throw new Refusal(RefusalCode.InvalidMessage, 'trim the body before writing it', key);
}
