import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser, unwrap } from '$lib/server/api';
import { ApiError } from '$lib/server/errors';
import { listHistory } from '$lib/server/messages';
import { requireMembership } from '$lib/server/route-guards';
import { getRuntime } from '$lib/server/runtime';
import { historyQuery, newMessage } from '$lib/server/schemas';
import { sendAs } from '$lib/server/send';
import { HISTORY_PAGE_DEFAULT, HISTORY_PAGE_MAX } from '$lib/shared/limits';

export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const { db } = getRuntime();
	requireMembership(db, event.params.id, user.id);
	const query = historyQuery.safeParse(Object.fromEntries(event.url.searchParams));
	if (!query.success) throw new ApiError(400, 'invalid-request', `before is a positive sequence number, after a sequence number (0 or more); limit is 1 to ${HISTORY_PAGE_MAX}.`);
	const { limit = HISTORY_PAGE_DEFAULT, ...range } = query.data;
	return json(listHistory(db, event.params.id, range, limit));
});

/** Idempotent on the message id: the same id again returns the stored message, never a second copy. */
export const POST: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	requireMembership(getRuntime().db, event.params.id, user.id);
	const input = await readJson(event, newMessage);
	const { created, message } = unwrap(await sendAs(user, event.params.id, input));
	return json({ message }, { status: created ? 201 : 200 });
});
