import { encodeBase64urlNoPadding } from '@oslojs/encoding';
import { and, eq, lt, sql } from 'drizzle-orm';
import { errors as joseErrors, jwtVerify } from 'jose';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { ulid } from 'ulid';
import type { Db } from './db/index.ts';
import { contexts, conversations, members, platforms, platformTokenUses, users, type PlatformRow, type User } from './db/schema.ts';
import { fail, succeed, type Outcome } from './outcome.ts';

/** A platform id: a short lower-case word (it prefixes its users' usernames). */
export const PLATFORM_ID = /^[a-z][a-z0-9]{1,15}$/;
/** The audience every sign-in token names. */
export const SIGN_IN_AUDIENCE = 'basement-chat';
/** A sign-in token may live at most this long (its `exp` after its `iat`, and after now). */
const TOKEN_MAX_LIFETIME_S = 10 * 60;

/**
 * Registers a platform and returns it with its new secret (shown once, never in git). `origins`:
 * where its pages are, which may frame the chat (frame-ancestors).
 */
export function registerPlatform(db: Db, id: string, name: string, origins: string[] = []): PlatformRow {
	if (!PLATFORM_ID.test(id)) throw new Error('a platform id is 2 to 16 lower-case letters and digits, starting with a letter');
	const cleaned = origins.map((origin) => {
		let url: URL;
		try {
			url = new URL(origin);
		} catch {
			throw new Error(`"${origin}" is not an origin like https://market.example`);
		}
		if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`"${origin}" is not an http(s) origin`);
		return url.origin;
	});
	const platform: PlatformRow = { id, name, secret: encodeBase64urlNoPadding(randomBytes(32)), origins: JSON.stringify(cleaned), createdAt: Date.now() };
	db.insert(platforms).values(platform).run();
	return platform;
}

/** The registered platforms' origins (read again at most every few seconds: the command runs in another process). */
export function platformOrigins(db: Db, now = Date.now()): string[] {
	if (originsCache?.db !== db || now - originsCache.at > ORIGINS_CACHE_MS) {
		const origins = db.select({ origins: platforms.origins }).from(platforms).all().flatMap((row) => JSON.parse(row.origins) as string[]);
		originsCache = { db, at: now, origins: [...new Set(origins)] };
	}
	return originsCache.origins;
}
const ORIGINS_CACHE_MS = 5000;
let originsCache: { db: Db; at: number; origins: string[] } | undefined;

export function listPlatforms(db: Db): PlatformRow[] {
	return db.select().from(platforms).all();
}

export function removePlatform(db: Db, id: string): boolean {
	return db.delete(platforms).where(eq(platforms.id, id)).run().changes === 1;
}

/** The platform behind an `Authorization: Basic <id:secret>` header (its server's calls). */
export function authenticatePlatform(db: Db, header: string | null): Outcome<PlatformRow> {
	const refuse = () => fail('invalid-platform-key', 'Authenticate as Basic <platform id>:<secret>.');
	const match = /^Basic\s+([A-Za-z0-9+/=]{1,200})$/.exec(header ?? '');
	if (!match) return refuse();
	// The id ends at the first colon; the secret is all the rest (RFC 7617), so `<id>:<secret>:x` is a wrong secret.
	const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
	const colon = decoded.indexOf(':');
	const id = colon > 0 ? decoded.slice(0, colon) : undefined;
	const secret = colon > 0 ? decoded.slice(colon + 1) : undefined;
	const platform = id ? db.select().from(platforms).where(eq(platforms.id, id)).get() : undefined;
	const given = Buffer.from(secret ?? '');
	const expected = Buffer.from(platform?.secret ?? 'x'.repeat(43));
	if (!platform || given.length !== expected.length || !timingSafeEqual(given, expected)) return refuse();
	return succeed(platform);
}

/** A platform user's username: `<platform>_<their id>`, made to fit the username rule. */
function usernameFor(platformId: string, externalId: string): string {
	const safe = externalId.toLowerCase().replace(/[^a-z0-9_]/g, '_');
	const base = `${platformId}_${safe}`.slice(0, 32);
	return base.length >= 3 ? base : base.padEnd(3, '_');
}

export interface PlatformUserInput {
	displayName: string;
	/** One of the platform's support staff. */
	staff?: boolean;
}

/**
 * Creates or updates one of the platform's users (by the platform's own id for them). Such users
 * have no password: they sign in through the platform. A user who becomes staff joins every open
 * support conversation of the platform (a timeline line says so).
 */
export function upsertPlatformUser(db: Db, platform: PlatformRow, externalId: string, input: PlatformUserInput): { user: User; created: boolean; joined: string[]; left: string[] } {
	return db.transaction(
		(tx) => {
			const existing = tx.select().from(users).where(and(eq(users.platformId, platform.id), eq(users.externalId, externalId))).get();
			const staff = input.staff ?? existing?.staff ?? false;
			let user: User;
			if (existing) {
				user = tx.update(users).set({ displayName: input.displayName, staff }).where(eq(users.id, existing.id)).returning().get()!;
			} else {
				let username = usernameFor(platform.id, externalId);
				// Two external ids that clean to the same name: the second gets a suffix.
				if (tx.select({ id: users.id }).from(users).where(eq(users.username, username)).get()) username = `${username.slice(0, 25)}_${ulid().slice(-6).toLowerCase()}`;
				user = { id: ulid(), username, displayName: input.displayName, passwordHash: '', createdAt: Date.now(), lastSeenAt: null, avatarId: null, platformId: platform.id, externalId, staff, avatarSource: null };
				tx.insert(users).values(user).run();
			}
			const joined = staff && !existing?.staff ? joinSupportConversations(tx as unknown as Db, platform.id, user.id) : [];
			// No longer staff: out of every conversation they were in as staff (not those they own or started).
			const left =
				!staff && existing?.staff
					? tx
							.delete(members)
							.where(and(eq(members.userId, user.id), eq(members.role, 'staff')))
							.returning({ id: members.conversationId })
							.all()
							.map((row) => row.id)
					: [];
			return { user, created: !existing, joined, left };
		},
		{ behavior: 'immediate' }
	);
}

/** Adds a new staff member to the platform's open support conversations they are not in; returns their ids. */
function joinSupportConversations(db: Db, platformId: string, userId: string): string[] {
	const rows = db
		.select({ id: conversations.id })
		.from(conversations)
		.innerJoin(contexts, eq(contexts.id, conversations.contextId))
		.where(
			and(
				eq(contexts.platformId, platformId),
				eq(contexts.audience, 'support'),
				eq(conversations.status, 'open'),
				sql`not exists (select 1 from ${members} where ${members.conversationId} = ${conversations.id} and ${members.userId} = ${userId})`
			)
		)
		.all();
	const now = Date.now();
	for (const { id } of rows) db.insert(members).values({ conversationId: id, userId, role: 'staff', joinedAt: now }).run();
	return rows.map((row) => row.id);
}

export function findPlatformUser(db: Db, platformId: string, externalId: string): User | undefined {
	return db.select().from(users).where(and(eq(users.platformId, platformId), eq(users.externalId, externalId))).get();
}

/** One of the platform's users, who must exist already. */
export function existingPlatformUser(db: Db, platform: PlatformRow, externalId: string): Outcome<User> {
	const user = findPlatformUser(db, platform.id, externalId);
	if (!user) return fail('user-not-found', `No user ${externalId} of platform ${platform.id}: create it first (PUT /api/platform/users/:externalId).`);
	return succeed(user);
}

/**
 * Exchanges a sign-in token a platform signed (HS256 with its secret; `iss` its id, `sub` its
 * user's id, `aud` "basement-chat", `exp` at most 10 minutes ahead, a unique `jti`, optionally
 * `name`) for that user. Each token works once (PLATFORM-2). The user is created on first sign-in
 * when the token carries a `name`.
 */
export async function exchangeSignInToken(db: Db, token: string, now = Date.now()): Promise<Outcome<{ user: User; replayed: boolean }>> {
	const refuse = (message: string) => fail('invalid-sign-in-token', message);
	let issuer: string | undefined;
	try {
		const [, payload] = token.split('.');
		issuer = (JSON.parse(Buffer.from(payload ?? '', 'base64url').toString('utf8')) as { iss?: unknown }).iss as string | undefined;
	} catch {
		return refuse('The sign-in token is malformed.');
	}
	const platform = typeof issuer === 'string' ? db.select().from(platforms).where(eq(platforms.id, issuer)).get() : undefined;
	if (!platform) return refuse('The sign-in token names no registered platform (iss).');
	let claims: { sub?: string; jti?: string; exp?: number; iat?: number; name?: unknown };
	try {
		({ payload: claims } = await jwtVerify(token, new TextEncoder().encode(platform.secret), {
			algorithms: ['HS256'],
			issuer: platform.id,
			audience: SIGN_IN_AUDIENCE,
			requiredClaims: ['exp', 'sub', 'jti'],
			currentDate: new Date(now),
			clockTolerance: 5
		}));
	} catch (error) {
		return refuse(error instanceof joseErrors.JWTExpired ? 'The sign-in token has expired: open the link from the platform again.' : 'The sign-in token is not valid.');
	}
	if (claims.exp! - now / 1000 > TOKEN_MAX_LIFETIME_S) return refuse(`A sign-in token may live at most ${TOKEN_MAX_LIFETIME_S / 60} minutes.`);
	// jose checks that they are present, not that they are strings.
	if (typeof claims.sub !== 'string' || !claims.sub || claims.sub.length > 200 || typeof claims.jti !== 'string' || !claims.jti || claims.jti.length > 200) return refuse('The sign-in token has no valid sub or jti.');
	const replayed = !recordUse(db, platform.id, claims.jti, claims.exp! * 1000, now);
	let user = findPlatformUser(db, platform.id, claims.sub);
	if (!user && typeof claims.name === 'string' && claims.name.trim()) user = upsertPlatformUser(db, platform, claims.sub, { displayName: claims.name.trim().slice(0, 64) }).user;
	if (!user) return refuse(`No user ${claims.sub} on platform ${platform.id}, and the token carries no name to create one.`);
	return succeed({ user, replayed });
}

/**
 * The user a sign-in token names, read without checking it (only to refuse early: a browser signed
 * in as someone else is never switched by a link, PLATFORM-2); undefined when there is none yet.
 */
export function peekSignInUser(db: Db, token: string): string | undefined {
	try {
		const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iss?: unknown; sub?: unknown };
		return typeof claims.iss === 'string' && typeof claims.sub === 'string' ? findPlatformUser(db, claims.iss, claims.sub)?.id : undefined;
	} catch {
		return undefined;
	}
}

/** Records a token's use; false when it was used before. Expired records are pruned. */
function recordUse(db: Db, platformId: string, jti: string, expiresAt: number, now: number): boolean {
	db.delete(platformTokenUses).where(lt(platformTokenUses.expiresAt, now - 60_000)).run();
	return db.insert(platformTokenUses).values({ platformId, jti, expiresAt }).onConflictDoNothing().run().changes === 1;
}

