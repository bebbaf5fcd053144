import type { SystemEvent } from '$lib/shared/protocol';
import { dayKey, formatDay } from './format.ts';

/** The rows a conversation shows: messages, the server's own lines, day separators and the unread divider. */

/** What the timeline needs of a message; the sync layer's messages carry more. */
export interface TimelineMessage {
	id: string;
	author: string;
	body: string;
	createdAt: number;
	seq?: number;
	/** Set on lines the server wrote (joins, leaves, removals, renames). */
	event?: SystemEvent;
}

export type Row<M extends TimelineMessage = TimelineMessage> =
	| { kind: 'day'; key: string; label: string }
	| { kind: 'unread'; key: 'unread'; count: number }
	| { kind: 'event'; key: string; message: M; text: string }
	| { kind: 'message'; key: string; message: M; startsRun: boolean };

/** "Ben", "Ben and Carl", "Ben, Carl and Dan". */
export function listNames(names: string[]): string {
	if (names.length <= 1) return names[0] ?? '';
	return `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/**
 * A server-written line in words, from the reader's point of view: "Ana added Ben", "You left",
 * "Ana removed you", "Ana renamed the group to “Trip”". `nameOf` gives other people's names.
 */
export function describeEvent(event: SystemEvent, actorId: string, me: string, nameOf: (userId: string) => string): string {
	const subject = (id: string) => (id === me ? 'You' : nameOf(id));
	const object = (id: string) => (id === me ? 'you' : nameOf(id));
	const actor = subject(actorId);
	switch (event.type) {
		case 'members-added':
			return `${actor} added ${listNames(event.userIds.map(object))}`;
		case 'member-removed':
			return `${actor} removed ${object(event.userId)}`;
		case 'member-left':
			return `${actor} left`;
		case 'renamed':
			return `${actor} renamed the group to “${event.title}”`;
		case 'closed':
			return `${actor} closed the conversation`;
		case 'reopened':
			return `${actor} reopened the conversation`;
		case 'staff-joined':
			return `${actor} from support joined`;
	}
}

/** One line for the conversation list or a notification: the body, or the server's line in words. */
export function previewOf(message: { author: { id: string; displayName: string }; body: string; event?: SystemEvent | null; deletedAt?: number | null }, me: string, nameOf: (userId: string) => string): string {
	if (message.deletedAt) return 'Message deleted';
	if (message.event) return describeEvent(message.event, message.author.id, me, (id) => (id === message.author.id ? message.author.displayName : nameOf(id)));
	return message.body;
}

/** Whether a message counts as unread for me once my read marker is at `readSeq`: others' messages, not the server's lines. */
export function isUnread(message: TimelineMessage, me: string, readSeq: number): boolean {
	return message.seq !== undefined && message.seq > readSeq && message.author !== me && !message.event;
}

/**
 * The unread messages as they were when the conversation opened: after my read marker then, up to
 * the newest message I knew of then. Messages that arrive while I am reading get no divider.
 */
export function unreadAtOpen<M extends TimelineMessage>(messages: readonly M[], me: string, readSeq: number, lastSeq: number): { index: number; count: number } {
	let index = -1;
	let count = 0;
	for (let i = 0; i < messages.length; i++) {
		const message = messages[i]!;
		if (!isUnread(message, me, readSeq) || message.seq! > lastSeq) continue;
		if (index < 0) index = i;
		count += 1;
	}
	return { index, count };
}

/** Rows for `messages[start, end)`: a day separator wherever the day changes (and at the top), the unread divider before `unreadIndex`. */
export function buildRows<M extends TimelineMessage>(
	messages: readonly M[],
	start: number,
	end: number,
	unread: { index: number; count: number },
	describe: (message: M & { event: SystemEvent }) => string,
	now = Date.now()
): Row<M>[] {
	const rows: Row<M>[] = [];
	let previous: M | undefined;
	for (let i = start; i < end; i++) {
		const message = messages[i]!;
		const day = dayKey(message.createdAt);
		const newDay = !previous || dayKey(previous.createdAt) !== day;
		// Keyed by the message it heads: a day can come back (the order is the server's, the times the
		// authors' clocks), and two rows with one key would stop the list from rendering.
		if (newDay) rows.push({ kind: 'day', key: `day:${message.id}`, label: formatDay(message.createdAt, now) });
		if (i === unread.index) rows.push({ kind: 'unread', key: 'unread', count: unread.count });
		if (message.event) {
			rows.push({ kind: 'event', key: message.id, message, text: describe(message as M & { event: SystemEvent }) });
		} else {
			const startsRun = newDay || i === unread.index || !previous || previous.author !== message.author || !!previous.event;
			rows.push({ kind: 'message', key: message.id, message, startsRun });
		}
		previous = message;
	}
	return rows;
}
