import type { Db } from './db/index.ts';
import type { Limiters, RateLimits } from './limiters.ts';
import type { Uploads } from './uploads.ts';
import type { MessageDto } from './messages.ts';
import type { AttachmentRef, SystemEvent } from '../shared/protocol.ts';

/** What the sync server offers to HTTP routes: writes through the live documents, and live notifications. */
export interface LiveServices {
	/**
	 * Stores a message through the conversation document: 'created', or 'exists' (the id was already
	 * stored, by this author), or 'conflict' (the id is someone else's or otherwise taken).
	 */
	send(input: {
		conversationId: string;
		authorId: string;
		id: string;
		body: string;
		createdAt: number;
		replyTo?: string;
		attachments?: AttachmentRef[];
	}): Promise<{ outcome: 'created' | 'exists'; message: MessageDto } | { outcome: 'conflict' }>;
	/** Writes a line into the conversation's timeline (a join, leave, removal or rename) as `actorId`'s doing. */
	recordEvent(conversationId: string, actorId: string, event: SystemEvent): Promise<void>;
	/** Closes every open sync connection of this user to this conversation. */
	revoke(conversationId: string, userId: string): void;
	/** Closes every open sync connection authenticated by this session. */
	endSession(sessionId: string): void;
	/** Tells the user's devices that a conversation left their list. */
	removedFromConversation(conversationId: string, userId: string): void;
	/** Whether the user has any sync connection open. */
	isOnline(userId: string): boolean;
	/** How many users have a sync connection open now. */
	onlineCount(): number;
	/** Tells every member's devices (their user channels) the conversation's new summary. */
	conversationChanged(conversationId: string, userIds?: string[]): void;
	/** Publishes a member's moved receipt markers to the conversation's open documents and every member's inbox. */
	receiptsChanged(conversationId: string, userId: string, markers: { deliveredSeq: number; readSeq: number }): void;
}

export interface RuntimeConfig {
	sessionDays: number;
	allowedOrigins: string[];
	/** Usernames with the admin view (ADMIN_USERNAMES): from configuration, never from a request. */
	adminUsernames: string[];
	/** Set the Secure flag on cookies even when the request itself looks like plain http. */
	secureCookies: boolean;
	/** The client address is X-Forwarded-For's first entry (set by a reverse proxy), not the socket's. */
	trustProxy: boolean;
	limits: RateLimits;
}

export interface Runtime {
	db: Db;
	config: RuntimeConfig;
	live: LiveServices;
	/** The rate limits' buckets the HTTP routes draw on (made from config.limits). */
	limiters: Limiters;
	/** Uploaded files (DATA_DIR/uploads). */
	uploads: Uploads;
}

// The SvelteKit build bundles its own copy of this module, so the process-wide value lives on globalThis.
const KEY = Symbol.for('basement-chat.runtime');
type Holder = { [KEY]?: Runtime };

export function setRuntime(runtime: Runtime | undefined): void {
	(globalThis as Holder)[KEY] = runtime;
}

export function getRuntime(): Runtime {
	const runtime = (globalThis as Holder)[KEY];
	if (!runtime) throw new Error('the server runtime is not started (start the app with server/index.ts)');
	return runtime;
}
