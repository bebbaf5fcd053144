import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, requireUser, unwrap } from '$lib/server/api';
import { getRuntime } from '$lib/server/runtime';
import { staffInbox } from '$lib/server/staff';

/** A support agent's inbox: the platform's open support conversations, unanswered first, with who answered the others. */
export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const { db, live } = getRuntime();
	return json({ conversations: unwrap(staffInbox(db, user, live.isOnline)) });
});
