import type { RequestHandler } from './$types';
import { api } from '$lib/server/api';
import { deleteSessionCookie, secureCookies } from '$lib/server/cookies';
import { unauthenticated } from '$lib/server/errors';
import { getRuntime } from '$lib/server/runtime';
import { invalidateSession } from '$lib/server/session';

export const POST: RequestHandler = api(async (event) => {
	if (!event.locals.session) throw unauthenticated();
	const { db, live } = getRuntime();
	invalidateSession(db, event.locals.session.id);
	live.endSession(event.locals.session.id);
	deleteSessionCookie(event.cookies, secureCookies(event.url));
	return new Response(null, { status: 204 });
});
