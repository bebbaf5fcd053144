import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson } from '$lib/server/api';
import { clientAddress } from '$lib/server/client-address';
import { ApiError, RateLimitedError } from '$lib/server/errors';
import { attemptLogin } from '$lib/server/login-attempts';
import { getRuntime } from '$lib/server/runtime';
import { login } from '$lib/server/schemas';
import { createSession, generateSessionToken } from '$lib/server/session';

/** A bearer token for bots, scripts and tests: `Authorization: Bearer <token>`, or the Hocuspocus token. */
export const POST: RequestHandler = api(async (event) => {
	const input = await readJson(event, login);
	const { db, config, limiters } = getRuntime();
	const attempt = await attemptLogin(db, limiters, input, clientAddress(event, config.trustProxy));
	if (!attempt.ok && attempt.reason === 'rate-limited') throw new RateLimitedError(attempt.retryAfterMs, 'Too many login attempts');
	if (!attempt.ok) throw new ApiError(401, 'invalid-credentials', 'Wrong username or password.');
	const token = generateSessionToken();
	const session = createSession(db, token, attempt.user.id, 'bearer', config.sessionDays);
	return json({ token, expiresAt: new Date(session.expiresAt).toISOString() }, { status: 201 });
});
