import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, readJson, unwrap } from '$lib/server/api';
import { clientAddress } from '$lib/server/client-address';
import { secureCookies, setSessionCookie } from '$lib/server/cookies';
import { ApiError, RateLimitedError } from '$lib/server/errors';
import { getRuntime } from '$lib/server/runtime';
import { signup } from '$lib/server/schemas';
import { createSession, generateSessionToken } from '$lib/server/session';
import { createUser, toPublicUser } from '$lib/server/users';
import { checkDisplayName } from '$lib/shared/names';

export const POST: RequestHandler = api(async (event) => {
	const input = await readJson(event, signup);
	const name = checkDisplayName(input.displayName ?? '');
	if (!name.ok) throw new ApiError(400, 'invalid-input', name.message);
	const { db, config, limiters } = getRuntime();
	const address = clientAddress(event, config.trustProxy);
	const taken = limiters.signupIp.take(address);
	if (!taken.ok) throw new RateLimitedError(taken.retryAfterMs, 'Too many new accounts from this network');
	let created;
	try {
		created = await createUser(db, input);
	} catch (error) {
		limiters.signupIp.refund(address);
		throw error;
	}
	// Only accounts actually created count: someone trying names that are taken is not spamming.
	if (!created.ok) limiters.signupIp.refund(address);
	const user = unwrap(created);
	const token = generateSessionToken();
	const session = createSession(db, token, user.id, 'cookie', config.sessionDays);
	setSessionCookie(event.cookies, token, session.expiresAt, secureCookies(event.url));
	return json({ user: toPublicUser(user) }, { status: 201 });
});
