import { and, inArray, isNull } from 'drizzle-orm';
import type { Db } from './db/index.ts';
import { messages, type User } from './db/schema.ts';
import { fail, succeed, type Outcome } from './outcome.ts';
import { staffOf } from './contexts.ts';
import { listConversations, type IsOnline } from './conversations.ts';
import type { ConversationSummary } from '../shared/api-types.ts';

export interface StaffInboxEntry extends ConversationSummary {
	/** Staff members who have written in it (in no order); empty: nobody from support answered yet. */
	answeredBy: string[];
}

/**
 * The support inbox of a platform's staff member: every open support conversation of the platform,
 * the ones nobody from support answered yet first, then by latest activity, each with its unread
 * count and who from support answered (PLATFORM-3).
 */
export function staffInbox(db: Db, user: User, isOnline: IsOnline): Outcome<StaffInboxEntry[]> {
	if (!user.staff || !user.platformId) return fail('forbidden', 'Only a platform’s support staff have a support inbox.');
	const open = listConversations(db, user.id, isOnline, undefined, { status: 'open' }).filter((c) => c.context?.audience === 'support');
	if (open.length === 0) return succeed([]);
	const staff = staffOf(db, user.platformId);
	const rows = db
		.selectDistinct({ conversationId: messages.conversationId, authorId: messages.authorId })
		.from(messages)
		.where(and(inArray(messages.conversationId, open.map((c) => c.id)), inArray(messages.authorId, staff), isNull(messages.event)))
		.all();
	const answered = new Map<string, string[]>();
	for (const row of rows) answered.set(row.conversationId, [...(answered.get(row.conversationId) ?? []), row.authorId]);
	const entries = open.map((c) => ({ ...c, answeredBy: answered.get(c.id) ?? [] }));
	// Stable: within each group the list's own order (latest activity first) stays.
	return succeed([...entries.filter((e) => e.answeredBy.length === 0), ...entries.filter((e) => e.answeredBy.length > 0)]);
}

