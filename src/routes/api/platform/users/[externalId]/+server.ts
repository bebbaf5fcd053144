import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson } from '$lib/server/api';
import { ApiError } from '$lib/server/errors';
import { authenticatePlatform, upsertPlatformUser } from '$lib/server/platforms';
import { getRuntime } from '$lib/server/runtime';
import { platformUser } from '$lib/server/schemas';
import { toPublicUser } from '$lib/server/users';

/**
 * The platform's server creates or updates one of its users (its own id for them in the path):
 * display name, and whether they are support staff. Staff join every open support conversation.
 */
export const PUT: RequestHandler = api(async (event) => {
	const { db, live } = getRuntime();
	const platform = authenticatePlatform(db, event.request.headers.get('authorization'));
	const externalId = event.params.externalId ?? '';
	if (!/^[\x21-\x7e]{1,200}$/.test(externalId)) throw new ApiError(400, 'invalid-request', 'A user id is 1 to 200 printable characters without spaces.');
	const input = await readJson(event, platformUser);
	const { user, created, joined } = upsertPlatformUser(db, platform, externalId, input);
	for (const conversationId of joined) {
		await live.recordEvent(conversationId, user.id, { type: 'staff-joined' });
		live.conversationChanged(conversationId);
	}
	return json({ user: toPublicUser(user) }, { status: created ? 201 : 200 });
});
