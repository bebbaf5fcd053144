import type { IncomingMessage } from 'node:http';

/**
 * Whether a browser Origin may use cookie-authenticated endpoints: the app's own origin, scheme
 * included (a page on http://host must not ride on the cookies of https://host), or one of the
 * configured origins (platforms that embed the chat).
 */
export function isAllowedOrigin(origin: string, own: URL | null | undefined, allowed: string[]): boolean {
	let parsed: URL;
	try {
		parsed = new URL(origin);
	} catch {
		return false;
	}
	if (own && parsed.origin === own.origin) return true;
	return allowed.includes(parsed.origin);
}

/**
 * The origin a raw Node request (a WebSocket upgrade) was made to: its Host, with the scheme that
 * server/app.ts stamped in X-Forwarded-Proto (the socket's own, or a trusted proxy's), else the
 * socket's own.
 */
export function requestOrigin(request: Pick<IncomingMessage, 'headers' | 'socket'>): URL | null {
	const host = request.headers.host;
	if (!host) return null;
	const stamped = String(request.headers['x-forwarded-proto'] ?? '').split(',')[0]?.trim();
	const scheme = stamped === 'https' || stamped === 'http' ? stamped : 'encrypted' in request.socket ? 'https' : 'http';
	try {
		return new URL(`${scheme}://${host}`);
	} catch {
		return null;
	}
}
