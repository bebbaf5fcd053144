import { describe, expect, it } from 'vitest';
import type { HistoryRow } from '../../src/lib/client/history-cache.ts';
import { runEndingAt } from '../../src/lib/sync/older-history.ts';

const row = (seq: number, body = `m${seq}`): HistoryRow => ({
	conversationId: 'c',
	id: `id${seq}`,
	seq,
	author: 'a',
	body,
	createdAt: seq,
	editedAt: null,
	deletedAt: null,
	event: null
});

describe('[OFFLINE-8] the history a device shows before the current epoch', () => {
	it('is one run without gaps ending right before the epoch, so a hole is never shown as history', () => {
		expect(runEndingAt([row(1), row(2), row(3)], 4).map((r) => r.seq)).toEqual([1, 2, 3]);
		expect(runEndingAt([row(1), row(3)], 4).map((r) => r.seq)).toEqual([3]);
		expect(runEndingAt([row(1), row(2)], 5)).toEqual([]);
		expect(runEndingAt([row(5), row(6), row(9)], 7).map((r) => r.seq)).toEqual([5, 6]);
	});

	it('takes the later copy of a row (the server’s, which carries edits)', () => {
		expect(runEndingAt([row(1), row(2), row(2, 'edited')], 3).map((r) => r.body)).toEqual(['m1', 'edited']);
	});
});
