import type { Handle } from '@sveltejs/kit';
import { sequence } from '@sveltejs/kit/hooks';
import { deleteSessionCookie, secureCookies, setSessionCookie } from '$lib/server/cookies';
import { errorResponse } from '$lib/server/errors';
import { isAllowedOrigin } from '$lib/server/origin';
import { getRuntime } from '$lib/server/runtime';
import { platformOrigins } from '$lib/server/platforms';
import { securityHeaders } from '$lib/server/security-headers';
import { SESSION_COOKIE, validateSessionToken } from '$lib/server/session';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * JSON endpoints authenticated by cookie need their own cross-site check: SvelteKit's covers form
 * content types only. Bearer-token requests carry no ambient credentials and are exempt.
 */
const originCheck: Handle = async ({ event, resolve }) => {
	const { request, url } = event;
	if (url.pathname.startsWith('/api/') && !SAFE_METHODS.has(request.method) && !request.headers.has('authorization')) {
		const origin = request.headers.get('origin');
		const site = request.headers.get('sec-fetch-site');
		const allowed = origin
			? isAllowedOrigin(origin, url, getRuntime().config.allowedOrigins)
			: site === null || site === 'same-origin' || site === 'none';
		if (!allowed) return errorResponse(403, 'cross-site-request', 'Requests from this origin are not allowed without a bearer token.');
	}
	return resolve(event);
};

const auth: Handle = async ({ event, resolve }) => {
	const { db, config } = getRuntime();
	event.locals.user = null;
	event.locals.session = null;
	const header = event.request.headers.get('authorization');
	// A platform's server authenticates its own calls (Basic <id>:<secret>, checked by the route).
	if (header !== null && event.url.pathname.startsWith('/api/platform/') && /^Basic\s/i.test(header)) return resolve(event);
	if (header !== null) {
		const match = /^Bearer\s+(\S{1,128})$/i.exec(header);
		const result = match?.[1] ? validateSessionToken(db, match[1], config.sessionDays) : null;
		if (!result?.user) return errorResponse(401, 'invalid-token', 'The bearer token is invalid or expired.');
		event.locals.user = result.user;
		event.locals.session = result.session;
		return resolve(event);
	}
	const token = event.cookies.get(SESSION_COOKIE);
	if (token) {
		const { session, user } = validateSessionToken(db, token, config.sessionDays);
		if (session) setSessionCookie(event.cookies, token, session.expiresAt, secureCookies(event.url));
		else deleteSessionCookie(event.cookies, secureCookies(event.url));
		event.locals.user = user;
		event.locals.session = session;
	}
	return resolve(event);
};

/** Errors SvelteKit answers itself under /api (405 for a method a route lacks) get the API's JSON shape too. */
const jsonErrors: Handle = async ({ event, resolve }) => {
	const response = await resolve(event);
	if (!event.url.pathname.startsWith('/api/') || response.status < 400) return response;
	if (response.headers.get('content-type')?.includes('application/json')) return response;
	const code = response.status === 405 ? 'method-not-allowed' : 'error';
	const allow = response.headers.get('allow');
	return errorResponse(response.status, code, (await response.text()) || response.statusText, allow ? { allow } : undefined);
};

/** Security headers on every response the app makes, API errors from the handles below included. */
const secured: Handle = async ({ event, resolve }) => {
	let response = await resolve(event);
	// Only pages are finished from their own policy; anything else (an upload's sandbox) keeps its own or gets the strict one.
	const isPage = response.headers.get('content-type')?.startsWith('text/html') ?? false;
	const own = response.headers.get('content-security-policy');
	// Pages may be framed by ALLOWED_ORIGINS and by the registered platforms' origins.
	const { config, db } = getRuntime();
	const headers = securityHeaders(event.url, [...new Set([...config.allowedOrigins, ...platformOrigins(db)])], isPage ? own : null, isPage ? null : own);
	try {
		for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
	} catch {
		// A response with immutable headers (one passed through from fetch) gets a mutable copy.
		response = new Response(response.body, response);
		for (const [name, value] of Object.entries(headers)) response.headers.set(name, value);
	}
	return response;
};

export const handle = sequence(secured, jsonErrors, originCheck, auth);
