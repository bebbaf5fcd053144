import { afterAll, beforeAll } from 'vitest';
import { startTestServer, tempDataDir, type TestServer } from './server.ts';

export interface SharedTestServer extends TestServer {
	/** Where its SQLite files are (known before it starts). */
	dataDir: string;
	/** Closes it and starts it again on the same data (a deploy, as the tests that need one see it). */
	restart(): Promise<void>;
}

/**
 * The real app for every test of the enclosing `describe` (or file), on port 0 with a temporary
 * SQLite file: started before the first test (before the `beforeAll` hooks registered after this
 * call), closed and its data removed after the last. Its fields are read once it has started.
 */
export function useTestServer(env: Record<string, string> = {}): SharedTestServer {
	const data = tempDataDir();
	let started: TestServer | undefined;
	const current = (): TestServer => {
		if (!started) throw new Error('the test server starts in beforeAll: read it inside a hook or a test');
		return started;
	};
	beforeAll(async () => {
		started = await startTestServer(data.dir, env);
	});
	afterAll(async () => {
		await started?.close();
		data.remove();
	});
	return {
		dataDir: data.dir,
		get url() {
			return current().url;
		},
		get wsUrl() {
			return current().wsUrl;
		},
		get app() {
			return current().app;
		},
		close: () => current().close(),
		async restart() {
			await current().close();
			started = undefined;
			started = await startTestServer(data.dir, env);
		}
	};
}
