import { ulid } from 'ulid';
import type { z } from 'zod';
import type { User } from './db/schema.ts';
import { getConversation } from './conversations.ts';
import { getMessage, type MessageDto } from './messages.ts';
import { fail, succeed, type Outcome } from './outcome.ts';
import { getRuntime } from './runtime.ts';
import type { newMessage } from './schemas.ts';
import { toAttachmentRef } from './uploads.ts';
import { checkMessageBody } from '../shared/limits.ts';
import type { AttachmentRef } from '../shared/protocol.ts';
import { reasonText } from '../shared/reason-text.ts';

/**
 * Sends a message as `user` (a member) over REST: idempotent on its id (the same id again answers
 * the stored message), checked like a message written through the document, and written
 * through the conversation's live document. Its value is the message, and whether this call
 * created it.
 */
export async function sendAs(user: User, conversationId: string, input: z.infer<typeof newMessage>): Promise<Outcome<{ created: boolean; message: MessageDto }>> {
	const { db, live, limiters } = getRuntime();
	const id = input.id ?? ulid();
	const existing = getMessage(db, conversationId, id);
	if (existing) {
		if (existing.author.id !== user.id) return fail('id-conflict', 'Another message already has this id.');
		return succeed({ created: false, message: existing });
	}
	if (getConversation(db, conversationId)?.status === 'closed') return fail('conversation-closed', 'This conversation is closed: nobody can send to it until its owner reopens it.');
	const attachments: AttachmentRef[] = [];
	for (const uploadId of input.attachments ?? []) {
		const ref = attachable(uploadId, user.id, conversationId, id);
		if (!ref.ok) return ref;
		attachments.push(ref.value);
	}
	const body = input.attachments && input.body.trim() === '' ? ({ ok: true, body: '' } as const) : checkMessageBody(input.body);
	if (!body.ok) return fail(body.code, reasonText(body.code));
	// Only new messages count: a retry of a stored id was answered above, and one that loses a race
	// to its twin (or fails) gets its token back.
	const taken = limiters.messages.take(user.id);
	if (!taken.ok) return fail('rate-limited', 'You are sending messages too fast', taken.retryAfterMs);
	let sent;
	try {
		sent = await live.send({
			conversationId,
			authorId: user.id,
			id,
			body: body.body,
			createdAt: input.createdAt ?? Date.now(),
			...(input.replyTo && input.replyTo !== id ? { replyTo: input.replyTo } : {}),
			...(input.attachments ? { attachments } : {})
		});
	} catch (error) {
		limiters.messages.refund(user.id);
		throw error;
	}
	if (sent.outcome !== 'created') limiters.messages.refund(user.id);
	if (sent.outcome === 'conflict') return fail('id-conflict', 'This message id is already taken.');
	return succeed({ created: sent.outcome === 'created', message: sent.message });
}

/** One of my uploads that no other message carries (ATTACH-2), as the message will describe it. */
function attachable(uploadId: string, userId: string, conversationId: string, messageId: string): Outcome<AttachmentRef> {
	const row = getRuntime().uploads.find(uploadId);
	if (!row) return fail('attachment-unknown', `No upload ${uploadId} (it may have expired: upload the file again).`);
	if (row.ownerId !== userId) return fail('foreign-attachment', `Upload ${uploadId} is someone else's.`);
	if (row.avatar || (row.messageId !== null && (row.conversationId !== conversationId || row.messageId !== messageId))) {
		return fail('attachment-taken', `Upload ${uploadId} is already part of another message.`);
	}
	return succeed(toAttachmentRef(row));
}
