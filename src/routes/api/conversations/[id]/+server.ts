import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser } from '$lib/server/api';
import { conversationDto, getConversation, renameGroup, requireMembership } from '$lib/server/conversations';
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

/** The owner renames a group; the timeline gets a line saying so. */
export const PATCH: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { title } = await readJson(event, groupUpdate);
	const { db, live } = getRuntime();
	const conversation = renameGroup(db, user, event.params.id, title);
	await live.recordEvent(event.params.id, user.id, { type: 'renamed', title });
	live.conversationChanged(event.params.id);
	return json({ conversation });
});
