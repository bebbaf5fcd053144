import type {
	Extension,
	Hocuspocus,
	beforeHandleMessagePayload,
	connectedPayload,
	onAuthenticatePayload,
	onConfigurePayload,
	onDisconnectPayload
} from '@hocuspocus/server';
import type { IncomingHttpHeaders } from 'node:http';
import { checkAccess } from '../../src/lib/server/conversations.ts';
import type { Db } from '../../src/lib/server/db/index.ts';
import { SESSION_COOKIE, sessionExpiry, validateSessionToken } from '../../src/lib/server/session.ts';
import { CloseReason, parseConversationDoc, parseUserDocName } from '../../src/lib/shared/protocol.ts';
import { dropFrame, readCookie, refuse, type SyncContext } from './context.ts';
import type { SocketRegistry } from './sockets.ts';

/**
 * Who is on each connection, for as long as they may be: the token or session cookie and
 * membership before a document loads (ACCESS-1), again as the connection completes, the session
 * with every frame once its known expiry passes, and a sweep for idle connections (LIMIT-3).
 */
export class Authentication implements Extension {
	priority = 300;
	#instance: Hocuspocus | undefined;
	#sweep: ReturnType<typeof setInterval> | undefined;

	constructor(
		private readonly db: Db,
		private readonly sessionDays: number,
		private readonly sockets: SocketRegistry,
		private readonly isMember: (conversationId: string, userId: string) => boolean,
		/** The conversation's current epoch (EPOCH-2). */
		private readonly currentEpoch: (conversationId: string) => number | undefined,
		private readonly sessionCheckMs = 30_000
	) {}

	async onConfigure({ instance }: onConfigurePayload): Promise<void> {
		this.#instance = instance;
		this.#sweep = setInterval(() => this.#closeEndedSessions(), this.sessionCheckMs);
		this.#sweep.unref?.();
	}

	stop(): void {
		clearInterval(this.#sweep);
	}

	async onAuthenticate({ token, documentName, requestHeaders, request, socketId }: onAuthenticatePayload): Promise<SyncContext> {
		const channelOwner = parseUserDocName(documentName);
		const named = parseConversationDoc(documentName);
		if (!named && !channelOwner) throw refuse(CloseReason.ConversationNotFound);
		const session = this.#authenticate(token, requestHeaders);
		if (!this.sockets.claim(request, socketId, session.user.id)) throw refuse(CloseReason.TooManyConnections);
		if (channelOwner) {
			if (channelOwner !== session.user.id) throw refuse(CloseReason.Forbidden);
			return { ...session, channel: true };
		}
		const { conversationId, epoch } = named!;
		const access = checkAccess(this.db, conversationId, session.user.id);
		if (access === 'not-found') throw refuse(CloseReason.ConversationNotFound);
		if (access === 'not-a-member') throw refuse(CloseReason.NotAMember);
		// Only members learn that an epoch ended; an epoch not begun yet does not exist.
		const current = this.currentEpoch(conversationId) ?? 0;
		if (epoch < current) throw refuse(CloseReason.EpochEnded);
		if (epoch > current) throw refuse(CloseReason.ConversationNotFound);
		return { ...session, conversationId };
	}

	/** The session may have ended, or membership been revoked, while the document was loading for this connection. */
	async connected({ connection, context, documentName, socketId }: connectedPayload): Promise<void> {
		const ctx = context as SyncContext;
		this.sockets.connected(socketId, documentName);
		if (sessionExpiry(this.db, ctx.sessionId) === null) connection.close(refuse(CloseReason.SessionEnded));
		else if (ctx.conversationId && !this.isMember(ctx.conversationId, ctx.user.id)) connection.close(refuse(CloseReason.MembershipRevoked));
	}

	async onDisconnect({ socketId, documentName }: onDisconnectPayload): Promise<void> {
		this.sockets.disconnected(socketId, documentName);
	}

	async beforeHandleMessage({ connection, context }: beforeHandleMessagePayload): Promise<void> {
		if (!this.#sessionStillLive(context as SyncContext)) return dropFrame(connection, refuse(CloseReason.SessionEnded));
	}

	/** Closes every connection opened with this session (logout, a new login replacing it). */
	endSession(sessionId: string): void {
		this.#closeWhere((ctx) => ctx.sessionId === sessionId, CloseReason.SessionEnded);
	}

	/** Closes every connection of this user to this conversation (ACCESS-3). */
	revoke(conversationId: string, userId: string): void {
		this.#closeWhere((ctx) => ctx.conversationId === conversationId && ctx.user?.id === userId, CloseReason.MembershipRevoked);
	}

	#authenticate(token: string, headers: IncomingHttpHeaders): Pick<SyncContext, 'user' | 'sessionId' | 'sessionExpiresAt'> {
		// A browser passes an empty token and is known by its session cookie (the upgrade already checked its Origin).
		const secret = token || readCookie(headers, SESSION_COOKIE);
		if (!secret || secret.length > 128) throw refuse(CloseReason.Unauthenticated);
		const { user, session } = validateSessionToken(this.db, secret, this.sessionDays);
		if (!user) throw refuse(CloseReason.Unauthenticated);
		return { user: { id: user.id, username: user.username }, sessionId: session.id, sessionExpiresAt: session.expiresAt };
	}

	/** Free until the session's known expiry, then asked of the database. */
	#sessionStillLive(context: SyncContext, now = Date.now()): boolean {
		if (!context.sessionId || now < context.sessionExpiresAt) return true;
		const expiresAt = sessionExpiry(this.db, context.sessionId);
		if (expiresAt === null) return false;
		context.sessionExpiresAt = expiresAt;
		return true;
	}

	#closeEndedSessions(): void {
		const live = new Map<string, boolean>();
		this.#closeWhere((ctx) => {
			if (!ctx.sessionId) return false;
			if (!live.has(ctx.sessionId)) live.set(ctx.sessionId, sessionExpiry(this.db, ctx.sessionId) !== null);
			return !live.get(ctx.sessionId);
		}, CloseReason.SessionEnded);
	}

	#closeWhere(match: (context: Partial<SyncContext>) => boolean, reason: CloseReason): void {
		for (const document of this.#instance?.documents.values() ?? []) {
			for (const connection of document.getConnections()) {
				if (match(connection.context as Partial<SyncContext>)) connection.close(refuse(reason));
			}
		}
	}
}
