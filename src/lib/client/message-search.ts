/**
 * Finding messages (SEARCH-2): the server's index when online, and what this device holds when not
 * (the history cache, which also keeps the messages of conversations opened here). Both give the
 * same kind of result, with the matched words marked.
 */
import type { HistoryCache, HistoryRow } from './history-cache.ts';
import type { SearchHit } from '$lib/shared/api-types';

export interface FoundMessage {
	conversationId: string;
	id: string;
	author: string;
	createdAt: number;
	/** The text around the matches, split into plain and matched parts. */
	parts: Array<{ text: string; hit: boolean }>;
}

/** Lower case without accents: how words are compared (the server's index does the same). */
function fold(text: string): string {
	return text.normalize('NFKD').replace(/\p{M}/gu, '').toLowerCase();
}

/** The words a query looks for, as the server reads them: letters and digits, at most eight. */
export function queryWords(query: string): string[] {
	return (fold(query).match(/[\p{L}\p{N}]+/gu) ?? []).slice(0, 8);
}

/** A snippet from the server: matches sit between U+0002 and U+0003. */
export function snippetParts(snippet: string): FoundMessage['parts'] {
	const parts: FoundMessage['parts'] = [];
	const pieces = snippet.replaceAll('\u0003', '\u0002').split('\u0002');
	for (const [index, piece] of pieces.entries()) if (piece) parts.push({ text: piece, hit: index % 2 === 1 });
	return parts;
}

export function fromServer(hit: SearchHit): FoundMessage {
	const { conversationId, message, snippet } = hit;
	return { conversationId, id: message.id, author: message.author.id, createdAt: message.createdAt, parts: snippetParts(snippet) };
}

/**
 * Whether a body holds every word (the last as a prefix, as someone may still be typing it), and
 * where: the words of the body that match, as [start, end) ranges.
 */
export function matchRanges(body: string, words: string[]): Array<[number, number]> | null {
	if (words.length === 0) return null;
	const tokens: Array<{ word: string; start: number; end: number }> = [];
	for (const match of body.matchAll(/[\p{L}\p{N}\p{M}]+/gu)) tokens.push({ word: fold(match[0]), start: match.index, end: match.index + match[0].length });
	const ranges: Array<[number, number]> = [];
	for (const [index, word] of words.entries()) {
		const last = index === words.length - 1;
		const hits = tokens.filter((t) => (last ? t.word.startsWith(word) : t.word === word));
		if (hits.length === 0) return null;
		for (const t of hits) ranges.push([t.start, t.end]);
	}
	return ranges.sort((a, b) => a[0] - b[0]);
}

/** The body around its first match (about 100 characters), split into plain and matched parts. */
export function localParts(body: string, ranges: Array<[number, number]>): FoundMessage['parts'] {
	const from = Math.max(0, ranges[0]![0] - 40);
	const to = Math.min(body.length, from + 110);
	const parts: FoundMessage['parts'] = [];
	let at = from;
	if (from > 0) parts.push({ text: '…', hit: false });
	for (const [start, end] of ranges) {
		if (end <= at || start >= to) continue;
		if (start > at) parts.push({ text: body.slice(at, start), hit: false });
		parts.push({ text: body.slice(Math.max(start, at), Math.min(end, to)), hit: true });
		at = Math.min(end, to);
	}
	if (at < to) parts.push({ text: body.slice(at, to), hit: false });
	if (to < body.length) parts.push({ text: '…', hit: false });
	return parts;
}

/** The rows of this device that match, newest first: what searching offline finds. */
export async function searchDevice(cache: HistoryCache, query: string, conversations: Set<string>, limit = 30): Promise<FoundMessage[]> {
	const words = queryWords(query);
	if (words.length === 0) return [];
	const found: Array<{ row: HistoryRow; ranges: Array<[number, number]> }> = [];
	for (const row of await cache.all()) {
		if (row.deletedAt !== null || row.event || !conversations.has(row.conversationId)) continue;
		const ranges = matchRanges(row.body, words);
		if (ranges) found.push({ row, ranges });
	}
	found.sort((a, b) => b.row.createdAt - a.row.createdAt || b.row.seq - a.row.seq);
	return found.slice(0, limit).map(({ row, ranges }) => ({
		conversationId: row.conversationId,
		id: row.id,
		author: row.author,
		createdAt: row.createdAt,
		parts: localParts(row.body, ranges)
	}));
}
