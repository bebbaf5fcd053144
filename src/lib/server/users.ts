import { and, eq, inArray, ne, or, sql } from 'drizzle-orm';
import { ulid } from 'ulid';
import type { Db } from './db/index.ts';
import { users, type User } from './db/schema.ts';
import { fail, succeed, type Outcome } from './outcome.ts';
import { hashPassword, verifyPassword } from './password.ts';
import type { PublicUser } from '../shared/api-types.ts';
import { PEOPLE_SEARCH_MAX_RESULTS } from '../shared/limits.ts';

export type { PublicUser };

export function toPublicUser(user: Pick<User, 'id' | 'username' | 'displayName' | 'avatarId'> & { staff?: boolean }): PublicUser {
	return { id: user.id, username: user.username, displayName: user.displayName, avatar: user.avatarId, ...(user.staff ? { staff: true } : {}) };
}

export async function createUser(
	db: Db,
	input: { username: string; password: string; displayName?: string }
): Promise<Outcome<User>> {
	const taken = () => fail('username-taken', `The username "${input.username}" is taken.`);
	if (getUserByUsername(db, input.username)) return taken();
	const user: User = {
		id: ulid(),
		username: input.username,
		displayName: input.displayName?.trim() || input.username,
		passwordHash: await hashPassword(input.password),
		createdAt: Date.now(),
		lastSeenAt: null,
		avatarId: null,
		platformId: null,
		externalId: null,
		staff: false,
		avatarSource: null
	};
	// A concurrent sign-up may have taken the name while the password was hashing.
	const inserted = db.insert(users).values(user).onConflictDoNothing().returning({ id: users.id }).all();
	if (inserted.length === 0) return taken();
	return succeed(user);
}

export function getUserByUsername(db: Db, username: string): User | undefined {
	return db.select().from(users).where(eq(users.username, username)).get();
}

export function getUsersByUsernames(db: Db, usernames: string[]): User[] {
	if (usernames.length === 0) return [];
	return db.select().from(users).where(inArray(users.username, usernames)).all();
}

// Compared against when the username is unknown, so both paths take about as long.
let dummyHash: Promise<string> | undefined;

/** The user for these credentials, or null; one message for both wrong name and wrong password. */
export async function authenticateUser(db: Db, username: string, password: string): Promise<User | null> {
	const user = getUserByUsername(db, username);
	if (!user) {
		dummyHash ??= hashPassword('not a real password');
		await verifyPassword(await dummyHash, password);
		return null;
	}
	return (await verifyPassword(user.passwordHash, password)) ? user : null;
}

/** Stores when users were last connected (their last sync connection closed, or the server stopped). */
export function recordLastSeen(db: Db, userIds: string[], at: number): void {
	if (userIds.length === 0) return;
	db.update(users).set({ lastSeenAt: at }).where(inArray(users.id, userIds)).run();
}

/** People whose username or display name starts with `prefix` (case-insensitive), me excluded; usernames first, at most a few. */
export function searchPeople(db: Db, me: string, prefix: string): PublicUser[] {
	// LIKE's own wildcards in the prefix are matched literally.
	const pattern = `${prefix.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
	const byUsername = sql`${users.username} like ${pattern} escape '\\'`;
	const byName = sql`${users.displayName} like ${pattern} escape '\\'`;
	return db
		.select({ id: users.id, username: users.username, displayName: users.displayName, avatar: users.avatarId })
		.from(users)
		.where(and(ne(users.id, me), or(byUsername, byName)))
		.orderBy(sql`${byUsername} desc`, users.username)
		.limit(PEOPLE_SEARCH_MAX_RESULTS)
		.all();
}

export function updateDisplayName(db: Db, userId: string, displayName: string): User | undefined {
	return db.update(users).set({ displayName }).where(eq(users.id, userId)).returning().get();
}

export function getUserById(db: Db, userId: string): User | undefined {
	return db.select().from(users).where(eq(users.id, userId)).get();
}
