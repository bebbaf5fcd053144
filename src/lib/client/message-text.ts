/**
 * How a message's text shows: links are clickable (http and https only, so never `javascript:`),
 * and a message of only a few emoji shows large, as in WhatsApp.
 */

export type TextSegment = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

/** A web address: with its scheme, or starting `www.`; it stops at whitespace and angle brackets. */
const ADDRESS = /\b(?:https?:\/\/|www\.)[^\s<>"]+/giu;
/** Punctuation that ends a sentence more often than an address. */
const TRAILING = /[.,:;!?'’"”)\]}]+$/u;

/** The message's text cut into plain runs and links, in order; joined, they give the text back. */
export function segmentsOf(text: string): TextSegment[] {
	const segments: TextSegment[] = [];
	let last = 0;
	for (const match of text.matchAll(ADDRESS)) {
		let address = match[0];
		// A closing bracket belongs to the address only when it opened one.
		const trailing = TRAILING.exec(address)?.[0] ?? '';
		let cut = trailing.length;
		while (cut > 0 && trailing[trailing.length - cut] === ')' && count(address, '(') > count(address.slice(0, -cut), ')')) cut -= 1;
		address = address.slice(0, address.length - cut);
		const href = hrefOf(address);
		if (!href) continue;
		const start = match.index;
		if (start > last) segments.push({ kind: 'text', text: text.slice(last, start) });
		segments.push({ kind: 'link', text: address, href });
		last = start + address.length;
	}
	if (last < text.length) segments.push({ kind: 'text', text: text.slice(last) });
	return segments;
}

function count(text: string, char: string): number {
	return text.split(char).length - 1;
}

/** The address as a link target: http or https only; null when it is not a valid one. */
function hrefOf(address: string): string | null {
	try {
		const url = new URL(/^www\./iu.test(address) ? `https://${address}` : address);
		return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null;
	} catch {
		return null;
	}
}

const EMOJI = /^\p{Extended_Pictographic}/u;
const segmenter = typeof Intl !== 'undefined' && 'Segmenter' in Intl ? new Intl.Segmenter(undefined, { granularity: 'grapheme' }) : null;

/** Whether the message is only emoji (at most `max`, spaces between them allowed): it shows large. */
export function isOnlyEmoji(text: string, max = 3): boolean {
	if (!segmenter) return false;
	let emoji = 0;
	for (const { segment } of segmenter.segment(text)) {
		if (/^\s+$/u.test(segment)) continue;
		if (!EMOJI.test(segment) || ++emoji > max) return false;
	}
	return emoji > 0;
}
