/**
 * Whether a browser Origin may use cookie-authenticated endpoints: the app's own host, or one of
 * the configured origins (platforms that embed the chat).
 */
export function isAllowedOrigin(origin: string, host: string | null | undefined, allowed: string[]): boolean {
	let parsed: URL;
	try {
		parsed = new URL(origin);
	} catch {
		return false;
	}
	if (host && parsed.host === host) return true;
	return allowed.includes(parsed.origin);
}
