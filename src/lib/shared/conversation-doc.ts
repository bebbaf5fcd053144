import type * as Y from 'yjs';
import type { ReactionDto } from './api-types.ts';
import { DOC_MESSAGES, DOC_REACTIONS, DOC_SEQ, parseReactionKey, reactionKey, type MessageValue, type StoredMessageValue } from './protocol.ts';

/** Reading and writing a conversation document the way the server expects (docs/protocol.md). */

export function messagesMap(doc: Y.Doc): Y.Map<StoredMessageValue> {
	return doc.getMap<StoredMessageValue>(DOC_MESSAGES);
}

/** The message stored under `id`, with its id. */
export function messageOf(doc: Y.Doc, id: string): MessageValue | undefined {
	const value = messagesMap(doc).get(id);
	return value && { ...value, id };
}

/** What goes into the document for a message: its fields without the id, which is the key. */
export function storedValue({ id: _id, ...value }: MessageValue | StoredMessageValue): StoredMessageValue {
	return value;
}

export function seqMap(doc: Y.Doc): Y.Map<number> {
	return doc.getMap<number>(DOC_SEQ);
}

/**
 * Adds a message as `author`, its body trimmed as the server requires; it is durable on the server
 * once {@link sequenceOf} returns a number.
 */
export function writeMessage(doc: Y.Doc, message: { id: string; author: string; body: string; createdAt?: number; replyTo?: string }): MessageValue {
	const value: StoredMessageValue = { author: message.author, body: message.body.trim(), createdAt: message.createdAt ?? Date.now() };
	if (message.replyTo) value.replyTo = message.replyTo;
	messagesMap(doc).set(message.id, value);
	return { ...value, id: message.id };
}

/**
 * The author's new text for their message, marked edited, keeping its createdAt. `previous` is the
 * message as the device knows it when the document does not hold it (a message of an ended epoch,
 * from the history: written into this epoch, it keeps its seq, EPOCH-3). False when there is nothing
 * to edit (unknown, deleted, or the same text).
 */
export function editMessage(doc: Y.Doc, id: string, body: string, previous?: MessageValue): boolean {
	const current = messageOf(doc, id) ?? previous;
	const text = body.trim();
	if (!current || current.deletedAt !== undefined || current.event || current.body === text) return false;
	const value: StoredMessageValue = { author: current.author, body: text, createdAt: current.createdAt, editedAt: Date.now() };
	if (current.replyTo) value.replyTo = current.replyTo;
	// Files stay as they were: an edit changes the caption only (ATTACH-2).
	if (current.attachments?.length) value.attachments = current.attachments;
	messagesMap(doc).set(id, value);
	return true;
}

/**
 * Deletes the author's message for everyone: its value becomes a tombstone (author, createdAt,
 * deletedAt, empty body), so every device shows "message deleted" where it was and the body is
 * garbage-collected from every copy. `previous` as for {@link editMessage}.
 */
export function deleteForEveryone(doc: Y.Doc, id: string, previous?: MessageValue): boolean {
	const current = messageOf(doc, id) ?? previous;
	if (!current || current.deletedAt !== undefined || current.event) return false;
	messagesMap(doc).set(id, { author: current.author, body: '', createdAt: current.createdAt, deletedAt: Date.now() });
	return true;
}

/** The server's sequence number for a message: present only once the message is on the server's disk. */
export function sequenceOf(doc: Y.Doc, id: string): number | undefined {
	return seqMap(doc).get(id);
}

export interface OrderedMessage extends MessageValue {
	/** Undefined while the message is not yet acknowledged by the server. */
	seq?: number;
}

/**
 * Messages in the order every device shows: by server sequence; messages not yet acknowledged
 * follow, by their author's clock then id.
 */
export function orderedMessages(doc: Y.Doc): OrderedMessage[] {
	const seqs = seqMap(doc);
	const list: OrderedMessage[] = [];
	for (const [id, value] of messagesMap(doc)) {
		const seq = seqs.get(id);
		list.push(seq === undefined ? { ...value, id } : { ...value, id, seq });
	}
	return list.sort((a, b) => {
		if (a.seq !== undefined && b.seq !== undefined) return a.seq - b.seq;
		if (a.seq !== undefined) return -1;
		if (b.seq !== undefined) return 1;
		return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
	});
}

/**
 * The messages `userId` wrote in `doc` that the server has not acknowledged there: what a device
 * writes again into the next epoch's document when this one ends (EPOCH-3).
 */
export function unacknowledged(doc: Y.Doc, userId: string): MessageValue[] {
	const seqs = seqMap(doc);
	const list: MessageValue[] = [];
	for (const [id, value] of messagesMap(doc)) if (value.author === userId && !seqs.has(id)) list.push({ ...value, id });
	return list.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

/**
 * Writes messages carried from another document of the conversation (an ended epoch's, or one whose
 * database was lost) into `doc`, with their ids and values unchanged, in one transaction: each one
 * `doc` lacks, or holds in an earlier version (edited before the carried value was, or not deleted
 * when the carried one is). A deletion in `doc` is final and stays.
 */
export function carryInto(doc: Y.Doc, messages: MessageValue[]): void {
	const map = messagesMap(doc);
	doc.transact(() => {
		for (const message of messages) {
			const present = map.get(message.id);
			if (!present || isLaterVersion(message, present)) map.set(message.id, storedValue(message));
		}
	});
}

/** Whether `carried` is a later version of a message than `present`: a deletion, or edited later. A deletion is final. */
export function isLaterVersion(carried: StoredMessageValue, present: StoredMessageValue): boolean {
	if (present.deletedAt !== undefined) return false;
	if (carried.deletedAt !== undefined) return true;
	return (carried.editedAt ?? 0) > (present.editedAt ?? 0);
}

export function reactionsMap(doc: Y.Doc): Y.Map<string[]> {
	return doc.getMap<string[]>(DOC_REACTIONS);
}

/**
 * Sets `userId`'s reactions to a message (the whole list; empty: none, kept as an empty list so it
 * also overrides what the history says of a message of an ended epoch). Setting the same list again
 * changes nothing.
 */
export function setReactions(doc: Y.Doc, messageId: string, userId: string, emoji: string[]): void {
	const map = reactionsMap(doc);
	const key = reactionKey(messageId, userId);
	const current = map.get(key);
	if (current && current.length === emoji.length && current.every((e, i) => e === emoji[i])) return;
	map.set(key, [...emoji]);
}

/** Each message's per-user reaction lists in a document (lists as written, empty ones included). */
export function reactionEntries(doc: Y.Doc): Map<string, Array<[string, string[]]>> {
	const perMessage = new Map<string, Array<[string, string[]]>>();
	for (const [key, emoji] of reactionsMap(doc)) {
		const parsed = parseReactionKey(key);
		if (!parsed || !Array.isArray(emoji)) continue;
		const list = perMessage.get(parsed.messageId) ?? [];
		list.push([parsed.userId, emoji]);
		perMessage.set(parsed.messageId, list);
	}
	return perMessage;
}

/** A message's reactions as the history gave them, with the users' lists in `override` (a later epoch's document) replacing theirs. */
export function mergeReactions(base: ReactionDto[], override: Array<[string, string[]]> = []): ReactionDto[] {
	const perUser = new Map<string, string[]>();
	for (const { emoji, userIds } of base) for (const userId of userIds) perUser.set(userId, [...(perUser.get(userId) ?? []), emoji]);
	for (const [userId, emoji] of override) perUser.set(userId, emoji);
	return aggregateReactions([...perUser]);
}

/** Adds or removes one emoji of `userId`'s on a message, given what the device shows now. */
export function toggledReactions(current: ReactionDto[], userId: string, emoji: string): string[] {
	const mine = current.filter((r) => r.userIds.includes(userId)).map((r) => r.emoji);
	return mine.includes(emoji) ? mine.filter((e) => e !== emoji) : [...mine, emoji];
}

/** Every message's reactions in a document: each emoji with who reacted with it, users in id order (the server's order too). */
export function allReactions(doc: Y.Doc): Map<string, ReactionDto[]> {
	const result = new Map<string, ReactionDto[]>();
	for (const [messageId, users] of reactionEntries(doc)) result.set(messageId, aggregateReactions(users));
	return result;
}

/** One message's reactions in a document. */
export function reactionsTo(doc: Y.Doc, messageId: string): ReactionDto[] {
	return allReactions(doc).get(messageId) ?? [];
}

/** Per-user lists as the timeline shows them: each emoji once, with its users; users in id order. */
export function aggregateReactions(users: Array<[string, string[]]>): ReactionDto[] {
	const list: ReactionDto[] = [];
	for (const [userId, emoji] of [...users].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))) {
		for (const e of emoji) {
			const entry = list.find((r) => r.emoji === e);
			if (entry) entry.userIds.push(userId);
			else list.push({ emoji: e, userIds: [userId] });
		}
	}
	return list;
}
