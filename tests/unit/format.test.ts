import { describe, expect, it } from 'vitest';
import { dayKey, formatDay, formatLastSeen, formatListTime, formatTime } from '../../src/lib/client/format.ts';

describe('time formatting', () => {
	it.each([1e300, -1e300, 9e15, Number.NaN, Infinity])('[GUARD-5] renders %s without throwing', (ms) => {
		for (const format of [formatTime, formatListTime, formatDay, formatLastSeen]) expect(typeof format(ms)).toBe('string');
		expect(Number.isFinite(dayKey(ms))).toBe(true);
	});
});
