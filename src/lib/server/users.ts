import { eq, inArray } from 'drizzle-orm';
import { ulid } from 'ulid';
import type { Db } from './db/index.ts';
import { users, type User } from './db/schema.ts';
import { ApiError } from './errors.ts';
import { hashPassword, verifyPassword } from './password.ts';
import type { PublicUser } from '../shared/api-types.ts';

export type { PublicUser };

export function toPublicUser(user: Pick<User, 'id' | 'username' | 'displayName'>): PublicUser {
	return { id: user.id, username: user.username, displayName: user.displayName };
}

export async function createUser(
	db: Db,
	input: { username: string; password: string; displayName?: string }
): Promise<User> {
	if (getUserByUsername(db, input.username)) {
		throw new ApiError(409, 'username-taken', `The username "${input.username}" is taken.`);
	}
	const user: User = {
		id: ulid(),
		username: input.username,
		displayName: input.displayName?.trim() || input.username,
		passwordHash: await hashPassword(input.password),
		createdAt: Date.now(),
		lastSeenAt: null
	};
	// A concurrent sign-up may have taken the name while the password was hashing.
	const inserted = db.insert(users).values(user).onConflictDoNothing().returning({ id: users.id }).all();
	if (inserted.length === 0) throw new ApiError(409, 'username-taken', `The username "${input.username}" is taken.`);
	return user;
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
