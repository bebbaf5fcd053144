import type { Extension, connectedPayload, onDisconnectPayload } from '@hocuspocus/server';
import { activityFor, contactsOf, prepareMemberIds, summariesFor } from '../../src/lib/server/conversations.ts';
import type { Db } from '../../src/lib/server/db/index.ts';
import { recordLastSeen } from '../../src/lib/server/users.ts';
import type { InboxActivity } from '../../src/lib/shared/api-types.ts';
import { PROTOCOL_VERSION as v } from '../../src/lib/shared/protocol.ts';
import { CoalescingWindow } from './coalescing-window.ts';
import type { SyncContext } from './context.ts';
import { Presence } from './presence.ts';
import { UserChannels } from './user-channels.ts';

/**
 * A user whose last connection closed less than this long ago still counts as online: a blip, or a
 * document closed and opened again, neither tells anyone nor writes `lastSeenAt` (a commit), however
 * often it happens.
 */
export const OFFLINE_GRACE_MS = 1000;
/** Inbox updates of a conversation are sent once per this window, however many changes it saw (INBOX-2). */
export const INBOX_WINDOW_MS = 50;

type InboxChange =
	| { conversationId: string; kind: 'summary'; userIds?: string[] }
	| { conversationId: string; kind: 'activity'; moved: InboxActivity['markers'] };

/**
 * Each user's live inbox (INBOX-1) and presence (PRES-1): connections count for presence once fully
 * set up, and every user channel gets its own user's conversation summaries and contacts' presence.
 */
export class Inbox implements Extension {
	priority = 50;
	readonly presence = new Presence();
	readonly #channels = new UserChannels();
	/** Users whose last connection closed within {@link OFFLINE_GRACE_MS}: when, and the timer that announces it. */
	readonly #goingOffline = new Map<string, { at: number; timer: ReturnType<typeof setTimeout> }>();
	/** Set while shutting down: connections closing then must not touch the database any more. */
	#stopped = false;
	/** Conversations whose summaries changed in this window (for every member, or some), or that only saw activity. */
	readonly #changed = new CoalescingWindow<InboxChange>(INBOX_WINDOW_MS, (changes) => this.#sendChanges(changes));

	readonly #memberIds: (conversationId: string) => string[];

	constructor(private readonly db: Db) {
		this.#memberIds = prepareMemberIds(db);
	}

	isOnline = (userId: string): boolean => this.presence.isOnline(userId) || this.#goingOffline.has(userId);

	async connected({ connection, context }: connectedPayload): Promise<void> {
		const ctx = context as SyncContext;
		// An earlier extension may have closed it already (session ended, membership revoked, reloading).
		if (!connection.document.hasConnection(connection)) return;
		ctx.counted = true;
		if (ctx.channel) this.#channels.add(ctx.user.id, connection);
		if (!this.presence.connect(ctx.user.id)) return;
		const leaving = this.#goingOffline.get(ctx.user.id);
		if (!leaving) this.#presenceChanged(ctx.user.id, true);
		else {
			// Back within the grace period: nobody was told they left.
			clearTimeout(leaving.timer);
			this.#goingOffline.delete(ctx.user.id);
		}
	}

	async onDisconnect({ context, document }: onDisconnectPayload): Promise<void> {
		const { user, channel, counted } = context as Partial<SyncContext>;
		// Hocuspocus also reports connections that closed before they were fully set up: they were never counted.
		if (!user || !counted) return;
		if (channel) this.#channels.reset(user.id, document.getConnections());
		if (!this.presence.disconnect(user.id)) return;
		const at = Date.now();
		const timer = setTimeout(() => {
			this.#goingOffline.delete(user.id);
			this.#presenceChanged(user.id, false, at);
		}, OFFLINE_GRACE_MS);
		timer.unref?.();
		this.#goingOffline.set(user.id, { at, timer });
	}

	/**
	 * Sends each member with an open user channel their own summary of the conversation, once for all
	 * the changes of a short window (a message and its 200 receipts in a group of 100 are one update).
	 */
	conversationChanged(conversationId: string, userIds?: string[]): void {
		if (!this.#stopped) this.#changed.add({ conversationId, kind: 'summary', userIds });
	}

	/**
	 * A new message, an edit, or receipts (`moved`: the markers that moved): every member gets the
	 * conversation's activity (INBOX-3), which is smaller than its summary, once per window.
	 */
	activity(conversationId: string, moved: InboxActivity['markers'] = []): void {
		if (!this.#stopped) this.#changed.add({ conversationId, kind: 'activity', moved });
	}

	#sendChanges(changes: InboxChange[]): void {
		if (this.#stopped) return;
		const byConversation = new Map<string, { summary: Set<string> | null | undefined; activity: boolean; moved: Map<string, InboxActivity['markers'][number]> }>();
		for (const change of changes) {
			let pending = byConversation.get(change.conversationId);
			if (!pending) byConversation.set(change.conversationId, (pending = { summary: undefined, activity: false, moved: new Map() }));
			if (change.kind === 'activity') {
				pending.activity = true;
				// The latest markers of each member win (they only grow).
				for (const markers of change.moved) pending.moved.set(markers.userId, markers);
			} else if (pending.summary !== null) {
				pending.summary = change.userIds ? new Set([...(pending.summary ?? []), ...change.userIds]) : null;
			}
		}
		for (const [conversationId, { summary, activity, moved }] of byConversation) {
			const members = summary === null || activity ? this.#memberIds(conversationId) : [...(summary ?? [])];
			const listening = members.filter((userId) => this.#channels.has(userId));
			const full = summary === null ? listening : listening.filter((userId) => summary?.has(userId));
			for (const [userId, conversation] of summariesFor(this.db, conversationId, full, this.isOnline)) {
				this.#channels.send(userId, { type: 'inbox', v, conversation });
			}
			if (!activity) continue;
			const rest = listening.filter((userId) => !full.includes(userId));
			for (const [userId, change] of activityFor(this.db, conversationId, rest, [...moved.values()])) {
				this.#channels.send(userId, { type: 'inbox-activity', v, ...change });
			}
		}
	}

	removedFromConversation(conversationId: string, userId: string): void {
		this.#channels.send(userId, { type: 'inbox-removed', v, conversationId });
	}

	/** Everyone connected now is "last seen" now; hooks that run as connections close leave the database alone. */
	stop(): void {
		if (this.#stopped) return;
		const now = Date.now();
		recordLastSeen(this.db, this.presence.onlineUsers(), now);
		for (const [userId, { at, timer }] of this.#goingOffline) {
			clearTimeout(timer);
			recordLastSeen(this.db, [userId], at);
		}
		this.#goingOffline.clear();
		this.#stopped = true;
	}

	#presenceChanged(userId: string, online: boolean, leftAt = Date.now()): void {
		if (this.#stopped) return;
		let lastSeenAt: number | null = null;
		if (!online) {
			lastSeenAt = leftAt;
			recordLastSeen(this.db, [userId], lastSeenAt);
		}
		for (const contact of contactsOf(this.db, userId)) {
			if (contact !== userId) this.#channels.send(contact, { type: 'presence', v, userId, online, lastSeenAt });
		}
	}
}
