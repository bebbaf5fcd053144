import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser, unwrap } from '$lib/server/api';
import { ApiError } from '$lib/server/errors';
import { contextParams } from '$lib/server/context-params';
import { conversationIdsAbout, toContextDto, upsertContext } from '$lib/server/contexts';
import { requireContext } from '$lib/server/route-guards';
import { getRuntime } from '$lib/server/runtime';
import { contextCard } from '$lib/server/schemas';

/** A context's card, for anyone signed in (a "Contact" page shows it before the first message). */
export const GET: RequestHandler = api((event) => {
	requireUser(event);
	const { kind, externalId, platform } = contextParams(event.params, event.url);
	return json({ context: toContextDto(requireContext(getRuntime().db, kind, externalId, platform)) });
});

/** Creates a context I own (a post of mine, in users' own namespace), or updates its card; someone else's is 403 `not-context-owner`. */
export const PUT: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { kind, externalId, platform } = contextParams(event.params, event.url);
	if (platform) throw new ApiError(403, 'not-context-owner', 'Only the platform writes the contexts of its namespace.');
	const card = await readJson(event, contextCard);
	const { db, live } = getRuntime();
	const { context, created } = unwrap(upsertContext(db, { userId: user.id }, kind, externalId, card));
	// Its conversations' cards change on every member's devices.
	if (!created) for (const id of conversationIdsAbout(db, context, user.id)) live.conversationChanged(id);
	return json({ context: toContextDto(context) }, { status: created ? 201 : 200 });
});
