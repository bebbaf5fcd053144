import adapter from '@sveltejs/adapter-node';
import { vitePreprocess } from '@sveltejs/vite-plugin-svelte';

/** @type {import('@sveltejs/kit').Config} */
const config = {
	preprocess: vitePreprocess(),
	kit: {
		adapter: adapter({ out: 'build' }),
		// Absolute asset paths: the service worker serves the one cached shell for every page.
		paths: { relative: false },
		// JSON endpoints get their own Origin check in hooks.server.ts; this one covers forms.
		csrf: { trustedOrigins: [] },
		// Scripts only from this origin, plus SvelteKit's inline start script by nonce ('auto' uses a
		// hash on prerendered pages). Inline styles stay allowed: Svelte writes them for transitions,
		// and they cannot run code. hooks.server.ts adds the WebSocket origin to connect-src and the
		// ALLOWED_ORIGINS to frame-ancestors, which only a request knows.
		csp: {
			mode: 'auto',
			directives: {
				'default-src': ['self'],
				'script-src': ['self'],
				'style-src': ['self', 'unsafe-inline'],
				'img-src': ['self', 'data:', 'blob:'],
				'connect-src': ['self'],
				'object-src': ['none'],
				'base-uri': ['self'],
				'form-action': ['self'],
				'frame-ancestors': ['none']
			}
		}
	}
};

export default config;
