import { and, eq, sql } from 'drizzle-orm';
import type { Db } from './db/index.ts';
import { perDatabase } from './db/per-database.ts';
import { conversations, members } from './db/schema.ts';

export interface Markers {
	deliveredSeq: number;
	readSeq: number;
}

/** The statements of a receipt: receipts arrive for every message from every member. */
const receiptWriter = perDatabase((db) => {
	const member = and(eq(members.conversationId, sql.placeholder('conversationId')), eq(members.userId, sql.placeholder('userId')));
	const current = db
		.select({ deliveredSeq: members.deliveredSeq, readSeq: members.readSeq, markedUnread: members.markedUnread, lastSeq: conversations.lastSeq })
		.from(members)
		.innerJoin(conversations, eq(conversations.id, members.conversationId))
		.where(member)
		.prepare();
	const move = db
		.update(members)
		.set({ deliveredSeq: sql`${sql.placeholder('deliveredSeq')}`, readSeq: sql`${sql.placeholder('readSeq')}`, markedUnread: sql`${sql.placeholder('markedUnread')}` })
		.where(member)
		.prepare();
	type Input = { deliveredSeq?: number; readSeq?: number };
	const record = (conversationId: string, userId: string, input: Input): (Markers & { changed: boolean }) | null => {
		const row = current.get({ conversationId, userId });
		if (!row) return null;
		const readSeq = Math.max(row.readSeq, Math.min(input.readSeq ?? 0, row.lastSeq));
		const deliveredSeq = Math.max(row.deliveredSeq, readSeq, Math.min(input.deliveredSeq ?? 0, row.lastSeq));
		const readMoved = readSeq > row.readSeq || (input.readSeq !== undefined && row.markedUnread);
		const changed = readMoved || deliveredSeq > row.deliveredSeq;
		if (changed) move.run({ conversationId, userId, deliveredSeq, readSeq, markedUnread: readMoved ? 0 : Number(row.markedUnread) });
		return { deliveredSeq, readSeq, changed };
	};
	// Its own IMMEDIATE transaction, or a savepoint inside the caller's.
	return { record: db.$client.transaction(record).immediate };
});

/**
 * Moves a member's "delivered up to" and "read up to" markers forward (never back, never past the
 * last message). Reading implies delivery and clears a "marked unread". Returns the markers, with
 * `changed` false when nothing moved, or null when the user is not a member.
 */
export function recordReceipt(
	db: Db,
	conversationId: string,
	userId: string,
	input: { deliveredSeq?: number; readSeq?: number }
): (Markers & { changed: boolean }) | null {
	return receiptWriter(db).record(conversationId, userId, input);
}

/** Reads up to the last message (or `seq`). */
export function markRead(db: Db, conversationId: string, userId: string, seq?: number) {
	const last = db.select({ lastSeq: conversations.lastSeq }).from(conversations).where(eq(conversations.id, conversationId)).get();
	return recordReceipt(db, conversationId, userId, { readSeq: seq ?? last?.lastSeq ?? 0 });
}

export function markUnread(db: Db, conversationId: string, userId: string): void {
	db.update(members)
		.set({ markedUnread: true })
		.where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)))
		.run();
}

export function receiptsOf(db: Db, conversationId: string): Array<Markers & { userId: string }> {
	return db
		.select({ userId: members.userId, deliveredSeq: members.deliveredSeq, readSeq: members.readSeq })
		.from(members)
		.where(eq(members.conversationId, conversationId))
		.all();
}
