import type { RequestHandler } from './$types';
import { api, requireUser } from '$lib/server/api';
import { removeGroupMember } from '$lib/server/conversations';
import { getRuntime } from '$lib/server/runtime';

/** Removes a member (or leaves); their open sync connections to the conversation close at once. */
export const DELETE: RequestHandler = api((event) => {
	const user = requireUser(event);
	const { db, live } = getRuntime();
	const removedId = removeGroupMember(db, user, event.params.id, event.params.username);
	live.revoke(event.params.id, removedId);
	live.removedFromConversation(event.params.id, removedId);
	live.conversationChanged(event.params.id);
	return new Response(null, { status: 204 });
});
