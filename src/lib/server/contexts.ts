import { and, eq, inArray } from 'drizzle-orm';
import { ulid } from 'ulid';
import type { Db } from './db/index.ts';
import { contexts, conversations, members, users, type ContextRow, type Conversation } from './db/schema.ts';
import { fail, succeed, type Outcome } from './outcome.ts';
import type { ContextDto } from '../shared/api-types.ts';

/** A context kind: a short lower-case word (`post`, `booking`, `pattern`, or one a platform adds). */
export const CONTEXT_KIND = /^[a-z][a-z0-9_-]{0,31}$/;
/** A context's id on its platform: 1 to 200 printable characters (slashes allowed; URL-encode it in paths). */
export const CONTEXT_EXTERNAL_ID = /^[\x21-\x7e]{1,200}$/;

export function toContextDto(row: ContextRow): ContextDto {
	return { kind: row.kind, externalId: row.externalId, platform: row.platformId || null, title: row.title, url: row.url, imageUrl: row.imageUrl, ownerId: row.ownerId, audience: row.audience };
}

/** The contexts with these ids (nulls skipped), by id. */
export function contextsById(db: Db, ids: Array<string | null>): Map<string, ContextDto> {
	const wanted = [...new Set(ids.filter((id): id is string => id !== null))];
	if (wanted.length === 0) return new Map();
	return new Map(db.select().from(contexts).where(inArray(contexts.id, wanted)).all().map((row) => [row.id, toContextDto(row)]));
}

/**
 * The context `(kind, externalId)` names in one namespace: a platform's (`platformId`), or users'
 * own (''). Namespaces never meet, so nobody can take a platform's id before it does (CTX-1).
 */
export function findContext(db: Db, kind: string, externalId: string, platformId = ''): ContextRow | undefined {
	return db
		.select()
		.from(contexts)
		.where(and(eq(contexts.platformId, platformId), eq(contexts.kind, kind), eq(contexts.externalId, externalId)))
		.get();
}

export interface ContextInput {
	title: string;
	url?: string | null;
	imageUrl?: string | null;
}

/** Who is writing a context: a user for their own, or a platform for any of its users' (it may set the owner and the audience). */
export type ContextWriter = { userId: string } | { platformId: string; ownerId: string; audience: 'owner' | 'support' };

/**
 * Creates the context, or updates its card (title, link, image) when the writer may: a user their
 * own (not a platform's), a platform its own. Anything else fails as `not-context-owner`.
 */
export function upsertContext(db: Db, writer: ContextWriter, kind: string, externalId: string, input: ContextInput): Outcome<{ context: ContextRow; created: boolean }> {
	const platformId = 'platformId' in writer ? writer.platformId : '';
	const ownerId = 'platformId' in writer ? writer.ownerId : writer.userId;
	const audience = 'platformId' in writer ? writer.audience : 'owner';
	return db.transaction(
		(tx): Outcome<{ context: ContextRow; created: boolean }> => {
			const existing = tx
				.select()
				.from(contexts)
				.where(and(eq(contexts.platformId, platformId), eq(contexts.kind, kind), eq(contexts.externalId, externalId)))
				.get();
			const now = Date.now();
			if (existing) {
				// In a platform's namespace the platform writes; among users' own, the owner.
				const mayWrite = platformId !== '' || existing.ownerId === ownerId;
				if (!mayWrite) return fail('not-context-owner', 'This context belongs to someone else.');
				const context = tx
					.update(contexts)
					.set({ title: input.title, url: input.url ?? null, imageUrl: input.imageUrl ?? null, ownerId, audience, updatedAt: now })
					.where(eq(contexts.id, existing.id))
					.returning()
					.get()!;
				// Its conversations show the new title.
				tx.update(conversations).set({ title: input.title }).where(eq(conversations.contextId, existing.id)).run();
				return succeed({ context, created: false });
			}
			const context: ContextRow = { id: ulid(), kind, externalId, title: input.title, url: input.url ?? null, imageUrl: input.imageUrl ?? null, ownerId, platformId, audience, createdAt: now, updatedAt: now };
			tx.insert(contexts).values(context).run();
			return succeed({ context, created: true });
		},
		{ behavior: 'immediate' }
	);
}

/**
 * The conversation between `initiatorId` and the context's owner about it: the same one every time
 * for the same initiator (CTX-1), created on first use. The owner cannot contact themselves.
 */
export function openContextConversation(db: Db, context: ContextRow, initiatorId: string): Outcome<{ conversation: Conversation; created: boolean }> {
	if (context.ownerId === initiatorId) return fail('own-context', 'You cannot contact yourself about your own post; its conversations are listed for you instead.');
	return succeed(db.transaction(
		(tx) => {
			const existing = tx
				.select()
				.from(conversations)
				.where(and(eq(conversations.contextId, context.id), eq(conversations.initiatorId, initiatorId)))
				.get();
			if (existing) return { conversation: existing, created: false };
			const now = Date.now();
			const conversation: Conversation = {
				id: ulid(),
				kind: 'context',
				title: context.title,
				directKey: null,
				createdBy: initiatorId,
				createdAt: now,
				updatedAt: now,
				lastSeq: 0,
				epoch: 0,
				epochFirstSeq: 1,
				contextId: context.id,
				initiatorId,
				status: 'open'
			};
			tx.insert(conversations).values(conversation).run();
			// A support context (a booking): every staff member of its platform sees and answers it.
			const staff = context.audience === 'support' && context.platformId ? staffOf(tx as unknown as Db, context.platformId).filter((id) => id !== context.ownerId && id !== initiatorId) : [];
			tx.insert(members)
				.values([
					{ conversationId: conversation.id, userId: context.ownerId, role: 'owner' as const, joinedAt: now },
					{ conversationId: conversation.id, userId: initiatorId, role: 'member' as const, joinedAt: now },
					...staff.map((userId) => ({ conversationId: conversation.id, userId, role: 'staff' as const, joinedAt: now }))
				])
				.run();
			return { conversation, created: true };
		},
		{ behavior: 'immediate' }
	));
}

/** The ids of a platform's support staff. */
export function staffOf(db: Db, platformId: string): string[] {
	return db
		.select({ id: users.id })
		.from(users)
		.where(and(eq(users.platformId, platformId), eq(users.staff, true)))
		.all()
		.map((row) => row.id);
}

/** Ids of the conversations about a context that `userId` is a member of: all of them for its owner, their own for anyone else. */
export function conversationIdsAbout(db: Db, context: ContextRow, userId: string): string[] {
	return db
		.select({ id: conversations.id })
		.from(conversations)
		.innerJoin(members, and(eq(members.conversationId, conversations.id), eq(members.userId, userId)))
		.where(eq(conversations.contextId, context.id))
		.all()
		.map((row) => row.id);
}
