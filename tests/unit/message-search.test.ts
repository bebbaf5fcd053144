import { describe, expect, it } from 'vitest';
import { localParts, matchRanges, queryWords, snippetParts } from '../../src/lib/client/message-search.ts';

describe('searching on the device', () => {
	it('[SEARCH-2] reads words as the server does: letters and digits, lower case, without accents', () => {
		expect(queryWords('  Café, 12-B! ')).toEqual(['cafe', '12', 'b']);
		expect(queryWords('!!!')).toEqual([]);
	});

	it('[SEARCH-2] every word must occur, the last as a prefix', () => {
		expect(matchRanges('Meet at the Café Lépine', ['cafe', 'lep'])).toEqual([
			[12, 16],
			[17, 23]
		]);
		expect(matchRanges('Meet at the café', ['cafe', 'lep'])).toBeNull();
		expect(matchRanges('addresses', ['address'])).toEqual([[0, 9]]);
		expect(matchRanges('addresses here', ['address', 'here'])).toBeNull();
	});

	it('[SEARCH-2] marks the matches in a snippet, from the server or made here', () => {
		expect(snippetParts('the \u0002party\u0003 address')).toEqual([
			{ text: 'the ', hit: false },
			{ text: 'party', hit: true },
			{ text: ' address', hit: false }
		]);
		const body = 'bring pizza, not sushi';
		expect(localParts(body, matchRanges(body, ['pizza'])!)).toEqual([
			{ text: 'bring ', hit: false },
			{ text: 'pizza', hit: true },
			{ text: ', not sushi', hit: false }
		]);
	});
});
