import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser } from '$lib/server/api';
import { isAdmin } from '$lib/server/admin-stats';
import { listConversations } from '$lib/server/conversations';
import { ApiError } from '$lib/server/errors';
import { getRuntime } from '$lib/server/runtime';
import { profileUpdate } from '$lib/server/schemas';
import { toPublicUser, updateDisplayName } from '$lib/server/users';
import { checkDisplayName } from '$lib/shared/names';

/** Me, and whether I have the admin view (ADMIN_USERNAMES). */
export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	return json({ user: { ...toPublicUser(user), ...(isAdmin(user, getRuntime().config.adminUsernames) ? { admin: true } : {}) } });
});

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
