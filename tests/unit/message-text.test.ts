import { describe, expect, it } from 'vitest';
import { isOnlyEmoji, segmentsOf } from '../../src/lib/client/message-text.ts';

const links = (text: string) => segmentsOf(text).flatMap((s) => (s.kind === 'link' ? [[s.text, s.href]] : []));

describe('[VIEW-7] message text', () => {
	it('makes web addresses links, without the punctuation that ends the sentence', () => {
		expect(links('see https://example.com/a?b=1.')).toEqual([['https://example.com/a?b=1', 'https://example.com/a?b=1']]);
		expect(links('at www.campus.edu/map, then')).toEqual([['www.campus.edu/map', 'https://www.campus.edu/map']]);
		expect(links('(https://en.wikipedia.org/wiki/Lift_(elevator))')).toEqual([
			['https://en.wikipedia.org/wiki/Lift_(elevator)', 'https://en.wikipedia.org/wiki/Lift_(elevator)']
		]);
		expect(links('two: http://a.example and https://b.example!')).toHaveLength(2);
	});

	it('never links anything but http and https', () => {
		expect(links('javascript:alert(1) data:text/html,hi file:///etc/passwd')).toEqual([]);
		expect(links('JAVASCRIPT://www.example.com')).toEqual([['www.example.com', 'https://www.example.com/']]);
	});

	it('gives the text back whole', () => {
		for (const text of ['plain', 'a https://x.example b', 'https://x.example', 'end www.y.example.', '']) {
			expect(segmentsOf(text).map((s) => s.text).join('')).toBe(text);
		}
	});

	it('knows a message of a few emoji, joined ones too, from one with words', () => {
		expect(isOnlyEmoji('👍')).toBe(true);
		expect(isOnlyEmoji('🎉 🎉')).toBe(true);
		expect(isOnlyEmoji('👩‍👩‍👧‍👦')).toBe(true);
		expect(isOnlyEmoji('ok 👍')).toBe(false);
		expect(isOnlyEmoji('👍👍👍👍')).toBe(false);
		expect(isOnlyEmoji('123')).toBe(false);
	});
});
