import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser } from '$lib/server/api';
import { listConversations } from '$lib/server/conversations';
import { ApiError } from '$lib/server/errors';
import { getRuntime } from '$lib/server/runtime';
import { profileUpdate } from '$lib/server/schemas';
import { toPublicUser, updateDisplayName } from '$lib/server/users';
import { checkDisplayName } from '$lib/shared/names';

export const GET: RequestHandler = api((event) => json({ user: toPublicUser(requireUser(event)) }));

/** Changes my display name; every conversation I am in shows it from now on, on every device. */
export const PATCH: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { displayName } = await readJson(event, profileUpdate);
	const name = checkDisplayName(displayName);
	if (!name.ok) throw new ApiError(400, 'invalid-input', name.message);
	const { db, live } = getRuntime();
	const updated = updateDisplayName(db, user.id, displayName) ?? user;
	for (const conversation of listConversations(db, user.id)) live.conversationChanged(conversation.id);
	return json({ user: toPublicUser(updated) });
});
