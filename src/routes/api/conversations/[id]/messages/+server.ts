import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { ulid } from 'ulid';
import { api, readJson, requireUser } from '$lib/server/api';
import { requireMembership } from '$lib/server/conversations';
import { ApiError, RateLimitedError } from '$lib/server/errors';
import { getMessage, listHistory } from '$lib/server/messages';
import { getRuntime } from '$lib/server/runtime';
import { historyQuery, newMessage } from '$lib/server/schemas';
import { checkMessageBody, HISTORY_PAGE_DEFAULT } from '$lib/shared/limits';
import type { AttachmentRef } from '$lib/shared/protocol';
import { toAttachmentRef } from '$lib/server/uploads';

export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const { db } = getRuntime();
	requireMembership(db, event.params.id, user.id);
	const query = historyQuery.safeParse(Object.fromEntries(event.url.searchParams));
	if (!query.success) throw new ApiError(400, 'invalid-request', 'before is a positive sequence number; limit is 1 to 200.');
	const { before, limit = HISTORY_PAGE_DEFAULT } = query.data;
	return json(listHistory(db, event.params.id, before ?? null, limit));
});

/** Idempotent on the message id: the same id again returns the stored message, never a second copy. */
export const POST: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { db, live, limiters } = getRuntime();
	const conversationId = event.params.id;
	requireMembership(db, conversationId, user.id);
	const input = await readJson(event, newMessage);
	const id = input.id ?? ulid();
	const existing = getMessage(db, conversationId, id);
	if (existing) {
		if (existing.author.id !== user.id) throw new ApiError(409, 'id-conflict', 'Another message already has this id.');
		return json({ message: existing }, { status: 200 });
	}
	const attachments = input.attachments?.map((uploadId) => attachable(uploadId, user.id, conversationId, id));
	const body = attachments && input.body.trim() === '' ? ({ ok: true, body: '' } as const) : checkMessageBody(input.body);
	if (!body.ok) {
		const text = body.code === 'message-empty' ? 'The message is empty.' : 'The message is longer than 2000 characters.';
		throw new ApiError(400, body.code, text);
	}
	// Only new messages count: a retry of a stored id was answered above, and one that loses a race
	// to its twin (or fails) gets its token back.
	const taken = limiters.messages.take(user.id);
	if (!taken.ok) throw new RateLimitedError(taken.retryAfterMs, 'You are sending messages too fast');
	let sent;
	try {
		sent = await live.send({
			conversationId,
			authorId: user.id,
			id,
			body: body.body,
			createdAt: input.createdAt ?? Date.now(),
			...(input.replyTo && input.replyTo !== id ? { replyTo: input.replyTo } : {}),
			...(attachments ? { attachments } : {})
		});
	} catch (error) {
		limiters.messages.refund(user.id);
		throw error;
	}
	if (sent.outcome !== 'created') limiters.messages.refund(user.id);
	if (sent.outcome === 'conflict') throw new ApiError(409, 'id-conflict', 'This message id is already taken.');
	return json({ message: sent.message }, { status: sent.outcome === 'created' ? 201 : 200 });
});

/** One of my uploads that no other message carries (ATTACH-2), as the message will describe it. */
function attachable(uploadId: string, userId: string, conversationId: string, messageId: string): AttachmentRef {
	const row = getRuntime().uploads.find(uploadId);
	if (!row) throw new ApiError(400, 'attachment-unknown', `No upload ${uploadId} (it may have expired: upload the file again).`);
	if (row.ownerId !== userId) throw new ApiError(403, 'foreign-attachment', `Upload ${uploadId} is someone else's.`);
	if (row.avatar || (row.messageId !== null && (row.conversationId !== conversationId || row.messageId !== messageId))) {
		throw new ApiError(409, 'attachment-taken', `Upload ${uploadId} is already part of another message.`);
	}
	return toAttachmentRef(row);
}
