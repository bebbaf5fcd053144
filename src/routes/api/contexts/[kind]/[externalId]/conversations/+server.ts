import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, requireUser, unwrap } from '$lib/server/api';
import { contextParams } from '$lib/server/context-params';
import { conversationIdsAbout, openContextConversation } from '$lib/server/contexts';
import { conversationDto, listConversations } from '$lib/server/conversations';
import { requireContext } from '$lib/server/route-guards';
import { getRuntime } from '$lib/server/runtime';
import { contextStart } from '$lib/server/schemas';
import { sendAs } from '$lib/server/send';

/** The conversations about a context that I am in: every one for its owner, my own for anyone else. */
export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const { kind, externalId, platform } = contextParams(event.params, event.url);
	const { db, live } = getRuntime();
	const ids = new Set(conversationIdsAbout(db, requireContext(db, kind, externalId, platform), user.id));
	return json({ conversations: listConversations(db, user.id, live.isOnline).filter((c) => ids.has(c.id)) });
});

/**
 * Opens my conversation with the context's owner about it, creating it the first time (CTX-1), and
 * sends its first message if one is given, idempotent on the message's id: a host page's "Contact"
 * dialog is one round trip, and a retry never makes a second conversation or message.
 */
export const POST: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { kind, externalId, platform } = contextParams(event.params, event.url);
	const input = await readJson(event, contextStart);
	const { db, live } = getRuntime();
	const { conversation, created } = unwrap(openContextConversation(db, requireContext(db, kind, externalId, platform), user.id));
	if (created) live.conversationChanged(conversation.id);
	const sent = input.message ? unwrap(await sendAs(user, conversation.id, input.message)) : null;
	return json(
		{ conversation: conversationDto(db, conversation, live.isOnline), ...(sent ? { message: sent.message } : {}) },
		{ status: created || sent?.created ? 201 : 200 }
	);
});
