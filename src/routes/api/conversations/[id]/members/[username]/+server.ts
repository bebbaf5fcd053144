import type { RequestHandler } from './$types';
import { api, requireUser } from '$lib/server/api';
import { removeGroupMember } from '$lib/server/conversations';
import { getRuntime } from '$lib/server/runtime';

/** Removes a member (or leaves); their open sync connections to the conversation close at once. */
export const DELETE: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { db, live } = getRuntime();
	const removedId = removeGroupMember(db, user, event.params.id, event.params.username);
	live.revoke(event.params.id, removedId);
	live.removedFromConversation(event.params.id, removedId);
	await live.recordEvent(event.params.id, user.id, removedId === user.id ? { type: 'member-left' } : { type: 'member-removed', userId: removedId });
	live.conversationChanged(event.params.id);
	return new Response(null, { status: 204 });
});
