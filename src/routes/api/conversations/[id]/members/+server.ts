import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser } from '$lib/server/api';
import { addGroupMembers } from '$lib/server/conversations';
import { getRuntime } from '$lib/server/runtime';
import { newMembers } from '$lib/server/schemas';

export const POST: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const input = await readJson(event, newMembers);
	const { db, live } = getRuntime();
	const conversation = addGroupMembers(db, user, event.params.id, input.members);
	live.conversationChanged(event.params.id);
	return json({ conversation });
});
