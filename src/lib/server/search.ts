import type { Db } from './db/index.ts';
import { indexPending } from '../../../server/sync/search-index.mjs';
import { getMessage } from './messages.ts';
import type { SearchHit, SearchPage } from '../shared/api-types.ts';

/** Words of a query that the index can match: letters and digits, at most this many. */
const MAX_TERMS = 8;
/** Marks around the matched words in a snippet (control characters: they never occur in a trimmed body's words). */
export const SNIPPET_OPEN = '\u0002';
export const SNIPPET_CLOSE = '\u0003';

/**
 * The FTS5 query for what a person typed: every word must occur (a prefix, for the last word, as
 * they may still be typing it). Each word is quoted, so nothing typed is read as FTS5 syntax.
 * Null when there is no word to look for.
 */
export function ftsQuery(text: string): string | null {
	const words = text.normalize('NFKC').match(/[\p{L}\p{N}]+/gu)?.slice(0, MAX_TERMS) ?? [];
	if (words.length === 0) return null;
	return words.map((word, index) => `"${word}"${index === words.length - 1 ? '*' : ''}`).join(' ');
}

/**
 * Full-text search over the messages of the user's conversations (SEARCH-1): those they are a member
 * of now (a removed member's old conversations are not searched), deleted messages never (they are
 * out of the index). Newest first; `before` is the cursor of the previous page.
 */
export function searchMessages(db: Db, userId: string, text: string, before: number | null, limit: number): SearchPage {
	const query = ftsQuery(text);
	if (query === null) return { results: [], nextCursor: null };
	// Messages of the last second are not indexed yet (the worker does it in batches): now, so a search finds them.
	for (let rounds = 0; rounds < 20 && indexPending(db.$client) > 0; rounds++);
	const rows = db.$client
		.prepare(
			`select f.rowid as cursor, f.conversation_id as conversationId, f.message_id as messageId,
				snippet(messages_fts, 0, char(2), char(3), '…', 16) as snippet
			from messages_fts f
			join members m on m.conversation_id = f.conversation_id and m.user_id = ?
			where messages_fts match ? and (? is null or f.rowid < ?)
			order by f.rowid desc
			limit ?`
		)
		.all(userId, query, before, before, limit + 1) as Array<{ cursor: number; conversationId: string; messageId: string; snippet: string }>;
	const page = rows.slice(0, limit);
	const results: SearchHit[] = page.flatMap((row) => {
		const message = getMessage(db, row.conversationId, row.messageId);
		return message ? [{ conversationId: row.conversationId, message, snippet: row.snippet }] : [];
	});
	return { results, nextCursor: rows.length > limit ? (page.at(-1)?.cursor ?? null) : null };
}
