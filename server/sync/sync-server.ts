import { Hocuspocus, type Extension, type Connection } from '@hocuspocus/server';
import type { IncomingHttpHeaders } from 'node:http';
import { checkAccess, prepareMembershipCheck } from '../../src/lib/server/conversations.ts';
import type { Db } from '../../src/lib/server/db/index.ts';
import { getMessage, prepareMessageWrites } from '../../src/lib/server/messages.ts';
import type { Messaging } from '../../src/lib/server/runtime.ts';
import { SESSION_COOKIE, validateSessionToken } from '../../src/lib/server/session.ts';
import {
	CloseReason,
	conversationDocName,
	encodeStateless,
	parseConversationDocName,
	PROTOCOL_VERSION,
	RefusalCode
} from '../../src/lib/shared/protocol.ts';
import { prepareDocumentLog } from './document-log.ts';
import { awarenessClientIds, decodeFrame, MalformedFrameError } from './frame.ts';
import { LiveConversation, type LiveDeps } from './live-conversation.ts';

export interface SyncUser {
	id: string;
	username: string;
}

interface SyncContext {
	user: SyncUser;
	sessionId: string;
	conversationId: string;
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
}

/**
 * Hocuspocus with the behaviour of this app composed as one extension: authentication per
 * document, durable storage before acknowledgement, and the update guard.
 */
export function createSyncServer({ db, sessionDays, compactEvery = 500 }: SyncServerOptions) {
	const deps: LiveDeps = {
		db,
		log: prepareDocumentLog(db),
		writes: prepareMessageWrites(db),
		isMember: prepareMembershipCheck(db),
		compactEvery
	};
	const live = new Map<string, LiveConversation>();

	function authenticate(token: string, headers: IncomingHttpHeaders): { user: SyncUser; sessionId: string } {
		// A browser passes an empty token and is known by its session cookie (the upgrade already checked its Origin).
		const secret = token || readCookie(headers, SESSION_COOKIE);
		if (!secret || secret.length > 128) throw refuse(CloseReason.Unauthenticated);
		const { user, session } = validateSessionToken(db, secret, sessionDays);
		if (!user) throw refuse(CloseReason.Unauthenticated);
		return { user: { id: user.id, username: user.username }, sessionId: session.id };
	}

	function refuseUpdate(connection: Connection, { code, message, messageIds }: { code: RefusalCode; message: string; messageIds: string[] }): never {
		connection.sendStateless(encodeStateless({ type: 'update-refused', v: PROTOCOL_VERSION, code, message, messageIds }));
		throw refuse(CloseReason.UpdateRefused);
	}

	const extension: Extension = {
		async onAuthenticate({ token, documentName, requestHeaders }): Promise<SyncContext> {
			const conversationId = parseConversationDocName(documentName);
			if (!conversationId) throw refuse(CloseReason.ConversationNotFound);
			const { user, sessionId } = authenticate(token, requestHeaders);
			const access = checkAccess(db, conversationId, user.id);
			if (access === 'not-found') throw refuse(CloseReason.ConversationNotFound);
			if (access === 'not-a-member') throw refuse(CloseReason.NotAMember);
			return { user, sessionId, conversationId };
		},

		async onLoadDocument({ document, documentName }) {
			const conversationId = parseConversationDocName(documentName);
			if (!conversationId) return;
			live.set(documentName, LiveConversation.load(conversationId, document, deps));
		},

		async beforeHandleMessage({ connection, documentName, update: frame, context }) {
			const conversation = live.get(documentName);
			const { user } = context as SyncContext;
			if (!conversation || !user) throw refuse(CloseReason.ConversationNotFound);
			let decoded;
			try {
				decoded = decodeFrame(frame);
			} catch (error) {
				if (error instanceof MalformedFrameError) throw refuse(CloseReason.MalformedMessage);
				throw error;
			}
			switch (decoded.kind) {
				case 'passive':
					return;
				case 'broadcast-stateless':
					throw refuse(CloseReason.BroadcastNotAllowed);
				case 'awareness': {
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
				case 'update': {
					const result = await conversation.submit(decoded.update, user.id, connection);
					if (result.ok) return;
					if ('revoked' in result) throw refuse(CloseReason.MembershipRevoked);
					refuseUpdate(connection, result);
					return;
				}
			}
		},

		async beforeUnloadDocument({ documentName }) {
			live.get(documentName)?.dispose();
		},

		async afterUnloadDocument({ documentName }) {
			live.delete(documentName);
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

	const messaging: Messaging = {
		async send({ conversationId, authorId, id, body, createdAt }) {
			const direct = await hocuspocus.openDirectConnection(conversationDocName(conversationId), {});
			try {
				const conversation = live.get(conversationDocName(conversationId));
				if (!conversation) throw new Error(`conversation ${conversationId} did not load`);
				const created = conversation.sendFromServer({ id, author: authorId, body, createdAt });
				const message = getMessage(db, conversationId, id);
				if (!message) throw new Error(`message ${id} missing after send`);
				return { created, message };
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
		revoke(conversationId, userId) {
			const document = hocuspocus.documents.get(conversationDocName(conversationId));
			for (const connection of document?.getConnections() ?? []) {
				if ((connection.context as SyncContext).user?.id === userId) connection.close(refuse(CloseReason.MembershipRevoked));
			}
		}
	};

	return { hocuspocus, messaging, live };
}
export type SyncServer = ReturnType<typeof createSyncServer>;
