import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson } from '$lib/server/api';
import { clientAddress } from '$lib/server/client-address';
import { secureCookies, setSessionCookie } from '$lib/server/cookies';
import { ApiError, RateLimitedError } from '$lib/server/errors';
import { attemptLogin } from '$lib/server/login-attempts';
import { getRuntime } from '$lib/server/runtime';
import { login } from '$lib/server/schemas';
import { createSession, generateSessionToken, invalidateSession } from '$lib/server/session';
import { toPublicUser } from '$lib/server/users';

export const POST: RequestHandler = api(async (event) => {
	const input = await readJson(event, login);
	const { db, config, limiters, live } = getRuntime();
	const attempt = await attemptLogin(db, limiters, input, clientAddress(event, config.trustProxy));
	if (!attempt.ok && attempt.reason === 'rate-limited') throw new RateLimitedError(attempt.retryAfterMs, 'Too many login attempts');
	if (!attempt.ok) throw new ApiError(401, 'invalid-credentials', 'Wrong username or password.');
	// A fresh session on every login, so a planted cookie never becomes an authenticated one; sockets
	// opened with the old session close with it.
	if (event.locals.session?.kind === 'cookie') {
		invalidateSession(db, event.locals.session.id);
		live.endSession(event.locals.session.id);
	}
	const token = generateSessionToken();
	const session = createSession(db, token, attempt.user.id, 'cookie', config.sessionDays);
	setSessionCookie(event.cookies, token, session.expiresAt, secureCookies(event.url));
	return json({ user: toPublicUser(attempt.user) });
});
