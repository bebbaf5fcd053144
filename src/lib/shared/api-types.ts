import type { AttachmentRef, SystemEvent } from './protocol.ts';

/** Shapes the JSON API and the inbox channel send; shared by server and client. */

export interface PublicUser {
	id: string;
	username: string;
	displayName: string;
	/** The upload that is their profile photo (`GET /api/uploads/:id/thumbnail`, square); null: show initials. */
	avatar: string | null;
	/** One of a host platform's support staff. */
	staff?: boolean;
	/** Only in `GET /api/me`: I have the admin view. */
	admin?: boolean;
}

export interface MemberDto extends PublicUser {
	/** `staff`: a platform's support agent in a support conversation. */
	role: 'owner' | 'member' | 'staff' | 'moderator';
	/** This member has read every message with seq ≤ readSeq. */
	readSeq: number;
	/** At least one of this member's devices has every message with seq ≤ deliveredSeq. */
	deliveredSeq: number;
	/** Connected on any device right now. */
	online: boolean;
	/** When the member's last connection closed, ms; null if never connected. */
	lastSeenAt: number | null;
}

/** A thing on a host platform that conversations are about: a post, a booking, a pattern. */
export interface ContextDto {
	kind: string;
	externalId: string;
	/** The platform whose namespace it is in (`?platform=` in its routes), or null for a user's own. */
	platform: string | null;
	title: string;
	/** Where it is on the host platform. */
	url: string | null;
	imageUrl: string | null;
	/** Who is contacted about it. */
	ownerId: string;
	/** `support`: a platform's staff answer (a booking); `owner`: its owner does (a post). */
	audience: 'owner' | 'support';
}

export interface ConversationDto {
	id: string;
	/** `context`: about one context, between its owner and the member who started it. */
	kind: 'direct' | 'group' | 'context';
	title: string | null;
	members: MemberDto[];
	/** What a `context` conversation is about; null otherwise. */
	context: ContextDto | null;
	/** `closed`: nobody can send until it is reopened (`conversation-closed`). */
	status: 'open' | 'closed';
	/** The conversation's current epoch: its document is `conversationDocName(id, epoch)` (docs/protocol.md). */
	epoch: number;
	/** The first sequence number of the current epoch: messages before it are in the history (REST) only. */
	epochFirstSeq: number;
}

export interface MessageDto {
	id: string;
	conversationId: string;
	seq: number;
	author: PublicUser;
	body: string;
	createdAt: number;
	receivedAt: number;
	editedAt: number | null;
	deletedAt: number | null;
	/** Set on lines the server writes into the timeline (joins, leaves, removals, renames). */
	event: SystemEvent | null;
	/** The message this one replies to, if any (it may be deleted, or older than what was loaded). */
	replyTo: string | null;
	/** Reactions, each emoji with the members who reacted with it (none on a deleted message). */
	reactions: ReactionDto[];
	/** Files it carries (none on a deleted message): `GET /api/uploads/:id`, and `/thumbnail` for images. */
	attachments: AttachmentRef[];
}

export interface ReactionDto {
	emoji: string;
	userIds: string[];
}

/** What a message or a receipt changes in a conversation's summary, as one member sees it. */
export interface InboxActivity extends Pick<ConversationSummary, 'lastMessage' | 'unreadCount' | 'markedUnread' | 'updatedAt' | 'epoch' | 'epochFirstSeq'> {
	conversationId: string;
	/** Members' markers that moved, of those whose markers the recipient needs. */
	markers: Array<{ userId: string; deliveredSeq: number; readSeq: number }>;
}

export interface ConversationSummary extends ConversationDto {
	lastMessage: MessageDto | null;
	/** Messages from others after my read marker; at least 1 while I marked the conversation unread. */
	unreadCount: number;
	markedUnread: boolean;
	updatedAt: number;
	/** When I archived it, or null. It is archived (hidden from my main list) while no activity is newer: see {@link isArchived}. */
	archivedAt: number | null;
}

/** Archived for me: archived, and nothing arrived since (a new message brings it back, as on WhatsApp). */
export function isArchived(summary: Pick<ConversationSummary, 'archivedAt' | 'updatedAt'>): boolean {
	return summary.archivedAt !== null && summary.updatedAt <= summary.archivedAt;
}

/** One message found by `GET /api/search`. */
export interface SearchHit {
	conversationId: string;
	message: MessageDto;
	/** The body around the matched words, each match between U+0002 and U+0003. */
	snippet: string;
}

export interface SearchPage {
	results: SearchHit[];
	/** Pass as `before` for the next (older) page; null when there is none. */
	nextCursor: number | null;
}

/** `GET /api/admin/stats` (ADMIN-1). */
export interface AdminStats {
	/** Conversations by kind and status. */
	conversations: Array<{ kind: string; status: string; count: number }>;
	/** Messages (not timeline lines) per UTC day, the last 30 days, oldest first. */
	messagesPerDay: Array<{ day: string; count: number }>;
	usersOnline: number;
	/** Median time from a customer's first message to support's first answer in support conversations, ms; null without any. */
	medianFirstResponseMs: number | null;
	/** Support conversations with a first answer (the median's sample) and without one yet. */
	supportAnswered: number;
	supportWaiting: number;
}
