import { sql } from 'drizzle-orm';
import {
	blob,
	index,
	integer,
	primaryKey,
	sqliteTable,
	text,
	uniqueIndex
} from 'drizzle-orm/sqlite-core';

export const users = sqliteTable(
	'users',
	{
	id: text('id').primaryKey(),
	username: text('username').notNull().unique(),
	displayName: text('display_name').notNull(),
	passwordHash: text('password_hash').notNull(),
	createdAt: integer('created_at').notNull(),
	/** When the user's last sync connection closed, ms; null while never connected. */
	lastSeenAt: integer('last_seen_at'),
	/** The upload that is their profile photo; null: initials on a colour. */
	avatarId: text('avatar_id'),
	/** Users a host platform made: its id and the platform's own id for them (unique together). They sign in through the platform only. */
	platformId: text('platform_id'),
	externalId: text('external_id'),
	/** One of the platform's support staff: every support conversation of the platform is theirs to answer. */
	staff: integer('staff', { mode: 'boolean' }).notNull().default(false),
	/** The URL the platform gave for their photo, as last fetched into `avatarId` (fetched again only when it changes). */
	avatarSource: text('avatar_source')
}, (t) => [uniqueIndex('users_platform_external_idx').on(t.platformId, t.externalId)]);

/**
 * A host platform (a marketplace, a booking site) registered with `npm run platform -- add`: its
 * server manages its users and contexts with its secret and signs its users in with short-lived
 * tokens signed by it. The secret is never in git: the command prints it once.
 */
export const platforms = sqliteTable('platforms', {
	id: text('id').primaryKey(),
	name: text('name').notNull(),
	/** The HS256 key its tokens are signed with (base64url, 32 random bytes). */
	secret: text('secret').notNull(),
	/** JSON array of the origins of its pages, which may frame the chat (frame-ancestors). */
	origins: text('origins').notNull().default('[]'),
	createdAt: integer('created_at').notNull()
});
export type PlatformRow = typeof platforms.$inferSelect;

/** Sign-in tokens already exchanged (replay protection), kept until they expire. */
export const platformTokenUses = sqliteTable(
	'platform_token_uses',
	{
		platformId: text('platform_id').notNull(),
		jti: text('jti').notNull(),
		expiresAt: integer('expires_at').notNull()
	},
	(t) => [primaryKey({ columns: [t.platformId, t.jti] })]
);

export const sessions = sqliteTable(
	'sessions',
	{
		/** SHA-256 of the token, hex; the token itself is never stored. */
		id: text('id').primaryKey(),
		userId: text('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		kind: text('kind', { enum: ['cookie', 'bearer'] }).notNull(),
		expiresAt: integer('expires_at').notNull()
	},
	(t) => [index('sessions_user_idx').on(t.userId)]
);

/**
 * A thing on a host platform that conversations can be about (a post for sale, a booking, a
 * pattern): `(kind, externalId)` names it; its owner is who is contacted about it.
 */
export const contexts = sqliteTable(
	'contexts',
	{
		id: text('id').primaryKey(),
		/** Data, not code: `post`, `booking`, `pattern`, or any a platform adds. */
		kind: text('kind').notNull(),
		externalId: text('external_id').notNull(),
		title: text('title').notNull(),
		url: text('url'),
		imageUrl: text('image_url'),
		/** Who is contacted about it (the post's creator, the pattern's designer, a booking's support). */
		ownerId: text('owner_id')
			.notNull()
			.references(() => users.id),
		/** The platform that manages it (only it may change it), or '' for a user's own. Each platform has its own namespace. */
		platformId: text('platform_id').notNull().default(''),
		/** `support`: a booking's support side: every staff member of its platform answers (role `staff`). */
		audience: text('audience', { enum: ['owner', 'support'] }).notNull().default('owner'),
		createdAt: integer('created_at').notNull(),
		updatedAt: integer('updated_at').notNull()
	},
	(t) => [uniqueIndex('contexts_platform_kind_external_idx').on(t.platformId, t.kind, t.externalId), index('contexts_owner_idx').on(t.ownerId)]
);
export type ContextRow = typeof contexts.$inferSelect;

export const conversations = sqliteTable(
	'conversations',
	{
		id: text('id').primaryKey(),
		/** `context`: about one context, between its owner and one initiator (one per pair and context). */
		kind: text('kind', { enum: ['direct', 'group', 'context'] }).notNull(),
		title: text('title'),
		/** For direct conversations: the two user ids, sorted, joined by ':'. Unique, so a pair never gets two. */
		directKey: text('direct_key').unique(),
		createdBy: text('created_by')
			.notNull()
			.references(() => users.id),
		createdAt: integer('created_at').notNull(),
		/** Last activity (creation or the newest accepted message), ms. */
		updatedAt: integer('updated_at').notNull(),
		/** Highest sequence number given to a message here. */
		lastSeq: integer('last_seq').notNull().default(0),
		/**
		 * The current epoch: its document holds the messages written since it began; the document
		 * tables hold only this epoch (EPOCH-1).
		 */
		epoch: integer('epoch').notNull().default(0),
		/** The first sequence number of the current epoch: every message before it is in the history only. */
		epochFirstSeq: integer('epoch_first_seq').notNull().default(1),
		/** For context conversations: what it is about, and who started it (unique together). */
		contextId: text('context_id').references(() => contexts.id),
		initiatorId: text('initiator_id').references(() => users.id),
		/** `closed`: nobody can send (`conversation-closed`) until it is reopened. */
		status: text('status', { enum: ['open', 'closed'] }).notNull().default('open')
	},
	(t) => [
		index('conversations_updated_idx').on(t.updatedAt),
		uniqueIndex('conversations_context_initiator_idx').on(t.contextId, t.initiatorId)
	]
);

export const members = sqliteTable(
	'members',
	{
		conversationId: text('conversation_id')
			.notNull()
			.references(() => conversations.id, { onDelete: 'cascade' }),
		userId: text('user_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		/** `staff`: a platform's support agent in a support conversation (sees and answers it). */
		role: text('role', { enum: ['owner', 'member', 'staff', 'moderator'] }).notNull(),
		joinedAt: integer('joined_at').notNull(),
		/** Messages with seq ≤ readSeq count as read by this member. Only ever grows. */
		readSeq: integer('read_seq').notNull().default(0),
		/** Messages with seq ≤ deliveredSeq reached at least one of this member's devices. Only ever grows. */
		deliveredSeq: integer('delivered_seq').notNull().default(0),
		/** The member marked the conversation unread; cleared when they read further. */
		markedUnread: integer('marked_unread', { mode: 'boolean' }).notNull().default(false),
		/** When the member archived it: hidden from their main list until a message newer than this arrives. */
		archivedAt: integer('archived_at')
	},
	(t) => [
		primaryKey({ columns: [t.conversationId, t.userId] }),
		index('members_user_idx').on(t.userId)
	]
);

/** One row per message, flattened from the conversation documents as the server accepts them. */
export const messages = sqliteTable(
	'messages',
	{
		conversationId: text('conversation_id')
			.notNull()
			.references(() => conversations.id, { onDelete: 'cascade' }),
		id: text('id').notNull(),
		seq: integer('seq').notNull(),
		authorId: text('author_id')
			.notNull()
			.references(() => users.id),
		body: text('body').notNull(),
		/** The author's clock, ms: display only. */
		createdAt: integer('created_at').notNull(),
		/** The server's clock when it accepted the message, ms. */
		receivedAt: integer('received_at').notNull(),
		editedAt: integer('edited_at'),
		/** The author's clock at the last edit (the document's `editedAt`), ms: which of two edits is the later (ERASE-6). */
		authorEditedAt: integer('author_edited_at'),
		deletedAt: integer('deleted_at'),
		/** JSON of a SystemEvent (src/lib/shared/protocol.ts) on lines the server writes into the timeline (joins, leaves, renames); null for messages. */
		event: text('event'),
		/** The id of the message this one replies to (in the same conversation; it may be deleted or not loaded). */
		replyTo: text('reply_to'),
		/** JSON array of the message's attachments (AttachmentRef in src/lib/shared/protocol.ts); null when none. */
		attachments: text('attachments')
	},
	(t) => [
		primaryKey({ columns: [t.conversationId, t.id] }),
		uniqueIndex('messages_conversation_seq_idx').on(t.conversationId, t.seq)
	]
);

/** The compacted state of each conversation document. */
export const docSnapshots = sqliteTable('doc_snapshots', {
	conversationId: text('conversation_id')
		.primaryKey()
		.references(() => conversations.id, { onDelete: 'cascade' }),
	state: blob('state', { mode: 'buffer' }).notNull(),
	/** Id of the last doc_updates row folded into `state`. */
	throughUpdateId: integer('through_update_id').notNull(),
	updatedAt: integer('updated_at').notNull()
});

/** Accepted Yjs updates not yet folded into a snapshot, in the order they were accepted. */
export const docUpdates = sqliteTable(
	'doc_updates',
	{
		id: integer('id').primaryKey({ autoIncrement: true }),
		conversationId: text('conversation_id')
			.notNull()
			.references(() => conversations.id, { onDelete: 'cascade' }),
		update: blob('update', { mode: 'buffer' }).notNull(),
		createdAt: integer('created_at')
			.notNull()
			.default(sql`(unixepoch() * 1000)`)
	},
	(t) => [index('doc_updates_conversation_idx').on(t.conversationId, t.id)]
);

/**
 * Which user owns each Yjs clientID in a conversation: bound on first use, so later updates from
 * that clientID (and deletions of its items) can only come from the same user. A null user is
 * the server itself.
 */
export const docClients = sqliteTable(
	'doc_clients',
	{
		conversationId: text('conversation_id')
			.notNull()
			.references(() => conversations.id, { onDelete: 'cascade' }),
		clientId: integer('client_id').notNull(),
		userId: text('user_id')
	},
	(t) => [primaryKey({ columns: [t.conversationId, t.clientId] })]
);

export type User = typeof users.$inferSelect;
export type Session = typeof sessions.$inferSelect;
export type Conversation = typeof conversations.$inferSelect;
export type Member = typeof members.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;

/** Each member's reactions to a message: a projection of the document's `reactions` map. */
export const reactions = sqliteTable(
	'reactions',
	{
		conversationId: text('conversation_id')
			.notNull()
			.references(() => conversations.id, { onDelete: 'cascade' }),
		messageId: text('message_id').notNull(),
		userId: text('user_id')
			.notNull()
			.references(() => users.id),
		/** JSON array of distinct emoji, in the order the user added them. */
		emoji: text('emoji').notNull(),
		updatedAt: integer('updated_at').notNull()
	},
	(t) => [primaryKey({ columns: [t.conversationId, t.messageId, t.userId] })]
);

/**
 * Files people upload: owned by their uploader until a message (or their profile, as its photo)
 * takes them, then readable by that conversation's members (or, for a photo, by everyone signed in).
 * The bytes live under DATA_DIR/uploads, named by the row's id (never by anything the client sent).
 */
export const uploads = sqliteTable(
	'uploads',
	{
		id: text('id').primaryKey(),
		ownerId: text('owner_id')
			.notNull()
			.references(() => users.id, { onDelete: 'cascade' }),
		/** The file name the uploader gave, cleaned: shown and offered on download, never used as a path. */
		name: text('name').notNull(),
		/** Decided from the content's magic bytes, not from the name or the request's Content-Type. */
		type: text('type').notNull(),
		size: integer('size').notNull(),
		/** Images only: the dimensions as displayed (after EXIF orientation), and a thumbnail exists. */
		width: integer('width'),
		height: integer('height'),
		createdAt: integer('created_at').notNull(),
		/** The message that carries it (attached once, ATTACH-2); null until then. */
		conversationId: text('conversation_id').references(() => conversations.id, { onDelete: 'cascade' }),
		messageId: text('message_id'),
		/** Set while it is its owner's profile photo. */
		avatar: integer('avatar', { mode: 'boolean' }).notNull().default(false)
	},
	(t) => [
		index('uploads_owner_idx').on(t.ownerId),
		index('uploads_message_idx').on(t.conversationId, t.messageId),
		index('uploads_created_idx').on(t.createdAt)
	]
);
export type UploadRow = typeof uploads.$inferSelect;
