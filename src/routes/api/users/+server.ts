import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, requireUser } from '$lib/server/api';
import { ApiError, RateLimitedError } from '$lib/server/errors';
import { getRuntime } from '$lib/server/runtime';
import { peopleQuery } from '$lib/server/schemas';
import { searchPeople } from '$lib/server/users';

/** Find people to talk to by a prefix of their username or display name: a few at a time, never the whole list. */
export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const parsed = peopleQuery.safeParse({ q: event.url.searchParams.get('q') ?? '' });
	if (!parsed.success) throw new ApiError(400, 'invalid-request', `q: ${parsed.error.issues[0]?.message ?? 'invalid query'}`);
	const { db, limiters } = getRuntime();
	const allowed = limiters.peopleSearch.take(user.id);
	if (!allowed.ok) throw new RateLimitedError(allowed.retryAfterMs, 'Too many searches');
	return json({ users: searchPeople(db, user.id, parsed.data.q) });
});
