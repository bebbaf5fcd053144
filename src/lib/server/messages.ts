import { and, asc, desc, eq, gt, gte, inArray, lt, lte, sql } from 'drizzle-orm';
import type { Db } from './db/index.ts';
import { conversations, messages, reactions, users } from './db/schema.ts';
import type { MessageDto, ReactionDto } from '../shared/api-types.ts';
import type { AttachmentRef, SystemEvent } from '../shared/protocol.ts';

export type { MessageDto };

/**
 * A message's columns as the API shows it, flat and in this order: a page of history of a thousand
 * rows is read as arrays (drizzle's `values()`) and made into DTOs here, at a third of the cost of
 * drizzle's nested mapping.
 */
const messageColumns = {
	id: messages.id,
	seq: messages.seq,
	body: messages.body,
	createdAt: messages.createdAt,
	receivedAt: messages.receivedAt,
	editedAt: messages.editedAt,
	deletedAt: messages.deletedAt,
	event: messages.event,
	replyTo: messages.replyTo,
	attachments: messages.attachments,
	authorId: users.id,
	username: users.username,
	displayName: users.displayName,
	avatar: users.avatarId
};
type MessageValues = [
	id: string,
	seq: number,
	body: string,
	createdAt: number,
	receivedAt: number,
	editedAt: number | null,
	deletedAt: number | null,
	event: string | null,
	replyTo: string | null,
	attachments: string | null,
	authorId: string,
	username: string,
	displayName: string,
	avatar: string | null
];

function toDto(conversationId: string, values: MessageValues, reactionsOf: Map<string, ReactionDto[]>): MessageDto {
	const [id, seq, body, createdAt, receivedAt, editedAt, deletedAt, event, replyTo, attachments, authorId, username, displayName, avatar] = values;
	return {
		id,
		conversationId,
		seq,
		author: { id: authorId, username, displayName, avatar },
		body,
		createdAt,
		receivedAt,
		editedAt,
		deletedAt,
		event: parseEvent(event),
		replyTo,
		attachments: attachments === null ? [] : (JSON.parse(attachments) as AttachmentRef[]),
		// A deleted message keeps none (the reactions stay in the table, unseen, until the user changes them).
		reactions: deletedAt === null ? (reactionsOf.get(id) ?? []) : []
	};
}

const reactionColumns = { messageId: reactions.messageId, userId: reactions.userId, emoji: reactions.emoji };

/** The reactions to some messages of a conversation: per message, each emoji with who reacted with it (users in id order, as `reactionsTo` in conversation-doc.ts). */
function reactionsTo(db: Db, conversationId: string, messageIds: string[]): Map<string, ReactionDto[]> {
	if (messageIds.length === 0) return new Map();
	const rows = db
		.select(reactionColumns)
		.from(reactions)
		.where(and(eq(reactions.conversationId, conversationId), inArray(reactions.messageId, messageIds)))
		.orderBy(reactions.userId)
		.all();
	return groupReactions(rows);
}

/** Reaction rows (in user id order) grouped per message, each emoji with who reacted with it. */
function groupReactions(rows: Array<{ messageId: string; userId: string; emoji: string }>): Map<string, ReactionDto[]> {
	const result = new Map<string, ReactionDto[]>();
	for (const row of rows) {
		const list = result.get(row.messageId) ?? [];
		for (const emoji of JSON.parse(row.emoji) as string[]) {
			const entry = list.find((r) => r.emoji === emoji);
			if (entry) entry.userIds.push(row.userId);
			else list.push({ emoji, userIds: [row.userId] });
		}
		if (list.length > 0) result.set(row.messageId, list);
	}
	return result;
}

function parseEvent(json: string | null): SystemEvent | null {
	return json === null ? null : (JSON.parse(json) as SystemEvent);
}

/** Messages with their authors, in {@link messageColumns}' order (read with `values()`). */
function selectMessages(db: Db) {
	return db.select(messageColumns).from(messages).innerJoin(users, eq(users.id, messages.authorId));
}

export function getMessage(db: Db, conversationId: string, id: string): MessageDto | undefined {
	const row = selectMessages(db)
		.where(and(eq(messages.conversationId, conversationId), eq(messages.id, id)))
		.values()[0] as MessageValues | undefined;
	return row && toDto(conversationId, row, reactionsTo(db, conversationId, [id]));
}

export interface HistoryPage {
	messages: MessageDto[];
	/** Pass as `before` to get the page just older than this one; null at the start of history (an empty page of a bare `before` or of `after=0` too). */
	nextCursor: number | null;
}

/**
 * The history's queries, prepared once per database: a page is read on every scroll and every
 * catch-up (up to HISTORY_PAGE_MAX rows), and its reactions are found by the page's sequence range,
 * not by a list of a thousand ids built into the SQL text each time. A page ends right before
 * `before` (the newest first, for scrolling back) or starts right after `after` (the oldest first,
 * for catching up from the last message a device holds).
 */
function prepareHistory(db: Db) {
	const between = and(eq(messages.conversationId, sql.placeholder('conversationId')), gt(messages.seq, sql.placeholder('after')), lt(messages.seq, sql.placeholder('before')));
	const rows = () => selectMessages(db).where(between);
	const newest = rows().orderBy(desc(messages.seq)).limit(sql.placeholder('limit')).prepare();
	const oldest = rows().orderBy(asc(messages.seq)).limit(sql.placeholder('limit')).prepare();
	const reactionsBetween = db
		.select(reactionColumns)
		.from(reactions)
		.innerJoin(messages, and(eq(messages.conversationId, reactions.conversationId), eq(messages.id, reactions.messageId)))
		.where(and(eq(reactions.conversationId, sql.placeholder('conversationId')), gte(messages.seq, sql.placeholder('from')), lte(messages.seq, sql.placeholder('to'))))
		.orderBy(reactions.userId)
		.prepare();
	return { newest, oldest, reactionsBetween };
}

const historyStatements = new WeakMap<Db, ReturnType<typeof prepareHistory>>();

/** Where a page of history lies: messages with `after < seq < before` (either bound may be left out). */
export interface HistoryRange {
	before?: number;
	/** The page starts right after it (the oldest of the range first); without it, the page ends right before `before`. */
	after?: number;
}

/** A page of history ordered by the server's sequence, oldest first: at most `limit` messages of `range`. */
export function listHistory(db: Db, conversationId: string, range: HistoryRange, limit: number): HistoryPage {
	let prepared = historyStatements.get(db);
	if (!prepared) historyStatements.set(db, (prepared = prepareHistory(db)));
	const bounds = { conversationId, after: range.after ?? 0, before: range.before ?? Number.MAX_SAFE_INTEGER };
	let kept: MessageValues[];
	/** `before` for the page just older than this one, or null when there is none. */
	let nextCursor: number | null;
	if (range.after === undefined) {
		const rows = prepared.newest.values({ ...bounds, limit: limit + 1 }) as MessageValues[];
		kept = rows.slice(0, limit).reverse();
		nextCursor = rows.length > limit ? kept[0]![1] : null;
	} else {
		kept = prepared.oldest.values({ ...bounds, limit }) as MessageValues[];
		// Sequence numbers have no gaps (deleted messages keep theirs): older messages exist unless the
		// page starts at 1; an empty page still has those up to `after` before it.
		const first = kept[0]?.[1] ?? range.after + 1;
		nextCursor = first > 1 ? first : null;
	}
	const reactionsOf = kept.length === 0 ? new Map<string, ReactionDto[]>() : groupReactions(prepared.reactionsBetween.all({ conversationId, from: kept[0]![1], to: kept.at(-1)![1] }));
	return { messages: kept.map((values) => toDto(conversationId, values, reactionsOf)), nextCursor };
}

export interface AcceptedMessage {
	id: string;
	authorId: string;
	body: string;
	createdAt: number;
	editedAt?: number;
	/** A line the server writes into the timeline. */
	event?: SystemEvent;
	replyTo?: string;
	attachments?: AttachmentRef[];
}

/**
 * Writes of the flattened message table, prepared once per database: they run for every accepted
 * batch, inside the transaction that also logs its updates. The table is a projection of what each
 * message key resolves to in the conversation document.
 */
export function prepareMessageWrites(db: Db) {
	const find = db
		.select({
			seq: messages.seq,
			authorId: messages.authorId,
			body: messages.body,
			createdAt: messages.createdAt,
			editedAt: messages.editedAt,
			authorEditedAt: messages.authorEditedAt,
			deletedAt: messages.deletedAt,
			event: messages.event,
			attachments: messages.attachments
		})
		.from(messages)
		.where(and(eq(messages.conversationId, sql.placeholder('conversationId')), eq(messages.id, sql.placeholder('id'))))
		.prepare();
	const bumpSeq = db
		.update(conversations)
		.set({ lastSeq: sql`${conversations.lastSeq} + 1`, updatedAt: sql`${sql.placeholder('now')}` })
		.where(eq(conversations.id, sql.placeholder('conversationId')))
		.returning({ seq: conversations.lastSeq })
		.prepare();
	const insert = db
		.insert(messages)
		.values({
			conversationId: sql.placeholder('conversationId'),
			id: sql.placeholder('id'),
			seq: sql.placeholder('seq'),
			authorId: sql.placeholder('authorId'),
			body: sql.placeholder('body'),
			createdAt: sql.placeholder('createdAt'),
			receivedAt: sql.placeholder('now'),
			event: sql.placeholder('event'),
			replyTo: sql.placeholder('replyTo'),
			attachments: sql.placeholder('attachments')
		})
		.prepare();
	const react = db
		.insert(reactions)
		.values({
			conversationId: sql.placeholder('conversationId'),
			messageId: sql.placeholder('messageId'),
			userId: sql.placeholder('userId'),
			emoji: sql.placeholder('emoji'),
			updatedAt: sql.placeholder('now')
		})
		.onConflictDoUpdate({
			target: [reactions.conversationId, reactions.messageId, reactions.userId],
			set: { emoji: sql`excluded.emoji`, updatedAt: sql`excluded.updated_at` }
		})
		.prepare();
	const unreact = db
		.delete(reactions)
		.where(
			and(
				eq(reactions.conversationId, sql.placeholder('conversationId')),
				eq(reactions.messageId, sql.placeholder('messageId')),
				eq(reactions.userId, sql.placeholder('userId'))
			)
		)
		.prepare();
	const edit = db
		.update(messages)
		.set({ body: sql`${sql.placeholder('body')}`, editedAt: sql`${sql.placeholder('now')}`, authorEditedAt: sql`${sql.placeholder('authorEditedAt')}`, deletedAt: null })
		.where(and(eq(messages.conversationId, sql.placeholder('conversationId')), eq(messages.id, sql.placeholder('id'))))
		.prepare();
	const remove = db
		.update(messages)
		.set({ body: '', attachments: null, deletedAt: sql`${sql.placeholder('now')}` })
		.where(and(eq(messages.conversationId, sql.placeholder('conversationId')), eq(messages.id, sql.placeholder('id'))))
		.prepare();

	const findStored = (conversationId: string, id: string): StoredMessage | undefined => {
		const row = find.get({ conversationId, id });
		return row && { ...row, event: parseEvent(row.event) };
	};

	return {
		/** The stored row of a message id (author, body, deletion), if the message exists. */
		find: findStored,
		/** Stores a new message with its conversation's next sequence number, and returns that number. */
		insert(conversationId: string, message: AcceptedMessage, now: number): number {
			const bumped = bumpSeq.get({ conversationId, now });
			if (!bumped) throw new Error(`conversation ${conversationId} vanished`);
			insert.run({ conversationId, ...message, event: message.event ? JSON.stringify(message.event) : null, replyTo: message.replyTo ?? null, attachments: message.attachments?.length ? JSON.stringify(message.attachments) : null, seq: bumped.seq, now });
			return bumped.seq;
		},
		/**
		 * Makes a stored row show `body` (also bringing a deleted row back, when the document says the
		 * message is there). The same body arriving again (another device, a retry) is not an edit.
		 */
		show(conversationId: string, id: string, body: string, existing: StoredMessage, now: number, authorEditedAt: number | null = null): void {
			if (existing.body === body && existing.deletedAt === null) return;
			edit.run({ conversationId, id, body, now, authorEditedAt });
		},
		/** Inserts a message unless its id is already there (then returns null). */
		insertNew(conversationId: string, message: AcceptedMessage, now: number): number | null {
			return findStored(conversationId, message.id) ? null : this.insert(conversationId, message, now);
		},
		remove(conversationId: string, id: string, now: number): void {
			remove.run({ conversationId, id, now });
		},
		/** Sets one user's reactions to a message (none: an empty list). */
		react(conversationId: string, messageId: string, userId: string, emoji: string[], now: number): void {
			if (emoji.length === 0) unreact.run({ conversationId, messageId, userId });
			else react.run({ conversationId, messageId, userId, emoji: JSON.stringify(emoji), now });
		}
	};
}
export type MessageWrites = ReturnType<typeof prepareMessageWrites>;
export interface StoredMessage {
	seq: number;
	authorId: string;
	body: string;
	createdAt: number;
	/** When the server took the last edit (its clock, not the author's). */
	editedAt: number | null;
	/** The author's clock at the last edit, when the edit came through a document. */
	authorEditedAt: number | null;
	deletedAt: number | null;
	event: SystemEvent | null;
	/** JSON of its attachments; null when none. */
	attachments: string | null;
}
