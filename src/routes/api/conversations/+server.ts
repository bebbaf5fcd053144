import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser } from '$lib/server/api';
import { createGroupConversation, listConversations, openDirectConversation } from '$lib/server/conversations';
import { getRuntime } from '$lib/server/runtime';
import { newConversation } from '$lib/server/schemas';

export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const { db, live } = getRuntime();
	return json({ conversations: listConversations(db, user.id, live.isOnline) });
});

export const POST: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const input = await readJson(event, newConversation);
	const { db, live } = getRuntime();
	if (input.kind === 'direct') {
		const { conversation, created } = openDirectConversation(db, user, input.members[0]!);
		if (created) live.conversationChanged(conversation.id);
		return json({ conversation }, { status: created ? 201 : 200 });
	}
	const conversation = createGroupConversation(db, user, input.members, input.title);
	// Every member's devices see the new conversation at once.
	live.conversationChanged(conversation.id);
	return json({ conversation }, { status: 201 });
});
