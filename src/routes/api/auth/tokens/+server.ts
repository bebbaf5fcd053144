import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson } from '$lib/server/api';
import { ApiError } from '$lib/server/errors';
import { getRuntime } from '$lib/server/runtime';
import { login } from '$lib/server/schemas';
import { createSession, generateSessionToken } from '$lib/server/session';
import { authenticateUser } from '$lib/server/users';

/** A bearer token for bots, scripts and tests: `Authorization: Bearer <token>`, or the Hocuspocus token. */
export const POST: RequestHandler = api(async (event) => {
	const input = await readJson(event, login);
	const { db, config } = getRuntime();
	const user = await authenticateUser(db, input.username, input.password);
	if (!user) throw new ApiError(401, 'invalid-credentials', 'Wrong username or password.');
	const token = generateSessionToken();
	const session = createSession(db, token, user.id, 'bearer', config.sessionDays);
	return json({ token, expiresAt: new Date(session.expiresAt).toISOString() }, { status: 201 });
});
