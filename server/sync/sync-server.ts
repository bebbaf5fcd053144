import { Hocuspocus, type Extension, type onCreateDocumentPayload } from '@hocuspocus/server';
import { ulid } from 'ulid';
import { prepareClosedCheck, prepareMembershipCheck, prepareModeratorCheck } from '../../src/lib/server/conversations.ts';
import type { Db } from '../../src/lib/server/db/index.ts';
import { getMessage, prepareMessageWrites } from '../../src/lib/server/messages.ts';
import type { LiveServices } from '../../src/lib/server/runtime.ts';
import type { Uploads } from '../../src/lib/server/uploads.ts';
import type { RateLimits } from '../../src/lib/server/limiters.ts';
import type { TokenBuckets } from '../../src/lib/server/rate-limit.ts';
import { Authentication } from './authentication.ts';
import type { Compactor } from './compactor.ts';
import { CommitGroup } from './commit-group.ts';
import { ConversationDocuments, DEFAULT_LINGERING } from './conversation-documents.ts';
import { prepareDocumentLog } from './document-log.ts';
import { prepareEpochs, type EpochLimits } from './epochs.ts';
import { FrameBudget } from './frame-budget.ts';
import { Inbox } from './inbox.ts';
import { Signals } from './signals.ts';
import { SocketRegistry } from './sockets.ts';

export type { SyncUser } from './context.ts';

export interface SyncServerOptions {
	db: Db;
	sessionDays: number;
	compactEvery?: number;
	compactor?: Compactor;
	/** How often open connections' sessions are checked for expiry. */
	sessionCheckMs?: number;
	/** Abuse limits (LIMIT_*): stateless frames per connection, sockets per user. */
	limits?: Pick<RateLimits, 'stateless' | 'socketsPerUser'>;
	/** Each user's message budget, shared with the REST send (LIMIT_MESSAGES). */
	messageBudget?: TokenBuckets;
	/** How long a conversation stays loaded after its last connection closes (DOCUMENT_LINGER_MS). */
	lingerMs?: number;
	/** When a conversation's epoch ends (EPOCH_MESSAGES, EPOCH_BYTES). */
	epochLimits?: EpochLimits;
	/** Uploaded files that messages carry (ATTACH-2); without them, a message with attachments is refused. */
	uploads?: Uploads;
}

/**
 * A document's Yjs guid is its name: Yjs would draw a random UUID for each one, 31 reads of the
 * system's random source, which was the largest cost of opening a document in a reconnect storm.
 */
const namedDocuments: Extension = {
	async onCreateDocument({ documentName }: onCreateDocumentPayload) {
		return { guid: documentName };
	}
};

/**
 * Hocuspocus with this app's behaviour composed from one extension per concern: authentication
 * (who is on each connection), conversation documents (the guard and durable commits), signals
 * (receipts and typing) and the inbox (presence and each user's channel).
 */
export function createSyncServer({ db, sessionDays, compactEvery = 500, compactor, sessionCheckMs, limits, messageBudget, lingerMs, epochLimits, uploads }: SyncServerOptions) {
	const sockets = new SocketRegistry(undefined, limits?.socketsPerUser);
	const frames = limits ? new FrameBudget(limits.stateless) : undefined;
	const isMember = prepareMembershipCheck(db);
	const epochs = prepareEpochs(db);
	const authentication = new Authentication(db, sessionDays, sockets, isMember, epochs.current, sessionCheckMs);
	const inbox = new Inbox(db);
	// Called only once the documents exist (by then `documents` is set).
	const signals = new Signals(db, (conversationId, moved) => inbox.activity(conversationId, moved), frames, (conversationId) => documents.loadedDocName(conversationId));
	const documents = new ConversationDocuments({
		db,
		log: prepareDocumentLog(db),
		writes: prepareMessageWrites(db),
		isMember,
		isClosed: prepareClosedCheck(db),
		isModerator: prepareModeratorCheck(db),
		compactEvery,
		compactor,
		commits: new CommitGroup(db),
		epochLimits,
		uploads,
		admit: messageBudget && ((userId, messages) => messageBudget.take(userId, messages)),
		onMessagesChanged(conversationId, newMessageAuthors) {
			// Sending a message ends its author's typing; every member's inbox moves (previews follow edits too).
			for (const userId of newMessageAuthors) signals.setTyping(conversationId, userId, false);
			inbox.activity(conversationId);
		}
	}, epochs, frames, { ...DEFAULT_LINGERING, ms: lingerMs ?? DEFAULT_LINGERING.ms }, (userId) => sockets.line.suspect(userId));

	const hocuspocus = new Hocuspocus({
		name: 'basement-chat',
		quiet: true,
		// Storage happens before acknowledgement in beforeHandleMessage; Hocuspocus's own store debounce has nothing to do.
		debounce: 60_000,
		maxDebounce: 120_000,
		extensions: [namedDocuments, authentication, documents, signals, inbox]
	});

	const live: LiveServices = {
		send: ({ conversationId, authorId, id, body, createdAt, replyTo, attachments }) =>
			documents.withConversation(conversationId, (conversation) => {
				const outcome = conversation.sendFromServer({ id, author: authorId, body, createdAt, ...(replyTo ? { replyTo } : {}), ...(attachments?.length ? { attachments } : {}) });
				const message = getMessage(db, conversationId, id);
				if (outcome === 'conflict' || !message || message.author.id !== authorId) return { outcome: 'conflict' as const };
				return { outcome, message };
			}),
		recordEvent: (conversationId, actorId, event) =>
			documents.withConversation(conversationId, (conversation) => {
				const value = { id: ulid(), author: actorId, body: '', createdAt: Date.now(), event };
				conversation.sendFromServer(value, { authorMustBeMember: false });
			}),
		endSession: (sessionId) => authentication.endSession(sessionId),
		revoke: (conversationId, userId) => authentication.revoke(conversationId, userId),
		removedFromConversation: (conversationId, userId) => inbox.removedFromConversation(conversationId, userId),
		isOnline: inbox.isOnline,
		onlineCount: () => inbox.presence.onlineUsers().length,
		conversationChanged: (conversationId, userIds) => inbox.conversationChanged(conversationId, userIds),
		receiptsChanged: (conversationId, userId, markers) => signals.receiptsChanged(conversationId, userId, markers)
	};

	/** Closes every connection; hooks that run as they close leave the database alone. */
	function stop(): void {
		authentication.stop();
		signals.stop();
		documents.releaseAll();
		inbox.stop();
		hocuspocus.closeConnections();
	}

	return { hocuspocus, live, conversations: documents.conversations, presence: inbox.presence, sockets, stop };
}
export type SyncServer = ReturnType<typeof createSyncServer>;
