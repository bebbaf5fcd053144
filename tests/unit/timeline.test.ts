import { describe, expect, it } from 'vitest';
import { buildRows, describeEvent, previewOf, unreadAtOpen, type TimelineMessage } from '../../src/lib/client/timeline.ts';
import { CloseReason, RefusalCode } from '../../src/lib/shared/protocol.ts';
import { reasonText } from '../../src/lib/shared/reason-text.ts';

const names: Record<string, string> = { ana: 'Ana', ben: 'Ben', cy: 'Cy' };
const nameOf = (id: string) => names[id] ?? 'someone';

describe('server-written lines', () => {
	it('[VIEW-4] read from the reader’s point of view', () => {
		expect(describeEvent({ type: 'members-added', userIds: ['ben', 'cy'] }, 'ana', 'me', nameOf)).toBe('Ana added Ben and Cy');
		expect(describeEvent({ type: 'members-added', userIds: ['me'] }, 'ana', 'me', nameOf)).toBe('Ana added you');
		expect(describeEvent({ type: 'member-removed', userId: 'ben' }, 'me', 'me', nameOf)).toBe('You removed Ben');
		expect(describeEvent({ type: 'member-left' }, 'ben', 'me', nameOf)).toBe('Ben left');
		expect(describeEvent({ type: 'renamed', title: 'Trip' }, 'ana', 'me', nameOf)).toBe('Ana renamed the group to “Trip”');
	});

	it('[VIEW-4] preview as words, not an empty body', () => {
		const author = { id: 'ben', displayName: 'Ben' };
		expect(previewOf({ author, body: '', event: { type: 'member-left' } }, 'me', nameOf)).toBe('Ben left');
		expect(previewOf({ author, body: 'hi', event: null }, 'me', nameOf)).toBe('hi');
	});
});

describe('rows', () => {
	const day = Date.UTC(2026, 0, 5, 12);
	const message = (seq: number, author: string, extra: Partial<TimelineMessage> = {}): TimelineMessage => ({ id: `m${seq}`, author, body: `b${seq}`, createdAt: day + seq * 1000, seq, ...extra });
	const list = [message(1, 'ana'), message(2, 'me'), message(3, 'ana', { event: { type: 'member-left' } }), message(4, 'ana'), message(5, 'ben'), message(6, 'ana')];

	it('[VIEW-2] the divider counts what was unread at opening: others’ messages, not lines, up to the newest known', () => {
		expect(unreadAtOpen(list, 'me', 2, 6)).toEqual({ index: 3, count: 3 });
		expect(unreadAtOpen(list, 'me', 2, 5)).toEqual({ index: 3, count: 2 });
		expect(unreadAtOpen(list, 'me', 6, 6)).toEqual({ index: -1, count: 0 });
	});

	it('[VIEW-1] keys are stable: one day separator, the divider, then messages and lines by id', () => {
		const rows = buildRows(list, 0, list.length, { index: 3, count: 3 }, () => 'line');
		expect(rows.map((row) => row.key)).toEqual([rows[0]!.key, 'm1', 'm2', 'm3', 'unread', 'm4', 'm5', 'm6']);
		expect(rows[0]!.kind).toBe('day');
		expect(rows.filter((row) => row.kind === 'message' && row.startsRun).map((row) => row.key)).toEqual(['m1', 'm2', 'm4', 'm5', 'm6']);
	});

	it('[VIEW-1] a day that comes back (a clock ahead, then one behind) gets a separator with a key of its own', () => {
		const nextDay = day + 24 * 3600 * 1000;
		const skewed = [message(1, 'ana'), message(2, 'ben', { createdAt: nextDay }), message(3, 'ana'), message(4, 'ben', { createdAt: nextDay })];
		const rows = buildRows(skewed, 0, skewed.length, { index: -1, count: 0 }, () => 'line');
		expect(rows.filter((row) => row.kind === 'day')).toHaveLength(4);
		expect(new Set(rows.map((row) => row.key)).size).toBe(rows.length);
	});
});

describe('refusal wording', () => {
	it.each([...Object.values(RefusalCode), ...Object.values(CloseReason)])('[VIEW-5] %s has a sentence in plain words', (code) => {
		const text = reasonText(code);
		expect(text).not.toBe(code);
		expect(text).toMatch(/^[A-Z].*\.$/);
		expect(text).not.toMatch(/[a-z]+-[a-z]+-?[a-z]*|clientID|struct|update/);
	});
});
