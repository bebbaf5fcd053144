import { and, desc, eq, inArray, sql } from 'drizzle-orm';
import { ulid } from 'ulid';
import type { Db } from './db/index.ts';
import { perDatabase } from './db/per-database.ts';
import { conversations, members, messages, users, type Conversation, type User } from './db/schema.ts';
import { fail, succeed, type Failure, type Outcome } from './outcome.ts';
import { GROUP_MAX_MEMBERS } from '../shared/limits.ts';
import type { ContextDto, ConversationDto, ConversationSummary, InboxActivity, MemberDto, MessageDto } from '../shared/api-types.ts';
import { contextsById } from './contexts.ts';
import { getMessage } from './messages.ts';
import { getUsersByUsernames, toPublicUser } from './users.ts';

export type { ConversationDto, ConversationSummary, MemberDto };

/** Whether a user is connected right now; the sync server knows, plain database callers say no. */
export type IsOnline = (userId: string) => boolean;
const nobodyOnline: IsOnline = () => false;

export type Access = 'member' | 'not-found' | 'not-a-member';

/** Every REST call on a conversation and every document a socket opens checks access first. */
const accessLookup = perDatabase((db) =>
	db
		.select({ userId: members.userId })
		.from(conversations)
		.leftJoin(members, and(eq(members.conversationId, conversations.id), eq(members.userId, sql.placeholder('userId'))))
		.where(eq(conversations.id, sql.placeholder('conversationId')))
		.prepare()
);

export function checkAccess(db: Db, conversationId: string, userId: string): Access {
	const row = accessLookup(db).get({ conversationId, userId });
	if (!row) return 'not-found';
	return row.userId ? 'member' : 'not-a-member';
}

/** Why `userId` may not see the conversation (it does not exist, or they are not a member); null when they may. */
export function accessFailure(db: Db, conversationId: string, userId: string): Failure | null {
	const access = checkAccess(db, conversationId, userId);
	if (access === 'not-found') return fail('not-found', 'Conversation not found.');
	if (access === 'not-a-member') return fail('forbidden', 'You are not a member of this conversation.');
	return null;
}

/** A prepared membership test for hot paths (every accepted update). */
export function prepareMembershipCheck(db: Db): (conversationId: string, userId: string) => boolean {
	const stmt = db
		.select({ one: sql<number>`1` })
		.from(members)
		.where(and(eq(members.conversationId, sql.placeholder('conversationId')), eq(members.userId, sql.placeholder('userId'))))
		.prepare();
	return (conversationId, userId) => stmt.get({ conversationId, userId }) !== undefined;
}

/** The users named, besides me; `user-not-found` names those who do not exist. */
function findUsers(db: Db, usernames: string[], me: User): Outcome<User[]> {
	const wanted = [...new Set(usernames)].filter((name) => name !== me.username);
	const found = getUsersByUsernames(db, wanted);
	const missing = wanted.filter((name) => !found.some((user) => user.username === name));
	if (missing.length > 0) return fail('user-not-found', `No user named ${missing.map((m) => `"${m}"`).join(', ')}.`);
	return succeed(found);
}

/** Gets or creates the direct conversation of a pair; the same pair never gets two. */
export function openDirectConversation(db: Db, me: User, username: string): Outcome<{ conversation: ConversationDto; created: boolean }> {
	if (username === me.username) return fail('invalid-request', 'A direct conversation needs another user.');
	const found = findUsers(db, [username], me);
	if (!found.ok) return found;
	const [other] = found.value;
	if (!other) return fail('user-not-found', `No user named "${username}".`);
	const directKey = [me.id, other.id].sort().join(':');
	return succeed(db.transaction((tx) => {
		const existing = tx.select().from(conversations).where(eq(conversations.directKey, directKey)).get();
		if (existing) return { conversation: conversationDto(tx as unknown as Db, existing), created: false };
		const now = Date.now();
		const conversation: Conversation = {
			id: ulid(),
			kind: 'direct',
			title: null,
			directKey,
			createdBy: me.id,
			createdAt: now,
			updatedAt: now,
			lastSeq: 0,
			epoch: 0,
			epochFirstSeq: 1,
			contextId: null,
			initiatorId: null,
			status: 'open'
		};
		tx.insert(conversations).values(conversation).run();
		tx.insert(members)
			.values([me, other].map((user) => ({ conversationId: conversation.id, userId: user.id, role: 'member' as const, joinedAt: now })))
			.run();
		return { conversation: conversationDto(tx as unknown as Db, conversation), created: true };
	}, { behavior: 'immediate' }));
}

export function createGroupConversation(db: Db, me: User, usernames: string[], title: string): Outcome<ConversationDto> {
	const found = findUsers(db, usernames, me);
	if (!found.ok) return found;
	const others = found.value;
	const now = Date.now();
	const conversation: Conversation = {
		id: ulid(),
		kind: 'group',
		title,
		directKey: null,
		createdBy: me.id,
		createdAt: now,
		updatedAt: now,
		lastSeq: 0,
		epoch: 0,
		epochFirstSeq: 1,
		contextId: null,
		initiatorId: null,
		status: 'open'
	};
	db.transaction((tx) => {
		tx.insert(conversations).values(conversation).run();
		tx.insert(members)
			.values([
				{ conversationId: conversation.id, userId: me.id, role: 'owner' as const, joinedAt: now },
				...others.map((user) => ({ conversationId: conversation.id, userId: user.id, role: 'member' as const, joinedAt: now }))
			])
			.run();
	}, { behavior: 'immediate' });
	return succeed(conversationDto(db, conversation));
}

function membersOf(db: Db, conversationIds: string[], isOnline: IsOnline): Map<string, MemberDto[]> {
	const rows = db
		.select({
			conversationId: members.conversationId,
			role: members.role,
			readSeq: members.readSeq,
			deliveredSeq: members.deliveredSeq,
			id: users.id,
			username: users.username,
			displayName: users.displayName,
			avatarId: users.avatarId,
			staff: users.staff,
			lastSeenAt: users.lastSeenAt
		})
		.from(members)
		.innerJoin(users, eq(users.id, members.userId))
		.where(inArray(members.conversationId, conversationIds))
		.orderBy(members.joinedAt, users.username)
		.all();
	const byConversation = new Map<string, MemberDto[]>();
	for (const { conversationId, role, readSeq, deliveredSeq, lastSeenAt, ...user } of rows) {
		const list = byConversation.get(conversationId) ?? [];
		list.push({ ...toPublicUser(user), role, readSeq, deliveredSeq, online: isOnline(user.id), lastSeenAt });
		byConversation.set(conversationId, list);
	}
	return byConversation;
}

export function conversationDto(db: Db, conversation: Conversation, isOnline: IsOnline = nobodyOnline): ConversationDto {
	return dtoOf(conversation, membersOf(db, [conversation.id], isOnline).get(conversation.id) ?? [], contextsById(db, [conversation.contextId]));
}

/** The fields every conversation shape shares, from its row, its members and the contexts looked up for it. */
function dtoOf(conversation: Conversation, memberList: MemberDto[], contexts: Map<string, ContextDto>): ConversationDto {
	return {
		id: conversation.id,
		kind: conversation.kind,
		title: conversation.title,
		members: memberList,
		context: conversation.contextId ? (contexts.get(conversation.contextId) ?? null) : null,
		status: conversation.status,
		epoch: conversation.epoch,
		epochFirstSeq: conversation.epochFirstSeq
	};
}

export function getConversation(db: Db, conversationId: string): Conversation | undefined {
	return db.select().from(conversations).where(eq(conversations.id, conversationId)).get();
}

/**
 * My conversations, most recent activity first, each with its last message and my unread count
 * (or just the one conversation `onlyId`).
 */
export function listConversations(db: Db, userId: string, isOnline: IsOnline = nobodyOnline, onlyId?: string, page?: ListPage): ConversationSummary[] {
	const archived = sql`(${members.archivedAt} is not null and ${conversations.updatedAt} <= ${members.archivedAt})`;
	const rows = db
		.select({
			conversation: conversations,
			markedUnread: members.markedUnread,
			archivedAt: members.archivedAt,
			unreadCount: sql<number>`(
				select count(*) from ${messages}
				where ${messages.conversationId} = ${conversations.id}
					and ${messages.seq} > ${members.readSeq}
					and ${messages.authorId} != ${userId}
					and ${messages.deletedAt} is null
					and ${messages.event} is null)`,
			lastMessageId: sql<string | null>`(
				select ${messages.id} from ${messages}
				where ${messages.conversationId} = ${conversations.id}
				order by ${messages.seq} desc limit 1)`
		})
		.from(members)
		.innerJoin(conversations, eq(conversations.id, members.conversationId))
		.where(
			and(
				eq(members.userId, userId),
				onlyId === undefined ? undefined : eq(members.conversationId, onlyId),
				page?.status === undefined ? undefined : eq(conversations.status, page.status),
				page?.archived === undefined ? undefined : page.archived ? archived : sql`not ${archived}`,
				page?.before === undefined
					? undefined
					: sql`(${conversations.updatedAt} < ${page.before.updatedAt} or (${conversations.updatedAt} = ${page.before.updatedAt} and ${conversations.id} < ${page.before.id}))`
			)
		)
		.orderBy(desc(conversations.updatedAt), desc(conversations.id))
		.limit(page?.limit ?? -1)
		.all();
	const memberLists = membersOf(db, rows.map((row) => row.conversation.id), isOnline);
	const contexts = contextsById(db, rows.map((row) => row.conversation.contextId));
	return rows.map(({ conversation, unreadCount, markedUnread, archivedAt, lastMessageId }) => ({
		...dtoOf(conversation, memberLists.get(conversation.id) ?? [], contexts),
		archivedAt,
		lastMessage: lastMessageId ? (getMessage(db, conversation.id, lastMessageId) ?? null) : null,
		unreadCount: markedUnread ? Math.max(1, unreadCount) : unreadCount,
		markedUnread,
		updatedAt: conversation.updatedAt
	}));
}

/** A page of my conversation list: newest activity first, after a cursor, of one status, archived or not. */
export interface ListPage {
	limit?: number;
	before?: { updatedAt: number; id: string };
	status?: 'open' | 'closed';
	archived?: boolean;
}

/** What the live inbox reads for every member with an open channel, after every message and receipt window. */
const inboxLookups = perDatabase((db) => ({
	memberState: db
		.select({
			conversation: conversations,
			userId: members.userId,
			markedUnread: members.markedUnread,
			archivedAt: members.archivedAt,
			unreadCount: sql<number>`(
				select count(*) from ${messages}
				where ${messages.conversationId} = ${conversations.id}
					and ${messages.seq} > ${members.readSeq}
					and ${messages.authorId} != ${members.userId}
					and ${messages.deletedAt} is null
					and ${messages.event} is null)`
		})
		.from(members)
		.innerJoin(conversations, eq(conversations.id, members.conversationId))
		.where(and(eq(members.conversationId, sql.placeholder('conversationId')), eq(members.userId, sql.placeholder('userId'))))
		.prepare(),
	lastMessageId: db
		.select({ id: messages.id })
		.from(messages)
		.where(eq(messages.conversationId, sql.placeholder('conversationId')))
		.orderBy(desc(messages.seq))
		.limit(1)
		.prepare()
}));

/** Each of `userIds` who is a member, with the conversation as they see it (in the order given). */
function memberStates(db: Db, conversationId: string, userIds: string[]) {
	const { memberState } = inboxLookups(db);
	return [...new Set(userIds)].flatMap((userId) => {
		const row = memberState.get({ conversationId, userId });
		return row ? [{ ...row, unreadCount: row.markedUnread ? Math.max(1, row.unreadCount) : row.unreadCount }] : [];
	});
}

function lastMessageOf(db: Db, conversationId: string): MessageDto | null {
	const last = inboxLookups(db).lastMessageId.get({ conversationId });
	return last ? (getMessage(db, conversationId, last.id) ?? null) : null;
}

/**
 * One conversation's summary as each of `userIds` sees it (those who are members), equal to
 * `listConversations(db, userId, isOnline, conversationId)[0]` for each, with what they share
 * (members and their markers, the last message) read once: an inbox update for a group of M
 * members costs O(M), not O(M²).
 */
export function summariesFor(db: Db, conversationId: string, userIds: string[], isOnline: IsOnline = nobodyOnline): Map<string, ConversationSummary> {
	if (userIds.length === 0) return new Map();
	const rows = memberStates(db, conversationId, userIds);
	if (rows.length === 0) return new Map();
	const memberList = membersOf(db, [conversationId], isOnline).get(conversationId) ?? [];
	const lastMessage = lastMessageOf(db, conversationId);
	const contexts = contextsById(db, [rows[0]!.conversation.contextId]);
	return new Map(
		rows.map(({ conversation, userId, markedUnread, unreadCount, archivedAt }) => [
			userId,
			{
				...dtoOf(conversation, memberList, contexts),
				archivedAt,
				lastMessage,
				unreadCount,
				markedUnread,
				updatedAt: conversation.updatedAt
			}
		])
	);
}

/**
 * What a message or receipts changed in a conversation, as each of `userIds` sees it (INBOX-3):
 * the last message, their unread count, and of the markers that `moved`, those they need: their
 * own, and everyone's while a message of theirs is not read by all (its ticks may still change).
 * A member who sent nothing unread gets no one else's markers, so a group of M members costs
 * O(M) bytes per message, not O(M²).
 */
export function activityFor(db: Db, conversationId: string, userIds: string[], moved: InboxActivity['markers']): Map<string, InboxActivity> {
	if (userIds.length === 0) return new Map();
	const rows = memberStates(db, conversationId, userIds);
	if (rows.length === 0) return new Map();
	const lastMessage = lastMessageOf(db, conversationId);
	const waiting = moved.length === 0 ? new Set<string>() : authorsNotReadByAll(db, conversationId);
	return new Map(
		rows.map(({ conversation, userId, markedUnread, unreadCount }) => [
			userId,
			{
				conversationId,
				lastMessage,
				unreadCount,
				markedUnread,
				updatedAt: conversation.updatedAt,
				epoch: conversation.epoch,
				epochFirstSeq: conversation.epochFirstSeq,
				markers: waiting.has(userId) ? moved : moved.filter((m) => m.userId === userId)
			}
		])
	);
}

/** How far back a message's ticks still travel in inbox activity (the open conversation has them all). */
const TICKS_KEPT_FRESH = 500;

/** Members with one of the last {@link TICKS_KEPT_FRESH} messages that not every member has read yet. */
function authorsNotReadByAll(db: Db, conversationId: string): Set<string> {
	const rows = db.all<{ authorId: string }>(
		sql`select distinct ${messages.authorId} as authorId from ${messages}
			where ${messages.conversationId} = ${conversationId} and ${messages.event} is null
				and ${messages.seq} > (select min(${members.readSeq}) from ${members} where ${members.conversationId} = ${conversationId})
				and ${messages.seq} > (select ${conversations.lastSeq} - ${TICKS_KEPT_FRESH} from ${conversations} where ${conversations.id} = ${conversationId})`
	);
	return new Set(rows.map((row) => row.authorId));
}

/** Everyone who shares at least one conversation with `userId` (themselves included). */
export function contactsOf(db: Db, userId: string): string[] {
	return db
		.all<{ userId: string }>(
			sql`select distinct other.user_id as userId from ${members} mine
				join ${members} other on other.conversation_id = mine.conversation_id
				where mine.user_id = ${userId}`
		)
		.map((row) => row.userId);
}

/** A prepared list of a conversation's member ids, for hot paths (the live inbox, after every new message). */
export function prepareMemberIds(db: Db): (conversationId: string) => string[] {
	const stmt = db
		.select({ userId: members.userId })
		.from(members)
		.where(eq(members.conversationId, sql.placeholder('conversationId')))
		.prepare();
	return (conversationId) => stmt.all({ conversationId }).map((row) => row.userId);
}

/** The people a create or add request names, without duplicates and without the caller: at most this many join. */
export function countInvited(me: User, usernames: string[]): number {
	return new Set(usernames.filter((name) => name !== me.username)).size;
}

/** Adds the listed users who are not members yet; `added` are their ids. */
export function addGroupMembers(
	db: Db,
	me: User,
	conversationId: string,
	usernames: string[]
): Outcome<{ conversation: ConversationDto; added: string[] }> {
	const owned = groupOwnedBy(db, me, conversationId);
	if (!owned.ok) return owned;
	const conversation = owned.value;
	const now = Date.now();
	const existing = new Set(
		db.select({ userId: members.userId }).from(members).where(eq(members.conversationId, conversationId)).all().map((row) => row.userId)
	);
	const found = findUsers(db, usernames, me);
	if (!found.ok) return found;
	const others = found.value.filter((user) => !existing.has(user.id));
	if (existing.size + others.length > GROUP_MAX_MEMBERS) return fail('too-many-members', `A group has at most ${GROUP_MAX_MEMBERS} members.`);
	if (others.length > 0) {
		// Joining starts with the history already counted as delivered and read: no badge for the past,
		// and the ticks on earlier messages do not fall back because someone new joined.
		const seen = conversation.lastSeq;
		db.insert(members)
			.values(others.map((user) => ({ conversationId, userId: user.id, role: 'member' as const, joinedAt: now, readSeq: seen, deliveredSeq: seen })))
			.onConflictDoNothing()
			.run();
	}
	return succeed({ conversation: conversationDto(db, conversation), added: others.map((user) => user.id) });
}

/** The owner removes anyone; anyone may remove themselves (leave). Its value is the removed user's id. */
export function removeGroupMember(db: Db, me: User, conversationId: string, username: string): Outcome<string> {
	const denied = accessFailure(db, conversationId, me.id);
	if (denied) return denied;
	const conversation = getConversation(db, conversationId);
	if (!conversation || conversation.kind !== 'group') return fail('not-a-group', 'Members can only be removed from group conversations.');
	const [target] = username === me.username ? [me] : getUsersByUsernames(db, [username]);
	if (!target) return fail('user-not-found', `No user named "${username}".`);
	if (target.id !== me.id && !isOwner(db, conversationId, me.id)) return fail('forbidden', 'Only the owner can remove other members.');
	return db.transaction((tx): Outcome<string> => {
		const removed = tx
			.delete(members)
			.where(and(eq(members.conversationId, conversationId), eq(members.userId, target.id)))
			.returning({ role: members.role })
			.all();
		if (removed.length === 0) return fail('not-a-member', `"${username}" is not a member.`);
		if (removed[0]?.role === 'owner') {
			// An owner who leaves hands the group to the longest-standing member, so someone can still manage it.
			const heir = tx
				.select({ userId: members.userId })
				.from(members)
				.where(eq(members.conversationId, conversationId))
				.orderBy(members.joinedAt, members.userId)
				.get();
			if (heir) {
				tx.update(members)
					.set({ role: 'owner' })
					.where(and(eq(members.conversationId, conversationId), eq(members.userId, heir.userId)))
					.run();
			}
		}
		return succeed(target.id);
	}, { behavior: 'immediate' });
}

function roleIn(db: Db, conversationId: string, userId: string): MemberDto['role'] | undefined {
	return db
		.select({ role: members.role })
		.from(members)
		.where(and(eq(members.conversationId, conversationId), eq(members.userId, userId)))
		.get()?.role;
}

function isOwner(db: Db, conversationId: string, userId: string): boolean {
	return roleIn(db, conversationId, userId) === 'owner';
}

/** The group, when I own it. */
function groupOwnedBy(db: Db, me: User, conversationId: string, verb = 'add members'): Outcome<Conversation> {
	const denied = accessFailure(db, conversationId, me.id);
	if (denied) return denied;
	const conversation = getConversation(db, conversationId);
	if (!conversation || conversation.kind !== 'group') return fail('not-a-group', 'Only groups have members to add and a title to change.');
	if (!isOwner(db, conversationId, me.id)) return fail('forbidden', `Only the owner can ${verb}.`);
	return succeed(conversation);
}

/** The owner renames a group. */
export function renameGroup(db: Db, me: User, conversationId: string, title: string): Outcome<ConversationDto> {
	const owned = groupOwnedBy(db, me, conversationId, 'rename the group');
	if (!owned.ok) return owned;
	const updated = db.update(conversations).set({ title, updatedAt: Date.now() }).where(eq(conversations.id, conversationId)).returning().get();
	return succeed(conversationDto(db, updated ?? owned.value));
}

/**
 * Closes or reopens a group or a context conversation (its owner, a moderator, or a support agent of
 * a support conversation): while closed nobody can
 * send to it (`conversation-closed`, CTX-2). Its value is false when it already had that status.
 */
export function setConversationStatus(db: Db, me: User, conversationId: string, status: 'open' | 'closed'): Outcome<boolean> {
	const denied = accessFailure(db, conversationId, me.id);
	if (denied) return denied;
	const conversation = getConversation(db, conversationId)!;
	if (conversation.kind === 'direct') return fail('not-closable', 'A direct conversation cannot be closed.');
	const role = roleIn(db, conversationId, me.id);
	if (role !== 'owner' && role !== 'staff' && role !== 'moderator') {
		return fail('forbidden', `Only the owner, a moderator or support staff can ${status === 'closed' ? 'close' : 'reopen'} this conversation.`);
	}
	if (conversation.status === status) return succeed(false);
	db.update(conversations).set({ status }).where(eq(conversations.id, conversationId)).run();
	return succeed(true);
}

/** Whether nobody may send to the conversation now (a prepared check for every batch of updates). */
export function prepareClosedCheck(db: Db): (conversationId: string) => boolean {
	const stmt = db
		.select({ status: conversations.status })
		.from(conversations)
		.where(eq(conversations.id, sql.placeholder('conversationId')))
		.prepare();
	return (conversationId) => stmt.get({ conversationId })?.status === 'closed';
}

/** Archives the conversation for me (hidden from my main list until something newer arrives), or brings it back. */
export function setArchived(db: Db, me: User, conversationId: string, archived: boolean): Outcome<void> {
	const denied = accessFailure(db, conversationId, me.id);
	if (denied) return denied;
	const updatedAt = getConversation(db, conversationId)!.updatedAt;
	db.update(members)
		.set({ archivedAt: archived ? Math.max(Date.now(), updatedAt) : null })
		.where(and(eq(members.conversationId, conversationId), eq(members.userId, me.id)))
		.run();
	return succeed(undefined);
}

/**
 * Whether the user may delete others' messages here (MOD-1): a `moderator`, a group's owner, or a
 * support agent in a support conversation.
 */
export function prepareModeratorCheck(db: Db): (conversationId: string, userId: string) => boolean {
	const stmt = db
		.select({ one: sql<number>`1` })
		.from(members)
		.innerJoin(conversations, eq(conversations.id, members.conversationId))
		.where(
			and(
				eq(members.conversationId, sql.placeholder('conversationId')),
				eq(members.userId, sql.placeholder('userId')),
				sql`(${members.role} in ('moderator', 'staff') or (${members.role} = 'owner' and ${conversations.kind} = 'group'))`
			)
		)
		.prepare();
	return (conversationId, userId) => stmt.get({ conversationId, userId }) !== undefined;
}

/** The owner of a group or a context conversation makes a member a moderator (MOD-1), or a member again. */
export function setMemberRole(db: Db, me: User, conversationId: string, username: string, role: 'moderator' | 'member'): Outcome<void> {
	const denied = accessFailure(db, conversationId, me.id);
	if (denied) return denied;
	const conversation = getConversation(db, conversationId)!;
	if (conversation.kind === 'direct') return fail('not-a-group', 'A direct conversation has no roles.');
	if (!isOwner(db, conversationId, me.id)) return fail('forbidden', 'Only the owner can change roles.');
	const [target] = getUsersByUsernames(db, [username]);
	const current = target ? roleIn(db, conversationId, target.id) : undefined;
	if (!target || current === undefined) return fail('not-a-member', `${username} is not a member of this conversation.`);
	if (current === 'owner' || current === 'staff') return fail('invalid-request', `The ${current}'s role does not change.`);
	db.update(members).set({ role }).where(and(eq(members.conversationId, conversationId), eq(members.userId, target.id))).run();
	return succeed(undefined);
}
