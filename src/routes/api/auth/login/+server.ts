import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson } from '$lib/server/api';
import { secureCookies, setSessionCookie } from '$lib/server/cookies';
import { ApiError } from '$lib/server/errors';
import { getRuntime } from '$lib/server/runtime';
import { login } from '$lib/server/schemas';
import { createSession, generateSessionToken, invalidateSession } from '$lib/server/session';
import { authenticateUser, toPublicUser } from '$lib/server/users';

export const POST: RequestHandler = api(async (event) => {
	const input = await readJson(event, login);
	const { db, config } = getRuntime();
	const user = await authenticateUser(db, input.username, input.password);
	if (!user) throw new ApiError(401, 'invalid-credentials', 'Wrong username or password.');
	// A fresh session on every login, so a planted cookie never becomes an authenticated one.
	if (event.locals.session?.kind === 'cookie') invalidateSession(db, event.locals.session.id);
	const token = generateSessionToken();
	const session = createSession(db, token, user.id, 'cookie', config.sessionDays);
	setSessionCookie(event.cookies, token, session.expiresAt, secureCookies(event.url));
	return json({ user: toPublicUser(user) });
});
