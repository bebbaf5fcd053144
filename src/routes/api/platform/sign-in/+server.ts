import type { RequestHandler } from './$types';
import { redirect } from '@sveltejs/kit';
import { api, unwrap } from '$lib/server/api';
import { secureCookies, setSessionCookie } from '$lib/server/cookies';
import { ApiError } from '$lib/server/errors';
import { exchangeSignInToken, peekSignInUser } from '$lib/server/platforms';
import { getRuntime } from '$lib/server/runtime';
import { createSession, generateSessionToken } from '$lib/server/session';

/**
 * A platform's sign-in link: `?token=<JWT the platform signed for one of its users>&next=<a path of
 * this app>`. The token becomes a normal session (a cookie), and the browser goes on to `next`
 * (the contact page of a context, usually), so the platform's users never see a second login.
 * A token works once; opened again by the same signed-in user, the link still just goes on.
 */
export const GET: RequestHandler = api(async (event) => {
	const { db, config } = getRuntime();
	const token = event.url.searchParams.get('token') ?? '';
	const next = event.url.searchParams.get('next') ?? '/';
	// Browsers drop tabs and newlines from a Location (`/<tab>/evil.example` is `//evil.example`): no control characters.
	if (!/^[\x21-\x7e]*$/.test(next) || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\') || /\p{Cc}/u.test(next)) throw new ApiError(400, 'invalid-request', 'next is a path of this app.');
	if (token.length === 0 || token.length > 4096) throw new ApiError(400, 'invalid-request', 'token is the sign-in token the platform made.');
	// Signed in here as someone else: a link never switches the account by itself (a link sent by
	// another user must not sign the victim in as them); nothing of the token is spent.
	if (event.locals.user && peekSignInUser(db, token) !== event.locals.user.id) {
		throw new ApiError(409, 'signed-in-as-someone-else', `You are signed in to the chat as ${event.locals.user.displayName}. Log out there first, then open the link again.`);
	}
	const { user, replayed } = unwrap(await exchangeSignInToken(db, token));
	if (replayed) {
		if (event.locals.user?.id === user.id) redirect(303, next);
		throw new ApiError(401, 'invalid-sign-in-token', 'This sign-in link was used already: open it from the platform again.');
	}
	if (event.locals.user?.id !== user.id) {
		const sessionToken = generateSessionToken();
		const session = createSession(db, sessionToken, user.id, 'cookie', config.sessionDays);
		setSessionCookie(event.cookies, sessionToken, session.expiresAt, secureCookies(event.url));
	}
	redirect(303, next);
});
