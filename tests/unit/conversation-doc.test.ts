import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { carryInto, messageOf, messagesMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import type { MessageValue } from '../../src/lib/shared/protocol.ts';

const base: MessageValue = { id: 'm1', author: 'u1', body: 'first', createdAt: 1000 };

function docWith(...values: MessageValue[]): Y.Doc {
	const doc = new Y.Doc();
	carryInto(doc, values);
	return doc;
}

describe('[EPOCH-3] [OFFLINE-7] carrying messages into another document of the conversation', () => {
	it('writes the messages the document lacks, with their ids and values unchanged', () => {
		const doc = new Y.Doc();
		writeMessage(doc, { id: 'm0', author: 'u1', body: 'there already', createdAt: 500 });
		carryInto(doc, [base, { ...base, id: 'm2', replyTo: 'm1' }]);
		expect(messageOf(doc, 'm1')).toEqual(base);
		expect(messageOf(doc, 'm2')).toEqual({ ...base, id: 'm2', replyTo: 'm1' });
		expect(messageOf(doc, 'm0')?.body).toBe('there already');
	});

	it('leaves a message the document holds in the same version untouched: no new write', () => {
		const doc = docWith(base);
		const updates: Uint8Array[] = [];
		doc.on('update', (update: Uint8Array) => updates.push(update));
		carryInto(doc, [base]);
		expect(updates).toEqual([]);
	});

	it('replaces an earlier version with a later edit (an edit whose write the lost database never took)', () => {
		const doc = docWith(base);
		const edited = { ...base, body: 'edited', editedAt: 2000 };
		carryInto(doc, [edited]);
		expect(messageOf(doc, 'm1')).toEqual(edited);
		// An older edit does not undo a newer one.
		carryInto(doc, [{ ...base, body: 'older edit', editedAt: 1500 }]);
		expect(messageOf(doc, 'm1')).toEqual(edited);
	});

	it('replaces a message with its deletion, and never a deletion with anything', () => {
		const doc = docWith({ ...base, editedAt: 3000 });
		const tombstone = { id: 'm1', author: 'u1', body: '', createdAt: 1000, deletedAt: 2000 };
		carryInto(doc, [tombstone]);
		expect(messageOf(doc, 'm1')).toEqual(tombstone);
		carryInto(doc, [{ ...base, body: 'back again?', editedAt: 9000 }, { ...tombstone, deletedAt: 9000 }]);
		expect(messageOf(doc, 'm1')).toEqual(tombstone);
		expect(messagesMap(doc).size).toBe(1);
	});
});
