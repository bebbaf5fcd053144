import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, unwrap } from '$lib/server/api';
import { contextParams } from '$lib/server/context-params';
import { conversationIdsAbout, toContextDto, upsertContext } from '$lib/server/contexts';
import { authenticatePlatform, existingPlatformUser } from '$lib/server/platforms';
import { getRuntime } from '$lib/server/runtime';
import { platformContext } from '$lib/server/schemas';

/**
 * The platform's server creates or updates a context of its own: a post (owned by the user who
 * made it) or a booking (`audience: "support"`: every staff member answers). Contexts of other
 * platforms or users are 403 `not-context-owner`.
 */
export const PUT: RequestHandler = api(async (event) => {
	const { db, live } = getRuntime();
	const platform = unwrap(authenticatePlatform(db, event.request.headers.get('authorization')));
	const { kind, externalId } = contextParams(event.params);
	const { owner, audience = 'owner', ...card } = await readJson(event, platformContext);
	const ownerId = unwrap(existingPlatformUser(db, platform, owner)).id;
	const { context, created } = unwrap(upsertContext(db, { platformId: platform.id, ownerId, audience }, kind, externalId, card));
	if (!created) for (const id of conversationIdsAbout(db, context, ownerId)) live.conversationChanged(id);
	return json({ context: toContextDto(context) }, { status: created ? 201 : 200 });
});
