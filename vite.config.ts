import { sveltekit } from '@sveltejs/kit/vite';
import type { Plugin } from 'vite';
import { defineConfig } from 'vitest/config';
import { loadConfig } from './server/config.ts';
import { startCore } from './server/core.ts';
import { attachSync } from './server/sync/attach.ts';

/** In `vite dev`, the same database, runtime and sync endpoint as `npm start`, on Vite's server. */
function syncServerInDev(): Plugin {
	return {
		name: 'basement-chat-sync',
		apply: 'serve',
		configureServer(server) {
			if (!server.httpServer) return;
			const config = loadConfig();
			const core = startCore(config);
			attachSync(server.httpServer as import('node:http').Server, core.sync, config.allowedOrigins, {
				leaveOtherPaths: true
			});
			server.httpServer.once('close', () => core.close());
		}
	};
}

export default defineConfig({
	plugins: [sveltekit(), syncServerInDev()],
	server: { port: 3000 },
	test: {
		include: ['tests/unit/**/*.test.ts', 'tests/server/**/*.test.ts'],
		expect: { requireAssertions: true },
		testTimeout: 30_000,
		hookTimeout: 60_000,
		globalSetup: ['tests/utils/global-setup.ts']
	}
});
