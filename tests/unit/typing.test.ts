import { describe, expect, it } from 'vitest';
import { tickFor } from '../../src/lib/shared/receipts.ts';
import { TypingSignal, TypingTracker } from '../../src/lib/shared/typing.ts';

describe('typing (fake clock)', () => {
	it('[TYPING-1] a typing signal expires 5 s after the last one, and renews', () => {
		let now = 1_000;
		const tracker = new TypingTracker(5000, () => now);
		tracker.set('alice', true);
		expect(tracker.active()).toEqual(['alice']);
		now += 4_000;
		tracker.set('alice', true);
		now += 4_999;
		expect(tracker.active()).toEqual(['alice']);
		expect(tracker.nextExpiry()).toBe(1);
		now += 1;
		expect(tracker.active()).toEqual([]);
		expect(tracker.nextExpiry()).toBeNull();
	});

	it('[TYPING-1] "stopped" clears at once; several people are listed in order', () => {
		let now = 0;
		const tracker = new TypingTracker(5000, () => now);
		tracker.set('alice', true);
		now += 10;
		tracker.set('bob', true);
		expect(tracker.active()).toEqual(['alice', 'bob']);
		tracker.set('alice', false);
		expect(tracker.active()).toEqual(['bob']);
	});

	it('[TYPING-1] the sender signals at the first keystroke, then at most every 2.5 s, and stops once', () => {
		let now = 0;
		const signal = new TypingSignal(2500, () => now);
		expect(signal.keystroke()).toBe(true);
		now += 1000;
		expect(signal.keystroke()).toBe(false);
		now += 1500;
		expect(signal.keystroke()).toBe(true);
		expect(signal.stop()).toBe(true);
		expect(signal.stop()).toBe(false);
		expect(signal.keystroke()).toBe(true);
	});
});

describe('ticks', () => {
	const members = (marks: Record<string, [number, number]>) =>
		Object.entries(marks).map(([id, [deliveredSeq, readSeq]]) => ({ id, deliveredSeq, readSeq }));

	it('[RCPT-1] direct: sent, then delivered, then read', () => {
		expect(tickFor(3, 'a', members({ a: [3, 3], b: [2, 1] })).tick).toBe('sent');
		expect(tickFor(3, 'a', members({ a: [3, 3], b: [3, 1] })).tick).toBe('delivered');
		expect(tickFor(3, 'a', members({ a: [3, 3], b: [3, 3] })).tick).toBe('read');
	});

	it('[RCPT-1] group: delivered and read only when every other member is, with who read it', () => {
		const partly = tickFor(5, 'a', members({ a: [5, 5], b: [5, 5], c: [5, 4] }));
		expect(partly).toMatchObject({ tick: 'delivered', readBy: ['b'] });
		expect(tickFor(5, 'a', members({ a: [0, 0], b: [5, 5], c: [4, 4] })).tick).toBe('sent');
		expect(tickFor(5, 'a', members({ a: [0, 0], b: [9, 9], c: [5, 5] })).readBy).toEqual(['b', 'c']);
	});
});
