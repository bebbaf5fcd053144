import { sha256 } from '@oslojs/crypto/sha2';
import { encodeBase32LowerCaseNoPadding, encodeHexLowerCase } from '@oslojs/encoding';
import { eq, sql } from 'drizzle-orm';
import type { Db } from './db/index.ts';
import { perDatabase } from './db/per-database.ts';
import { sessions, users, type Session, type User } from './db/schema.ts';

export const SESSION_COOKIE = 'session';
const DAY_MS = 24 * 60 * 60 * 1000;

export type SessionValidation = { session: Session; user: User } | { session: null; user: null };

/** 20 random bytes, base32: the secret the client keeps. Only its SHA-256 is stored. */
export function generateSessionToken(): string {
	const bytes = new Uint8Array(20);
	crypto.getRandomValues(bytes);
	return encodeBase32LowerCaseNoPadding(bytes);
}

function sessionIdOf(token: string): string {
	return encodeHexLowerCase(sha256(new TextEncoder().encode(token)));
}

export function createSession(
	db: Db,
	token: string,
	userId: string,
	kind: Session['kind'],
	days: number
): Session {
	const session: Session = { id: sessionIdOf(token), userId, kind, expiresAt: Date.now() + days * DAY_MS };
	db.insert(sessions).values(session).run();
	return session;
}

/** Every HTTP request and every document a socket opens looks its session up. */
const sessionLookups = perDatabase((db) => {
	const byId = eq(sessions.id, sql.placeholder('id'));
	return {
		withUser: db.select({ session: sessions, user: users }).from(sessions).innerJoin(users, eq(sessions.userId, users.id)).where(byId).prepare(),
		expiry: db.select({ expiresAt: sessions.expiresAt }).from(sessions).where(byId).prepare()
	};
});

/** Finds the session for a token; expired ones are deleted, ones past half their life slide forward. */
export function validateSessionToken(db: Db, token: string, days: number): SessionValidation {
	const row = sessionLookups(db).withUser.get({ id: sessionIdOf(token) });
	if (!row) return { session: null, user: null };
	const { session, user } = row;
	const now = Date.now();
	if (now >= session.expiresAt) {
		db.delete(sessions).where(eq(sessions.id, session.id)).run();
		return { session: null, user: null };
	}
	if (now >= session.expiresAt - (days * DAY_MS) / 2) {
		session.expiresAt = now + days * DAY_MS;
		db.update(sessions).set({ expiresAt: session.expiresAt }).where(eq(sessions.id, session.id)).run();
	}
	return { session, user };
}

/** When a session expires, or null when it no longer exists or has expired (sync connections check this while open). */
export function sessionExpiry(db: Db, sessionId: string): number | null {
	const row = sessionLookups(db).expiry.get({ id: sessionId });
	return row !== undefined && row.expiresAt > Date.now() ? row.expiresAt : null;
}

export function invalidateSession(db: Db, sessionId: string): void {
	db.delete(sessions).where(eq(sessions.id, sessionId)).run();
}

export function invalidateUserSessions(db: Db, userId: string): void {
	db.delete(sessions).where(eq(sessions.userId, userId)).run();
}
