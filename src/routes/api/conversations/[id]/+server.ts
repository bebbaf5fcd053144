import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser, unwrap } from '$lib/server/api';
import { conversationDto, getConversation, renameGroup, setConversationStatus } from '$lib/server/conversations';
import { requireMembership } from '$lib/server/route-guards';
import { getRuntime } from '$lib/server/runtime';
import { groupUpdate } from '$lib/server/schemas';

/** One conversation with its members, their roles and presence. */
export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const { db, live } = getRuntime();
	requireMembership(db, event.params.id, user.id);
	const conversation = getConversation(db, event.params.id)!;
	return json({ conversation: conversationDto(db, conversation, live.isOnline) });
});

/** The owner renames a group, or closes or reopens a group or context conversation; the timeline gets a line saying so. */
export const PATCH: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { title, status } = await readJson(event, groupUpdate);
	const { db, live } = getRuntime();
	if (title !== undefined) {
		unwrap(renameGroup(db, user, event.params.id, title));
		await live.recordEvent(event.params.id, user.id, { type: 'renamed', title });
	}
	if (status !== undefined && unwrap(setConversationStatus(db, user, event.params.id, status))) {
		await live.recordEvent(event.params.id, user.id, { type: status === 'closed' ? 'closed' : 'reopened' });
	}
	live.conversationChanged(event.params.id);
	return json({ conversation: conversationDto(db, getConversation(db, event.params.id)!, live.isOnline) });
});
