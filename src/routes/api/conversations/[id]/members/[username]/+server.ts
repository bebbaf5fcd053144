import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { api, readJson, requireUser, unwrap } from '$lib/server/api';
import { conversationDto, getConversation, removeGroupMember, setMemberRole } from '$lib/server/conversations';
import { getRuntime } from '$lib/server/runtime';

/** Removes a member (or leaves); their open sync connections to the conversation close at once. */
export const DELETE: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { db, live } = getRuntime();
	const removedId = unwrap(removeGroupMember(db, user, event.params.id, event.params.username));
	live.revoke(event.params.id, removedId);
	live.removedFromConversation(event.params.id, removedId);
	await live.recordEvent(event.params.id, user.id, removedId === user.id ? { type: 'member-left' } : { type: 'member-removed', userId: removedId });
	live.conversationChanged(event.params.id);
	return new Response(null, { status: 204 });
});

const roleChange = z.object({ role: z.enum(['moderator', 'member']) }).strict();

/** The owner makes a member a moderator (may delete others' messages, MOD-1), or a member again. */
export const PATCH: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { role } = await readJson(event, roleChange);
	const { db, live } = getRuntime();
	unwrap(setMemberRole(db, user, event.params.id, event.params.username, role));
	live.conversationChanged(event.params.id);
	return json({ conversation: conversationDto(db, getConversation(db, event.params.id)!, live.isOnline) });
});
