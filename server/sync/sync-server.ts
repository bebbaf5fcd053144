import { Hocuspocus, type Connection, type Document, type Extension } from '@hocuspocus/server';
import type { IncomingHttpHeaders } from 'node:http';
import * as Y from 'yjs';
import { checkAccess, contactsOf, listConversations, memberIdsOf, prepareMembershipCheck } from '../../src/lib/server/conversations.ts';
import type { Db } from '../../src/lib/server/db/index.ts';
import { getMessage, prepareMessageWrites } from '../../src/lib/server/messages.ts';
import { recordReceipt } from '../../src/lib/server/receipts.ts';
import type { LiveServices } from '../../src/lib/server/runtime.ts';
import { users } from '../../src/lib/server/db/schema.ts';
import { eq } from 'drizzle-orm';
import { SESSION_COOKIE, validateSessionToken } from '../../src/lib/server/session.ts';
import {
	CloseReason,
	conversationDocName,
	decodeClientStateless,
	encodeStateless,
	parseConversationDocName,
	parseUserDocName,
	PROTOCOL_VERSION,
	RefusalCode,
	type ServerStateless
} from '../../src/lib/shared/protocol.ts';
import type { Compactor } from './compactor.ts';
import { prepareDocumentLog } from './document-log.ts';
import { awarenessClientIds, decodeFrame, MalformedFrameError } from './frame.ts';
import { LiveConversation, type LiveDeps } from './live-conversation.ts';
import { Presence } from './presence.ts';
import { UserChannels } from './user-channels.ts';

export interface SyncUser {
	id: string;
	username: string;
}

interface SyncContext {
	user: SyncUser;
	sessionId: string;
	/** Set on conversation documents. */
	conversationId?: string;
	/** Set on the user's own channel. */
	channel?: true;
	/** Set once the connection counts for presence. */
	counted?: true;
}

function isEmptyUpdate(update: Uint8Array): boolean {
	try {
		const { structs, ds } = Y.decodeUpdate(update);
		return structs.length === 0 && ds.clients.size === 0;
	} catch {
		return false;
	}
}

/** What Hocuspocus turns into a permission-denied message or a CLOSE message for the client. */
function refuse(reason: CloseReason): { code: number; reason: CloseReason } {
	return { code: 4403, reason };
}

function readCookie(headers: IncomingHttpHeaders, name: string): string | null {
	for (const part of (headers.cookie ?? '').split(';')) {
		const eq = part.indexOf('=');
		if (eq > 0 && part.slice(0, eq).trim() === name) {
			try {
				return decodeURIComponent(part.slice(eq + 1).trim());
			} catch {
				return null;
			}
		}
	}
	return null;
}

export interface SyncServerOptions {
	db: Db;
	sessionDays: number;
	compactEvery?: number;
	compactor?: Compactor;
}

const v = PROTOCOL_VERSION;

/**
 * Hocuspocus with the behaviour of this app composed as one extension: authentication per
 * document, durable storage before acknowledgement, the update guard, receipts, typing, presence,
 * and each user's channel for the live inbox.
 */
export function createSyncServer({ db, sessionDays, compactEvery = 500, compactor }: SyncServerOptions) {
	const conversations = new Map<string, LiveConversation>();
	const presence = new Presence();
	const channels = new UserChannels();
	const isOnline = (userId: string) => presence.isOnline(userId);
	/** Set while shutting down: connections closing then must not touch the database any more. */
	let stopped = false;
	/** `conversationId:userId` of everyone who said they are typing and has not stopped. */
	const typing = new Set<string>();

	function setTyping(conversationId: string, userId: string, active: boolean, except?: Connection): void {
		const key = `${conversationId}:${userId}`;
		if (!active && !typing.has(key)) return;
		if (active) typing.add(key);
		else typing.delete(key);
		broadcast(conversationId, { type: 'typing', v, userId, active }, except);
	}

	/** Sends each member with an open user channel their own summary of the conversation. */
	function conversationChanged(conversationId: string, userIds?: string[]): void {
		if (stopped) return;
		for (const userId of userIds ?? memberIdsOf(db, conversationId)) {
			if (!channels.has(userId)) continue;
			const [conversation] = listConversations(db, userId, isOnline, conversationId);
			if (conversation) channels.send(userId, { type: 'inbox', v, conversation });
		}
	}

	function broadcast(conversationId: string, message: ServerStateless, except?: Connection): void {
		const document = hocuspocus.documents.get(conversationDocName(conversationId));
		const payload = encodeStateless(message);
		for (const connection of document?.getConnections() ?? []) if (connection !== except) connection.sendStateless(payload);
	}

	function receiptsChanged(conversationId: string, userId: string, markers: { deliveredSeq: number; readSeq: number }): void {
		broadcast(conversationId, { type: 'receipts', v, userId, ...markers });
		conversationChanged(conversationId);
	}

	function presenceChanged(userId: string, online: boolean): void {
		if (stopped) return;
		let lastSeenAt: number | null = null;
		if (!online) {
			lastSeenAt = Date.now();
			db.update(users).set({ lastSeenAt }).where(eq(users.id, userId)).run();
		}
		for (const contact of contactsOf(db, userId)) {
			if (contact !== userId) channels.send(contact, { type: 'presence', v, userId, online, lastSeenAt });
		}
	}

	const deps: LiveDeps = {
		db,
		log: prepareDocumentLog(db),
		writes: prepareMessageWrites(db),
		isMember: prepareMembershipCheck(db),
		compactEvery,
		compactor,
		onMessagesChanged(conversationId, newMessageAuthors) {
			// Sending a message ends its author's typing; every member's inbox moves (previews follow edits too).
			for (const userId of newMessageAuthors) setTyping(conversationId, userId, false);
			conversationChanged(conversationId);
		}
	};

	function authenticate(token: string, headers: IncomingHttpHeaders): { user: SyncUser; sessionId: string } {
		// A browser passes an empty token and is known by its session cookie (the upgrade already checked its Origin).
		const secret = token || readCookie(headers, SESSION_COOKIE);
		if (!secret || secret.length > 128) throw refuse(CloseReason.Unauthenticated);
		const { user, session } = validateSessionToken(db, secret, sessionDays);
		if (!user) throw refuse(CloseReason.Unauthenticated);
		return { user: { id: user.id, username: user.username }, sessionId: session.id };
	}

	function refuseUpdate(connection: Connection, { code, message, messageIds }: { code: RefusalCode; message: string; messageIds: string[] }): never {
		connection.sendStateless(encodeStateless({ type: 'update-refused', v, code, message, messageIds }));
		throw refuse(CloseReason.UpdateRefused);
	}

	/** A receipt is always the connection's own: one naming anyone else is refused and changes nothing. */
	function handleReceipt(connection: Connection, context: SyncContext, receipt: { conversationId?: string; userId?: string; deliveredSeq?: number; readSeq?: number }): void {
		const conversationId = context.conversationId ?? receipt.conversationId;
		const refuseReceipt = (message: string) => connection.sendStateless(encodeStateless({ type: 'receipt-refused', v, message }));
		if (receipt.userId !== undefined && receipt.userId !== context.user.id) return refuseReceipt('a receipt can only be written for yourself');
		if (context.conversationId && receipt.conversationId && receipt.conversationId !== context.conversationId) {
			return refuseReceipt('send a receipt on its own conversation or on your user channel');
		}
		if (!conversationId) return refuseReceipt('name the conversation of the receipt');
		const markers = recordReceipt(db, conversationId, context.user.id, receipt);
		if (!markers) return refuseReceipt('you are not a member of this conversation');
		if (markers.changed) receiptsChanged(conversationId, context.user.id, markers);
	}

	const extension: Extension = {
		async onAuthenticate({ token, documentName, requestHeaders }): Promise<SyncContext> {
			const channelOwner = parseUserDocName(documentName);
			const conversationId = parseConversationDocName(documentName);
			if (!conversationId && !channelOwner) throw refuse(CloseReason.ConversationNotFound);
			const { user, sessionId } = authenticate(token, requestHeaders);
			if (channelOwner) {
				if (channelOwner !== user.id) throw refuse(CloseReason.Forbidden);
				return { user, sessionId, channel: true };
			}
			const access = checkAccess(db, conversationId!, user.id);
			if (access === 'not-found') throw refuse(CloseReason.ConversationNotFound);
			if (access === 'not-a-member') throw refuse(CloseReason.NotAMember);
			return { user, sessionId, conversationId: conversationId! };
		},

		async onLoadDocument({ document, documentName }) {
			const conversationId = parseConversationDocName(documentName);
			if (!conversationId) return;
			conversations.set(documentName, LiveConversation.load(conversationId, document, deps));
		},

		async connected({ connection, context }) {
			const ctx = context as SyncContext;
			// Membership may have been revoked while the document was loading for this connection.
			if (ctx.conversationId && !deps.isMember(ctx.conversationId, ctx.user.id)) {
				connection.close(refuse(CloseReason.MembershipRevoked));
				return;
			}
			ctx.counted = true;
			if (ctx.channel) channels.add(ctx.user.id, connection);
			if (presence.connect(ctx.user.id)) presenceChanged(ctx.user.id, true);
		},

		async onDisconnect({ context, documentName }) {
			const { user, channel, conversationId, counted } = context as Partial<SyncContext>;
			// Hocuspocus also reports connections that closed before they were fully set up: they were never counted.
			if (!user || !counted) return;
			if (channel) channels.reset(user.id, hocuspocus.documents.get(documentName)?.getConnections() ?? []);
			// A closed tab stops typing at once.
			if (conversationId) setTyping(conversationId, user.id, false);
			if (presence.disconnect(user.id)) presenceChanged(user.id, false);
		},

		async onStateless({ connection, payload }) {
			const context = connection.context as SyncContext;
			const message = decodeClientStateless(payload);
			if (!message || !context.user) return;
			if (message.type === 'receipt') handleReceipt(connection, context, message);
			else if (message.type === 'typing' && context.conversationId) {
				setTyping(context.conversationId, context.user.id, message.active, connection);
			}
		},

		async beforeHandleMessage({ connection, documentName, update: frame, context }) {
			const { user, channel } = context as SyncContext;
			let decoded;
			try {
				decoded = decodeFrame(frame);
			} catch (error) {
				if (error instanceof MalformedFrameError) throw refuse(CloseReason.MalformedMessage);
				throw error;
			}
			if (decoded.kind === 'broadcast-stateless') throw refuse(CloseReason.BroadcastNotAllowed);
			if (decoded.kind === 'passive') return;
			// A user channel stays empty: only its user is there, so awareness is harmless, but content is refused.
			if (channel) {
				if (decoded.kind === 'update' && !isEmptyUpdate(decoded.update)) throw refuse(CloseReason.Forbidden);
				return;
			}
			const conversation = conversations.get(documentName);
			if (!conversation || !user) throw refuse(CloseReason.ConversationNotFound);
			if (decoded.kind === 'awareness') {
				let ids;
				try {
					ids = awarenessClientIds(decoded.update);
				} catch {
					throw refuse(CloseReason.MalformedMessage);
				}
				for (const clientId of ids) {
					const owner = conversation.owners.get(clientId);
					if (owner === undefined) {
						deps.log.bindClient(conversation.conversationId, clientId, user.id);
						conversation.owners.set(clientId, user.id);
					} else if (owner !== user.id) {
						refuseUpdate(connection, { code: RefusalCode.ForeignClient, message: `clientID ${clientId} belongs to someone else`, messageIds: [] });
					}
				}
				return;
			}
			const result = await conversation.submit(decoded.update, user.id, connection);
			if (result.ok) return;
			if ('revoked' in result) throw refuse(CloseReason.MembershipRevoked);
			// The connection is closing for an earlier update of the batch; that refusal said why.
			if ('skipped' in result) throw refuse(CloseReason.UpdateRefused);
			refuseUpdate(connection, result);
		},

		async afterUnloadDocument({ documentName }) {
			// A new connection may already have loaded the document again under the same name: keep that one.
			const conversation = conversations.get(documentName);
			if (conversation && (conversation.doc as Document).isDestroyed) {
				conversation.dispose();
				conversations.delete(documentName);
			}
		}
	};

	const hocuspocus = new Hocuspocus({
		name: 'basement-chat',
		quiet: true,
		// Storage happens before acknowledgement in beforeHandleMessage; Hocuspocus's own store debounce has nothing to do.
		debounce: 60_000,
		maxDebounce: 120_000,
		extensions: [extension]
	});

	const live: LiveServices = {
		async send({ conversationId, authorId, id, body, createdAt }) {
			const direct = await hocuspocus.openDirectConnection(conversationDocName(conversationId), {});
			try {
				const conversation = conversations.get(conversationDocName(conversationId));
				if (!conversation) throw new Error(`conversation ${conversationId} did not load`);
				const outcome = conversation.sendFromServer({ id, author: authorId, body, createdAt });
				const message = getMessage(db, conversationId, id);
				if (outcome === 'conflict' || !message || message.author.id !== authorId) return { outcome: 'conflict' as const };
				return { outcome, message };
			} finally {
				await direct.disconnect();
			}
		},
		endSession(sessionId) {
			for (const document of hocuspocus.documents.values()) {
				for (const connection of document.getConnections()) {
					if ((connection.context as SyncContext).sessionId === sessionId) connection.close(refuse(CloseReason.SessionEnded));
				}
			}
		},
		removedFromConversation(conversationId, userId) {
			channels.send(userId, { type: 'inbox-removed', v, conversationId });
		},
		revoke(conversationId, userId) {
			const document = hocuspocus.documents.get(conversationDocName(conversationId));
			for (const connection of document?.getConnections() ?? []) {
				if ((connection.context as SyncContext).user?.id === userId) connection.close(refuse(CloseReason.MembershipRevoked));
			}
		},
		isOnline,
		conversationChanged,
		receiptsChanged
	};

	/** Closes every connection; hooks that run as they close leave the database alone. */
	function stop(): void {
		// Everyone connected now is "last seen" now.
		const now = Date.now();
		for (const userId of presence.onlineUsers()) db.update(users).set({ lastSeenAt: now }).where(eq(users.id, userId)).run();
		stopped = true;
		hocuspocus.closeConnections();
	}

	return { hocuspocus, live, conversations, presence, stop };
}
export type SyncServer = ReturnType<typeof createSyncServer>;
