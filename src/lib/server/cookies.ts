import type { Cookies } from '@sveltejs/kit';
import { getRuntime } from './runtime.ts';
import { SESSION_COOKIE } from './session.ts';

export function setSessionCookie(cookies: Cookies, token: string, expiresAt: number, secure: boolean): void {
	cookies.set(SESSION_COOKIE, token, {
		httpOnly: true,
		sameSite: 'lax',
		secure,
		path: '/',
		expires: new Date(expiresAt)
	});
}

export function deleteSessionCookie(cookies: Cookies, secure: boolean): void {
	cookies.delete(SESSION_COOKIE, { httpOnly: true, sameSite: 'lax', secure, path: '/' });
}

/** Secure cookies when the app is served over https (or told to assume so). */
export function secureCookies(url: URL): boolean {
	return url.protocol === 'https:' || getRuntime().config.secureCookies;
}
