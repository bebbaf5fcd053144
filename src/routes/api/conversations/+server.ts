import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser } from '$lib/server/api';
import { createGroupConversation, listConversations, openDirectConversation } from '$lib/server/conversations';
import { getRuntime } from '$lib/server/runtime';
import { newConversation } from '$lib/server/schemas';

export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	return json({ conversations: listConversations(getRuntime().db, user.id) });
});

export const POST: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const input = await readJson(event, newConversation);
	const { db } = getRuntime();
	if (input.kind === 'direct') {
		const { conversation, created } = openDirectConversation(db, user, input.members[0]!);
		return json({ conversation }, { status: created ? 201 : 200 });
	}
	return json({ conversation: createGroupConversation(db, user, input.members, input.title) }, { status: 201 });
});
