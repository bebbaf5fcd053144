import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, unwrap } from '$lib/server/api';
import { ApiError } from '$lib/server/errors';
import { authenticatePlatform, upsertPlatformUser } from '$lib/server/platforms';
import { getRuntime } from '$lib/server/runtime';
import { platformUser } from '$lib/server/schemas';
import { getUserById, toPublicUser } from '$lib/server/users';
import { listConversations } from '$lib/server/conversations';
import { users } from '$lib/server/db/schema';
import { eq } from 'drizzle-orm';

/**
 * The platform's server creates or updates one of its users (its own id for them in the path):
 * display name, photo (`avatarUrl`, fetched through the upload pipeline) and whether they are support
 * staff. Staff join every open support conversation.
 */
export const PUT: RequestHandler = api(async (event) => {
	const { db, live, uploads } = getRuntime();
	const platform = unwrap(authenticatePlatform(db, event.request.headers.get('authorization')));
	const externalId = event.params.externalId ?? '';
	if (!/^[\x21-\x7e]{1,200}$/.test(externalId)) throw new ApiError(400, 'invalid-request', 'A user id is 1 to 200 printable characters without spaces.');
	const { avatarUrl, ...input } = await readJson(event, platformUser);
	const { user, created, joined, left } = upsertPlatformUser(db, platform, externalId, input);
	// A former agent's open connections to those conversations close at once, and their list drops them.
	for (const conversationId of left) {
		live.revoke(conversationId, user.id);
		live.removedFromConversation(conversationId, user.id);
		live.conversationChanged(conversationId);
	}
	for (const conversationId of joined) {
		await live.recordEvent(conversationId, user.id, { type: 'staff-joined' });
		live.conversationChanged(conversationId);
	}
	// The photo goes through the upload pipeline, fetched again only when its URL changes; a failure
	// is a clear error after the user was saved (the same call again retries just the photo).
	if (avatarUrl !== undefined && avatarUrl !== user.avatarSource) {
		unwrap(avatarUrl === null ? await uploads.setAvatar(user.id, null) : await uploads.avatarFromUrl(user.id, avatarUrl));
		db.update(users).set({ avatarSource: avatarUrl }).where(eq(users.id, user.id)).run();
		for (const conversation of listConversations(db, user.id)) live.conversationChanged(conversation.id);
	}
	const saved = getUserById(db, user.id)!;
	return json({ user: toPublicUser(saved) }, { status: created ? 201 : 200 });
});
