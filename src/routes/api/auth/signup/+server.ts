import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson } from '$lib/server/api';
import { secureCookies, setSessionCookie } from '$lib/server/cookies';
import { getRuntime } from '$lib/server/runtime';
import { signup } from '$lib/server/schemas';
import { createSession, generateSessionToken } from '$lib/server/session';
import { createUser, toPublicUser } from '$lib/server/users';

export const POST: RequestHandler = api(async (event) => {
	const input = await readJson(event, signup);
	const { db, config } = getRuntime();
	const user = await createUser(db, input);
	const token = generateSessionToken();
	const session = createSession(db, token, user.id, 'cookie', config.sessionDays);
	setSessionCookie(event.cookies, token, session.expiresAt, secureCookies(event.url));
	return json({ user: toPublicUser(user) }, { status: 201 });
});
