import { api, requireUser } from '$lib/server/api';
import { requireMembership } from '$lib/server/route-guards';
import { markUnread } from '$lib/server/receipts';
import { getRuntime } from '$lib/server/runtime';
import type { RequestHandler } from './$types';

/** Marks the conversation unread for me (a badge of at least 1 on every device) until I read it again. */
export const PUT: RequestHandler = api((event) => {
	const user = requireUser(event);
	const { db, live } = getRuntime();
	requireMembership(db, event.params.id, user.id);
	markUnread(db, event.params.id, user.id);
	live.conversationChanged(event.params.id, [user.id]);
	return new Response(null, { status: 204 });
});
