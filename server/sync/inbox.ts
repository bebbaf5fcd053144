import type { Extension, connectedPayload, onDisconnectPayload } from '@hocuspocus/server';
import { contactsOf, listConversations, memberIdsOf } from '../../src/lib/server/conversations.ts';
import type { Db } from '../../src/lib/server/db/index.ts';
import { recordLastSeen } from '../../src/lib/server/users.ts';
import { PROTOCOL_VERSION as v } from '../../src/lib/shared/protocol.ts';
import type { SyncContext } from './context.ts';
import { Presence } from './presence.ts';
import { UserChannels } from './user-channels.ts';

/**
 * Each user's live inbox (INBOX-1) and presence (PRES-1): connections count for presence once fully
 * set up, and every user channel gets its own user's conversation summaries and contacts' presence.
 */
export class Inbox implements Extension {
	priority = 50;
	readonly presence = new Presence();
	readonly #channels = new UserChannels();
	/** Set while shutting down: connections closing then must not touch the database any more. */
	#stopped = false;

	constructor(private readonly db: Db) {}

	isOnline = (userId: string): boolean => this.presence.isOnline(userId);

	async connected({ connection, context }: connectedPayload): Promise<void> {
		const ctx = context as SyncContext;
		// An earlier extension may have closed it already (session ended, membership revoked, reloading).
		if (!connection.document.hasConnection(connection)) return;
		ctx.counted = true;
		if (ctx.channel) this.#channels.add(ctx.user.id, connection);
		if (this.presence.connect(ctx.user.id)) this.#presenceChanged(ctx.user.id, true);
	}

	async onDisconnect({ context, document }: onDisconnectPayload): Promise<void> {
		const { user, channel, counted } = context as Partial<SyncContext>;
		// Hocuspocus also reports connections that closed before they were fully set up: they were never counted.
		if (!user || !counted) return;
		if (channel) this.#channels.reset(user.id, document.getConnections());
		if (this.presence.disconnect(user.id)) this.#presenceChanged(user.id, false);
	}

	/** Sends each member with an open user channel their own summary of the conversation. */
	conversationChanged(conversationId: string, userIds?: string[]): void {
		if (this.#stopped) return;
		for (const userId of userIds ?? memberIdsOf(this.db, conversationId)) {
			if (!this.#channels.has(userId)) continue;
			const [conversation] = listConversations(this.db, userId, this.isOnline, conversationId);
			if (conversation) this.#channels.send(userId, { type: 'inbox', v, conversation });
		}
	}

	removedFromConversation(conversationId: string, userId: string): void {
		this.#channels.send(userId, { type: 'inbox-removed', v, conversationId });
	}

	/** Everyone connected now is "last seen" now; hooks that run as connections close leave the database alone. */
	stop(): void {
		recordLastSeen(this.db, this.presence.onlineUsers(), Date.now());
		this.#stopped = true;
	}

	#presenceChanged(userId: string, online: boolean): void {
		if (this.#stopped) return;
		let lastSeenAt: number | null = null;
		if (!online) {
			lastSeenAt = Date.now();
			recordLastSeen(this.db, [userId], lastSeenAt);
		}
		for (const contact of contactsOf(this.db, userId)) {
			if (contact !== userId) this.#channels.send(contact, { type: 'presence', v, userId, online, lastSeenAt });
		}
	}
}
