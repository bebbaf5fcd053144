import { describe, expect, it } from 'vitest';
import { parseRateSpec, TokenBuckets } from '../../src/lib/server/rate-limit.ts';

function fakeClock(start = 1_000_000) {
	let now = start;
	return { now: () => now, advance: (ms: number) => (now += ms) };
}

describe('parseRateSpec', () => {
	it('reads a count per period, with an optional number of units', () => {
		expect(parseRateSpec('10/15m')).toEqual({ capacity: 10, windowMs: 15 * 60_000 });
		expect(parseRateSpec('5/h')).toEqual({ capacity: 5, windowMs: 3_600_000 });
		expect(parseRateSpec('120/m')).toEqual({ capacity: 120, windowMs: 60_000 });
		expect(parseRateSpec('30/10s')).toEqual({ capacity: 30, windowMs: 10_000 });
		expect(parseRateSpec('100/1d')).toEqual({ capacity: 100, windowMs: 86_400_000 });
		expect(parseRateSpec(' 7/2h ')).toEqual({ capacity: 7, windowMs: 7_200_000 });
	});

	it('throws a message that shows the expected form', () => {
		for (const bad of ['', '10', '10/', '/m', '0/m', '10/0m', '-1/m', '1.5/m', '10/15x', '10 per minute', 'ten/m']) {
			expect(() => parseRateSpec(bad), bad).toThrow(/is not a rate: write <count>\/<period>/);
		}
	});
});

describe('TokenBuckets', () => {
	it('lets a full bucket through `capacity` times, then says how long to wait', () => {
		const clock = fakeClock();
		const buckets = new TokenBuckets({ capacity: 3, windowMs: 3000 }, { now: clock.now });
		for (let i = 0; i < 3; i++) expect(buckets.take('a')).toEqual({ ok: true });
		expect(buckets.take('a')).toEqual({ ok: false, retryAfterMs: 1000 });
		clock.advance(400);
		expect(buckets.take('a')).toEqual({ ok: false, retryAfterMs: 600 });
		clock.advance(600);
		expect(buckets.take('a')).toEqual({ ok: true });
		expect(buckets.take('a').ok).toBe(false);
	});

	it('keeps keys apart', () => {
		const buckets = new TokenBuckets({ capacity: 1, windowMs: 1000 }, { now: fakeClock().now });
		expect(buckets.take('a').ok).toBe(true);
		expect(buckets.take('a').ok).toBe(false);
		expect(buckets.take('b').ok).toBe(true);
	});

	it('refills evenly and never above capacity', () => {
		const clock = fakeClock();
		const buckets = new TokenBuckets({ capacity: 2, windowMs: 2000 }, { now: clock.now });
		buckets.take('a', 2);
		clock.advance(1_000_000);
		expect(buckets.take('a', 2).ok).toBe(true);
		expect(buckets.take('a').ok).toBe(false);
	});

	it('lets a burst larger than the bucket through once from full, then the key waits it off', () => {
		const clock = fakeClock();
		const buckets = new TokenBuckets({ capacity: 60, windowMs: 60_000 }, { now: clock.now });
		expect(buckets.take('a', 200)).toEqual({ ok: true });
		// 140 tokens in debt: a single token is 141 seconds away.
		expect(buckets.take('a')).toEqual({ ok: false, retryAfterMs: 141_000 });
		expect(buckets.take('a', 200)).toEqual({ ok: false, retryAfterMs: 200_000 });
		clock.advance(200_000);
		expect(buckets.take('a', 200).ok).toBe(true);
	});

	it('does not let a large cost through a bucket that is not full', () => {
		const buckets = new TokenBuckets({ capacity: 60, windowMs: 60_000 }, { now: fakeClock().now });
		buckets.take('a', 1);
		expect(buckets.take('a', 200)).toEqual({ ok: false, retryAfterMs: 1000 });
	});

	it('check answers like take without taking', () => {
		const buckets = new TokenBuckets({ capacity: 2, windowMs: 1000 }, { now: fakeClock().now });
		expect(buckets.check('a', 2)).toEqual({ ok: true });
		expect(buckets.check('a', 2)).toEqual({ ok: true });
		buckets.take('a', 2);
		expect(buckets.check('a')).toEqual({ ok: false, retryAfterMs: 500 });
		expect(buckets.take('a')).toEqual({ ok: false, retryAfterMs: 500 });
	});

	it('refund puts tokens back, up to capacity', () => {
		const buckets = new TokenBuckets({ capacity: 2, windowMs: 60_000 }, { now: fakeClock().now });
		buckets.take('a');
		buckets.take('a');
		expect(buckets.take('a').ok).toBe(false);
		buckets.refund('a');
		expect(buckets.take('a').ok).toBe(true);
		buckets.refund('a', 50);
		expect(buckets.size).toBe(0);
		expect(buckets.take('a', 2).ok).toBe(true);
		expect(buckets.take('a').ok).toBe(false);
		buckets.refund('never-seen');
		expect(buckets.size).toBe(1);
	});

	it('forgets buckets that are full again', () => {
		const clock = fakeClock();
		const buckets = new TokenBuckets({ capacity: 10, windowMs: 1000 }, { now: clock.now });
		for (let i = 0; i < 100; i++) buckets.take(`key-${i}`);
		expect(buckets.size).toBe(100);
		clock.advance(1000);
		buckets.take('one more');
		expect(buckets.size).toBe(1);
	});

	it('keeps at most maxKeys, dropping the least recently used first', () => {
		const clock = fakeClock();
		const buckets = new TokenBuckets({ capacity: 1, windowMs: 60_000 }, { now: clock.now, maxKeys: 3 });
		for (const key of ['a', 'b', 'c']) buckets.take(key);
		clock.advance(1);
		buckets.refund('a');
		buckets.take('a'); // now a is the most recently used
		buckets.take('d'); // no room: b goes
		expect(buckets.size).toBe(3);
		expect(buckets.check('a').ok).toBe(false);
		expect(buckets.check('b').ok).toBe(true);
		expect(buckets.check('c').ok).toBe(false);
		expect(buckets.check('d').ok).toBe(false);
	});

	it('a clock that steps back refills nothing', () => {
		const clock = fakeClock();
		const buckets = new TokenBuckets({ capacity: 1, windowMs: 1000 }, { now: clock.now });
		buckets.take('a');
		clock.advance(-10_000);
		expect(buckets.take('a').ok).toBe(false);
	});
});
