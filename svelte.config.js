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
		csrf: { trustedOrigins: [] }
	}
};

export default config;
