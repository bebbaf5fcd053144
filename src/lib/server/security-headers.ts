/**
 * Headers that tell browsers to keep this app's responses to themselves. Pages get SvelteKit's
 * Content-Security-Policy (kit.csp in svelte.config.js, with a nonce for its inline start script),
 * finished here with what only a request knows; everything else gets a policy that allows nothing.
 */

/** Every response, static files included (server/app.ts sets these before the app sees a request). */
export const BASE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
	'x-content-type-options': 'nosniff',
	'referrer-policy': 'strict-origin-when-cross-origin'
};

/** JSON and other non-page responses: nothing in them should ever load, run or be framed. */
const NON_PAGE_POLICY = "default-src 'none'; base-uri 'none'; form-action 'none'";

/**
 * The headers for one SvelteKit response. `pagePolicy` is the CSP SvelteKit set on a page, if any.
 * Pages may be framed by the ALLOWED_ORIGINS (platforms that embed the chat), by no one otherwise.
 */
export function securityHeaders(url: URL, allowedOrigins: string[], pagePolicy: string | null, ownPolicy: string | null = null): Record<string, string> {
	const ancestors = allowedOrigins.length > 0 ? allowedOrigins.join(' ') : "'none'";
	const policy = pagePolicy
		? withDirectives(pagePolicy, {
				// CSP 3 lets 'self' cover the same host's WebSocket, but older engines need it spelled out.
				'connect-src': `'self' ${url.protocol === 'https:' ? 'wss:' : 'ws:'}//${url.host}`,
				'frame-ancestors': ancestors
			})
		: `${ownPolicy ?? NON_PAGE_POLICY}; frame-ancestors ${ancestors}`;
	return {
		...BASE_SECURITY_HEADERS,
		'content-security-policy': policy,
		// For browsers without frame-ancestors; it cannot list origins, so it is left out when some are allowed.
		...(allowedOrigins.length === 0 ? { 'x-frame-options': 'DENY' } : {})
	};
}

/** Replaces (or adds) whole directives of a policy, keeping the others as they are. */
function withDirectives(policy: string, replacements: Record<string, string>): string {
	const directives = policy
		.split(';')
		.map((directive) => directive.trim())
		.filter(Boolean)
		.filter((directive) => !(directive.split(/\s+/)[0]!.toLowerCase() in replacements));
	return [...directives, ...Object.entries(replacements).map(([name, value]) => `${name} ${value}`)].join('; ');
}
