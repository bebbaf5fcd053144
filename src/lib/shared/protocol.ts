/**
 * The sync protocol shared by the server, the web client, bots and tests.
 * docs/protocol.md explains it in prose; this file is the source of truth.
 */

export const PROTOCOL_VERSION = 1;

/** WebSocket path of the Hocuspocus endpoint, on the same port as the web app. */
export const SYNC_PATH = '/sync';

const DOC_PREFIX = 'conversation:';

export function conversationDocName(conversationId: string): string {
	return DOC_PREFIX + conversationId;
}

/** The conversation id of a document name, or null when the name is not a conversation. */
export function parseConversationDocName(name: string): string | null {
	if (!name.startsWith(DOC_PREFIX)) return null;
	const id = name.slice(DOC_PREFIX.length);
	return /^[0-9A-HJKMNP-TV-Z]{26}$/.test(id) ? id : null;
}

/**
 * Root types of a conversation document.
 * - `messages`: Y.Map keyed by message id; each value is a plain JSON {@link MessageValue}.
 *   Only the author writes (or deletes) their own keys.
 * - `seq`: Y.Map keyed by message id; the server's sequence number, written by the server only,
 *   after the message is on disk. Its presence is the durable "sent" acknowledgement, and
 *   clients order messages by it.
 */
export const DOC_MESSAGES = 'messages';
export const DOC_SEQ = 'seq';

/** What a client stores under `messages.get(id)`. */
export interface MessageValue {
	id: string;
	/** The author's user id; the server refuses any other. */
	author: string;
	body: string;
	/** Client clock, ms since epoch: display only, never used for order. */
	createdAt: number;
	editedAt?: number;
}

/**
 * Reasons the server gives when it refuses a document (auth `permission-denied` message) or
 * closes one (Hocuspocus CLOSE message, seen by the provider as a close event with code 1000
 * and this reason).
 */
export const CloseReason = {
	/** Missing, unknown or expired token or session cookie. */
	Unauthenticated: 'unauthenticated',
	/** The document name is not `conversation:<ULID>`, or no such conversation exists. */
	ConversationNotFound: 'conversation-not-found',
	/** The user is not a member of the conversation. */
	NotAMember: 'not-a-member',
	/** The session or token behind this connection was logged out. */
	SessionEnded: 'session-ended',
	/** The user was removed from the conversation while connected. */
	MembershipRevoked: 'membership-revoked',
	/** A frame that could not be decoded. */
	MalformedMessage: 'malformed-message',
	/** An update the server refuses (see {@link RefusalCode}); an `update-refused` stateless message precedes it. */
	UpdateRefused: 'update-refused',
	/** Broadcast-stateless frames are not relayed. */
	BroadcastNotAllowed: 'broadcast-not-allowed'
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

/** Why a specific update was refused. */
export const RefusalCode = {
	ForeignClient: 'foreign-client-id',
	ForeignAuthor: 'foreign-author',
	ForeignMessage: 'foreign-message',
	UnknownRoot: 'unknown-root',
	UnsupportedContent: 'unsupported-content',
	InvalidMessage: 'invalid-message',
	MessageEmpty: 'message-empty',
	MessageTooLong: 'message-too-long',
	OutOfOrder: 'out-of-order'
} as const;
export type RefusalCode = (typeof RefusalCode)[keyof typeof RefusalCode];

/** WebSocket close codes sent by the HTTP upgrade/ws layer itself (not Hocuspocus). */
export const SocketCloseCode = {
	/** The frame exceeded the server's maxPayload. Set by `ws`. */
	FrameTooLarge: 1009
} as const;

/** Stateless messages from server to client, JSON-encoded, discriminated by `type`. */
export type ServerStateless = {
	type: 'update-refused';
	v: typeof PROTOCOL_VERSION;
	code: RefusalCode;
	message: string;
	/** Message ids named in the refused update (may be empty when none could be read). */
	messageIds: string[];
};

export function encodeStateless(message: ServerStateless): string {
	return JSON.stringify(message);
}

export function decodeServerStateless(payload: string): ServerStateless | null {
	try {
		const value = JSON.parse(payload) as { type?: unknown };
		return value && value.type === 'update-refused' ? (value as ServerStateless) : null;
	} catch {
		return null;
	}
}
