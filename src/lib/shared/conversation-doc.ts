import type * as Y from 'yjs';
import { DOC_MESSAGES, DOC_SEQ, type MessageValue, type StoredMessageValue } from './protocol.ts';

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
export function writeMessage(doc: Y.Doc, message: { id: string; author: string; body: string; createdAt?: number }): MessageValue {
	const value: StoredMessageValue = { author: message.author, body: message.body.trim(), createdAt: message.createdAt ?? Date.now() };
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
	messagesMap(doc).set(id, { author: current.author, body: text, createdAt: current.createdAt, editedAt: Date.now() });
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

/** Writes messages carried from an ended epoch into `doc`, with their ids and values unchanged, in one transaction. */
export function carryInto(doc: Y.Doc, messages: MessageValue[]): void {
	const map = messagesMap(doc);
	doc.transact(() => {
		for (const message of messages) if (!map.has(message.id)) map.set(message.id, storedValue(message));
	});
}
