import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser, unwrap } from '$lib/server/api';
import { countInvited, createGroupConversation, listConversations, openDirectConversation } from '$lib/server/conversations';
import { ApiError, RateLimitedError } from '$lib/server/errors';
import { checkAll, takeAll, type Charge } from '$lib/server/limiters';
import { getRuntime } from '$lib/server/runtime';
import { conversationListQuery, newConversation } from '$lib/server/schemas';

/** My conversations, newest activity first: all of them, or a page (`limit`, `before`), filtered by status or archive. */
export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const parsed = conversationListQuery.safeParse(Object.fromEntries(event.url.searchParams));
	if (!parsed.success) throw new ApiError(400, 'invalid-request', `${parsed.error.issues[0]?.path.join('.') || 'query'}: ${parsed.error.issues[0]?.message ?? 'invalid'}`);
	const page = parsed.data;
	const { db, live } = getRuntime();
	const list = listConversations(db, user.id, live.isOnline, undefined, page);
	const last = list.at(-1);
	const nextCursor = page.limit !== undefined && list.length === page.limit && last ? `${last.updatedAt}.${last.id}` : null;
	return json({ conversations: list, nextCursor });
});

/**
 * Each new conversation puts people in someone's list: a group costs one group and one token per
 * invited person, a new direct conversation one person. The writes are synchronous, so nothing else
 * draws on the buckets between the check and the charge; a refused request costs nothing.
 */
export const POST: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const input = await readJson(event, newConversation);
	const { db, live, limiters } = getRuntime();
	const charges: Charge[] =
		input.kind === 'direct'
			? [{ buckets: limiters.membersAdded, key: user.id, cost: 1 }]
			: [
					{ buckets: limiters.groupsCreated, key: user.id, cost: 1 },
					{ buckets: limiters.membersAdded, key: user.id, cost: countInvited(user, input.members) }
				];
	const allowed = checkAll(charges);
	if (!allowed.ok) {
		const what = input.kind === 'group' && !limiters.groupsCreated.check(user.id).ok ? 'Too many new groups' : 'Too many people added to conversations';
		throw new RateLimitedError(allowed.retryAfterMs, what);
	}
	if (input.kind === 'direct') {
		const { conversation, created } = unwrap(openDirectConversation(db, user, input.members[0]!));
		if (created) {
			takeAll(charges);
			live.conversationChanged(conversation.id);
		}
		return json({ conversation }, { status: created ? 201 : 200 });
	}
	const conversation = unwrap(createGroupConversation(db, user, input.members, input.title));
	takeAll(charges);
	// Every member's devices see the new conversation at once.
	live.conversationChanged(conversation.id);
	return json({ conversation }, { status: 201 });
});
