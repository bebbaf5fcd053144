import type * as Y from 'yjs';
import { DOC_MESSAGES, DOC_SEQ, type MessageValue } from './protocol.ts';

/** Reading and writing a conversation document the way the server expects (docs/protocol.md). */

export function messagesMap(doc: Y.Doc): Y.Map<MessageValue> {
	return doc.getMap<MessageValue>(DOC_MESSAGES);
}

export function seqMap(doc: Y.Doc): Y.Map<number> {
	return doc.getMap<number>(DOC_SEQ);
}

/**
 * Adds a message as `author`, its body trimmed as the server requires; it is durable on the server
 * once {@link sequenceOf} returns a number.
 */
export function writeMessage(doc: Y.Doc, message: { id: string; author: string; body: string; createdAt?: number }): MessageValue {
	const value: MessageValue = { id: message.id, author: message.author, body: message.body.trim(), createdAt: message.createdAt ?? Date.now() };
	messagesMap(doc).set(message.id, value);
	return value;
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
		list.push(seq === undefined ? value : { ...value, seq });
	}
	return list.sort((a, b) => {
		if (a.seq !== undefined && b.seq !== undefined) return a.seq - b.seq;
		if (a.seq !== undefined) return -1;
		if (b.seq !== undefined) return 1;
		return a.createdAt - b.createdAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
	});
}
