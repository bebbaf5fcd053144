import { sql } from 'drizzle-orm';
import type { Db } from './db/index.ts';
import type { User } from './db/schema.ts';
import type { AdminStats } from '../shared/api-types.ts';

/** Whether the user is a platform admin: named in ADMIN_USERNAMES (ADMIN-1). */
export function isAdmin(user: User, adminUsernames: string[]): boolean {
	return adminUsernames.includes(user.username);
}

/** The admin view's figures (ADMIN-1), read from the tables as they are now. */
export function adminStats(db: Db, usersOnline: number, now = Date.now()): AdminStats {
	const conversations = db.all<{ kind: string; status: string; count: number }>(
		sql`select kind, status, count(*) as count from conversations group by kind, status order by kind, status`
	);
	const since = now - 30 * 24 * 60 * 60 * 1000;
	const messagesPerDay = db.all<{ day: string; count: number }>(
		sql`select strftime('%Y-%m-%d', received_at / 1000, 'unixepoch') as day, count(*) as count
			from messages where event is null and received_at >= ${since} group by day order by day`
	);
	// Per support conversation: the customer's (the initiator's) first message, and the first staff message after it.
	const waits = db.all<{ asked: number; answered: number | null }>(
		sql`select q.asked as asked,
				(select min(a.received_at) from messages a join users u on u.id = a.author_id
				 where a.conversation_id = q.id and a.event is null and u.staff = 1 and a.received_at >= q.asked) as answered
			from (select c.id as id, min(m.received_at) as asked
				from conversations c join contexts x on x.id = c.context_id join messages m on m.conversation_id = c.id
				where x.audience = 'support' and m.author_id = c.initiator_id and m.event is null
				group by c.id) q`
	);
	const times = waits.flatMap((w) => (w.answered === null ? [] : [w.answered - w.asked])).sort((a, b) => a - b);
	const middle = times.length >> 1;
	const median = times.length === 0 ? null : times.length % 2 ? times[middle]! : Math.round((times[middle - 1]! + times[middle]!) / 2);
	return { conversations, messagesPerDay, usersOnline, medianFirstResponseMs: median, supportAnswered: times.length, supportWaiting: waits.length - times.length };
}
