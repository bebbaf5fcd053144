import type { RequestHandler } from './$types';
import { api, requireUser, unwrap } from '$lib/server/api';
import { setArchived } from '$lib/server/conversations';
import { getRuntime } from '$lib/server/runtime';

/** Archives the conversation for me: out of my main list until something newer arrives (then it comes back by itself). */
export const PUT: RequestHandler = api((event) => change(event, true));

/** Back into my main list. */
export const DELETE: RequestHandler = api((event) => change(event, false));

function change(event: Parameters<RequestHandler>[0], archived: boolean): Response {
	const user = requireUser(event);
	const { db, live } = getRuntime();
	unwrap(setArchived(db, user, event.params.id, archived));
	// My other devices follow.
	live.conversationChanged(event.params.id, [user.id]);
	return new Response(null, { status: 204 });
}
