import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { api, readJson, requireUser } from '$lib/server/api';
import { requireMembership } from '$lib/server/route-guards';
import { markRead } from '$lib/server/receipts';
import { getRuntime } from '$lib/server/runtime';
import type { RequestHandler } from './$types';

const body = z.object({ seq: z.number().int().min(0).optional() });

/** Marks the conversation read up to `seq` (default: its last message), for me on every device. */
export const PUT: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { db, live } = getRuntime();
	requireMembership(db, event.params.id, user.id);
	// The body is optional: none (or an empty one) reads up to the last message.
	const hasBody = event.request.headers.has('content-type') || (event.request.headers.get('content-length') ?? '0') !== '0';
	const { seq } = hasBody ? await readJson(event, body) : { seq: undefined };
	const markers = markRead(db, event.params.id, user.id, seq);
	if (!markers) throw new Error('membership vanished');
	if (markers.changed) live.receiptsChanged(event.params.id, user.id, markers);
	return json({ deliveredSeq: markers.deliveredSeq, readSeq: markers.readSeq });
});
