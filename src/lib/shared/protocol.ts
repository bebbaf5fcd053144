/**
 * The sync protocol shared by the server, the web client, bots and tests.
 * docs/protocol.md explains it in prose; this file is the source of truth.
 */

import type { ConversationSummary, InboxActivity } from './api-types.ts';
import { isMessageId } from './limits.ts';

export const PROTOCOL_VERSION = 1;

/** WebSocket path of the Hocuspocus endpoint, on the same port as the web app. */
export const SYNC_PATH = '/sync';

const DOC_PREFIX = 'conversation:';
const USER_DOC_PREFIX = 'user:';
const ULID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Separates a conversation's id from its epoch in a document name. */
const EPOCH_SEPARATOR = '@';

/**
 * The document of one epoch of a conversation: `conversation:<id>` for epoch 0, then
 * `conversation:<id>@<epoch>`. Each epoch is a fresh Yjs document holding only the messages
 * written during it; older ones are in the history (REST). `ConversationDto.epoch` is the current one.
 */
export function conversationDocName(conversationId: string, epoch = 0): string {
	return epoch === 0 ? DOC_PREFIX + conversationId : `${DOC_PREFIX}${conversationId}${EPOCH_SEPARATOR}${epoch}`;
}

/** The conversation and epoch a document name stands for, or null when the name is not a conversation's. */
export function parseConversationDoc(name: string): { conversationId: string; epoch: number } | null {
	if (!name.startsWith(DOC_PREFIX)) return null;
	const [id, epochText, ...rest] = name.slice(DOC_PREFIX.length).split(EPOCH_SEPARATOR);
	if (!id || !ULID.test(id) || rest.length > 0) return null;
	if (epochText === undefined) return { conversationId: id, epoch: 0 };
	// One spelling per epoch: no leading zeros, no `@0`.
	if (!/^[1-9][0-9]{0,8}$/.test(epochText)) return null;
	return { conversationId: id, epoch: Number(epochText) };
}

/** The conversation id of a document name (any epoch), or null when the name is not a conversation's. */
export function parseConversationDocName(name: string): string | null {
	return parseConversationDoc(name)?.conversationId ?? null;
}

/**
 * A user's own channel, `user:<userId>`: an always-empty document that only its user may open. The
 * server sends it the live inbox (conversation summaries) and presence of people they share a
 * conversation with, as stateless messages; the client sends delivery receipts for conversations
 * it does not have open.
 */
export function userDocName(userId: string): string {
	return USER_DOC_PREFIX + userId;
}

export function parseUserDocName(name: string): string | null {
	if (!name.startsWith(USER_DOC_PREFIX)) return null;
	const id = name.slice(USER_DOC_PREFIX.length);
	return ULID.test(id) ? id : null;
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
/**
 * - `reactions`: Y.Map keyed `<messageId>/<userId>`; each value is that user's reactions to that
 *   message, an array of distinct emoji (an empty array or a removed key: none). Only the user the
 *   key names writes it, and only for a message the conversation has.
 */
export const DOC_REACTIONS = 'reactions';

/** The key of one user's reactions to one message in {@link DOC_REACTIONS}. */
export function reactionKey(messageId: string, userId: string): string {
	return `${messageId}/${userId}`;
}

/** The message and user a reactions key names; null when it is not one. */
export function parseReactionKey(key: string): { messageId: string; userId: string } | null {
	const slash = key.indexOf('/');
	if (slash < 0) return null;
	const messageId = key.slice(0, slash);
	const userId = key.slice(slash + 1);
	return isMessageId(messageId) && ULID.test(userId) ? { messageId, userId } : null;
}

/**
 * What a client stores under `messages.get(id)`. The key is the message's id: a value carries no
 * copy of it (values written before this rule may carry `id`, which then equals the key).
 */
export interface StoredMessageValue {
	/** Only in values written by older clients; equal to the key. */
	id?: string;
	/** The author's user id; the server refuses any other. */
	author: string;
	body: string;
	/** Client clock, ms since epoch: display only, never used for order. */
	createdAt: number;
	/** Set by an edit (a new value under the same key, with the same createdAt). */
	editedAt?: number;
	/** The id of the message this one replies to (quoted above it); kept by edits. */
	replyTo?: string;
	/**
	 * Files sent with the message (uploaded first, `POST /api/uploads`), each as the upload answered
	 * it; `body` (the caption) may then be empty. The server checks every field against its upload,
	 * that the upload is the author's and that no other message carries it (ATTACH-2). Edits keep them.
	 */
	attachments?: AttachmentRef[];
	/**
	 * Set by "delete for everyone": the value is then a tombstone `{ author, body: '', createdAt,
	 * deletedAt }` replacing the message, so every device shows "message deleted" in its place while
	 * the body is gone from every copy (the replaced value's content is garbage-collected). Final: the
	 * server refuses any other value under a deleted message's key (`message-deleted`).
	 */
	deletedAt?: number;
	/**
	 * Set only on the lines the server writes into the timeline (joins, leaves, removals, renames);
	 * `author` is then the member who acted and `body` is empty. Clients cannot write these.
	 */
	event?: SystemEvent;
}

/** A file a message carries: what `POST /api/uploads` answered for it. Images have width and height (and a thumbnail). */
export interface AttachmentRef {
	id: string;
	name: string;
	/** The type the server decided from the content. */
	type: string;
	size: number;
	width?: number;
	height?: number;
}

/** A message as read from a document: the stored value with its key as `id`. */
export interface MessageValue extends StoredMessageValue {
	id: string;
}

/** What a server-written timeline line records; every device renders it the same way. */
export type SystemEvent =
	| { type: 'members-added'; userIds: string[] }
	| { type: 'member-removed'; userId: string }
	| { type: 'member-left' }
	| { type: 'renamed'; title: string }
	/** The owner closed the conversation (nobody can send until it is reopened), or reopened it. */
	| { type: 'closed' }
	| { type: 'reopened' }
	/** A platform's support agent joined the support conversation (its author). */
	| { type: 'staff-joined' };

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
	BroadcastNotAllowed: 'broadcast-not-allowed',
	/** Someone else's user channel, or an update sent to a user channel. */
	Forbidden: 'forbidden',
	/**
	 * An update waited too long for content it builds on (which the server does not have). Nothing of
	 * it was stored; reconnect and sync again (the provider resends everything unacknowledged).
	 */
	UpdateIncomplete: 'update-incomplete',
	/** The server is rebuilding this document from its database; reconnect in a moment. Nothing acknowledged is lost. */
	Reloading: 'document-reloading',
	/** An awareness frame with a state over the size limit, or naming too many new clientIDs. */
	AwarenessRefused: 'awareness-refused',
	/** The user already holds the maximum number of sync sockets. */
	TooManyConnections: 'too-many-connections',
	/** The connection sent frames faster than allowed for too long; reconnect later (nothing acknowledged is lost). */
	RateLimited: 'rate-limited',
	/**
	 * This epoch of the conversation is over (or the name is not its current epoch): everything
	 * acknowledged in it is in the history. Open the current epoch's document (`ConversationDto.epoch`,
	 * or the `epoch-ended` stateless message that precedes this close) and write there, with the same
	 * ids, the messages this device has not seen acknowledged (EPOCH-3).
	 */
	EpochEnded: 'epoch-ended'
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
	OutOfOrder: 'out-of-order',
	/** A value written under the key of a message its author deleted for everyone. */
	MessageDeleted: 'message-deleted',
	/** An attachment naming no upload the server has (never made, or removed a day after it was made unattached). */
	AttachmentUnknown: 'attachment-unknown',
	/** An attachment naming someone else's upload. */
	ForeignAttachment: 'foreign-attachment',
	/** An attachment already carried by another message (or a profile photo). */
	AttachmentTaken: 'attachment-taken',
	/** A new message written to a conversation its owner closed. */
	ConversationClosed: 'conversation-closed'
} as const;
export type RefusalCode = (typeof RefusalCode)[keyof typeof RefusalCode];

/** WebSocket close codes sent by the HTTP upgrade/ws layer itself (not Hocuspocus). */
export const SocketCloseCode = {
	/** The frame exceeded the server's maxPayload. Set by `ws`. */
	FrameTooLarge: 1009,
	/** The socket broke a budget (see {@link SocketCloseReason}). */
	PolicyViolation: 1008
} as const;

/** Reasons sent with {@link SocketCloseCode.PolicyViolation}. */
export const SocketCloseReason = {
	/** No document was let in within 10 s of the upgrade. */
	AuthenticationTimeout: 'authentication-timeout',
	/** Too many bytes or documents waiting for authentication (or sent to refused documents). */
	PendingBudget: 'pending-budget-exceeded',
	/** A frame that does not start with a document name. */
	MalformedFrame: 'malformed-frame'
} as const;

/** Stateless messages from server to client, JSON-encoded, discriminated by `type`. */
export type ServerStateless =
	| {
			type: 'update-refused';
			v: typeof PROTOCOL_VERSION;
			code: RefusalCode;
			message: string;
			/** Message ids named in the refused update (may be empty when none could be read). */
			messageIds: string[];
	  }
	/** Members' receipt markers moved (conversation documents): every change of a short window, in one message. */
	| { type: 'receipt-markers'; v: typeof PROTOCOL_VERSION; markers: Array<{ userId: string; deliveredSeq: number; readSeq: number }> }
	/** A receipt the server would not store (another user's, or malformed). */
	| { type: 'receipt-refused'; v: typeof PROTOCOL_VERSION; message: string }
	/** Someone started or stopped typing (conversation documents). Expires by itself after {@link TYPING_TTL_MS}. */
	| { type: 'typing'; v: typeof PROTOCOL_VERSION; userId: string; active: boolean }
	/** A conversation's summary changed for me: new conversation, members, title (user channel). */
	| { type: 'inbox'; v: typeof PROTOCOL_VERSION; conversation: ConversationSummary }
	/**
	 * Activity in a conversation I have (user channel): its last message and my unread count, and
	 * the receipt markers that moved of members whose markers I need (mine, and everyone's while a
	 * message of mine is not read by all). Apply it to the summary I hold; one I do not hold, I fetch.
	 */
	| ({ type: 'inbox-activity'; v: typeof PROTOCOL_VERSION } & InboxActivity)
	/** I left or was removed from a conversation: drop it from the list (user channel). */
	| { type: 'inbox-removed'; v: typeof PROTOCOL_VERSION; conversationId: string }
	/** Someone I share a conversation with came online or went offline (user channel). */
	| { type: 'presence'; v: typeof PROTOCOL_VERSION; userId: string; online: boolean; lastSeenAt: number | null }
	/** A typing, receipt or awareness frame over this connection's budget was dropped; send again after `retryAfterMs`. */
	| { type: 'rate-limited'; v: typeof PROTOCOL_VERSION; retryAfterMs: number }
	/**
	 * This document's epoch is over; `epoch` is the conversation's current one, whose messages start
	 * at `firstSeq` (those before are in the history). A close with `epoch-ended` follows.
	 */
	| { type: 'epoch-ended'; v: typeof PROTOCOL_VERSION; epoch: number; firstSeq: number };

/** Stateless messages from client to server. */
export type ClientStateless =
	/** My markers in this conversation (on its document) or in `conversationId` (on my user channel). Markers only grow. */
	| { type: 'receipt'; conversationId?: string; userId?: string; deliveredSeq?: number; readSeq?: number }
	/** I am typing in this conversation (send again every few seconds while typing), or I stopped. */
	| { type: 'typing'; active: boolean };

/** How long a typing signal lasts without a new one. */
export const TYPING_TTL_MS = 5000;

export function encodeStateless(message: ServerStateless | ClientStateless): string {
	return JSON.stringify(message);
}

const SERVER_TYPES = new Set(['update-refused', 'receipt-markers', 'receipt-refused', 'typing', 'inbox', 'inbox-activity', 'inbox-removed', 'presence', 'rate-limited', 'epoch-ended']);

export function decodeServerStateless(payload: string): ServerStateless | null {
	try {
		const value = JSON.parse(payload) as { type?: unknown };
		return value && typeof value.type === 'string' && SERVER_TYPES.has(value.type) ? (value as ServerStateless) : null;
	} catch {
		return null;
	}
}

const isSeq = (value: unknown) => value === undefined || (Number.isSafeInteger(value) && (value as number) >= 0);

/** Parses and checks a client's stateless message; null when it is not one the server understands. */
export function decodeClientStateless(payload: string): ClientStateless | null {
	let value: Record<string, unknown>;
	try {
		value = JSON.parse(payload) as Record<string, unknown>;
	} catch {
		return null;
	}
	if (!value || typeof value !== 'object') return null;
	if (value.type === 'typing' && typeof value.active === 'boolean') return { type: 'typing', active: value.active };
	if (value.type === 'receipt' && isSeq(value.deliveredSeq) && isSeq(value.readSeq)) {
		if (value.conversationId !== undefined && (typeof value.conversationId !== 'string' || !ULID.test(value.conversationId))) return null;
		if (value.userId !== undefined && typeof value.userId !== 'string') return null;
		return value as ClientStateless;
	}
	return null;
}
