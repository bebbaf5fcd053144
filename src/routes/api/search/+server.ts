import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, requireUser } from '$lib/server/api';
import { ApiError, RateLimitedError } from '$lib/server/errors';
import { getRuntime } from '$lib/server/runtime';
import { searchQuery } from '$lib/server/schemas';
import { ftsQuery, searchMessages } from '$lib/server/search';

/** Messages of my conversations that contain the words of `q`, newest first, a page at a time. */
export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const parsed = searchQuery.safeParse(Object.fromEntries(event.url.searchParams));
	if (!parsed.success) throw new ApiError(400, 'invalid-request', `${parsed.error.issues[0]?.path.join('.') || 'query'}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
	const { q, before, limit = 20 } = parsed.data;
	if (ftsQuery(q) === null) throw new ApiError(400, 'invalid-request', 'q: search for at least one word (letters or digits)');
	const { db, limiters } = getRuntime();
	const allowed = limiters.peopleSearch.take(user.id);
	if (!allowed.ok) throw new RateLimitedError(allowed.retryAfterMs, 'Too many searches');
	return json(searchMessages(db, user.id, q, before ?? null, limit));
});
