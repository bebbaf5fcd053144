import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser, unwrap } from '$lib/server/api';
import { addGroupMembers, countInvited } from '$lib/server/conversations';
import { RateLimitedError } from '$lib/server/errors';
import { getRuntime } from '$lib/server/runtime';
import { newMembers } from '$lib/server/schemas';

export const POST: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const input = await readJson(event, newMembers);
	const { db, live, limiters } = getRuntime();
	const allowed = limiters.membersAdded.check(user.id, countInvited(user, input.members));
	if (!allowed.ok) throw new RateLimitedError(allowed.retryAfterMs, 'Too many people added to conversations');
	// The write is synchronous, so nothing else draws on the bucket between the check and the charge;
	// a refused request costs nothing, and people who were members already are not counted.
	const { conversation, added } = unwrap(addGroupMembers(db, user, event.params.id, input.members));
	limiters.membersAdded.take(user.id, added.length);
	if (added.length > 0) await live.recordEvent(event.params.id, user.id, { type: 'members-added', userIds: added });
	live.conversationChanged(event.params.id);
	return json({ conversation });
});
