import { startApp } from './app.ts';
import { loadConfig } from './config.ts';

let config;
try {
	config = loadConfig();
} catch (error) {
	console.error((error as Error).message);
	process.exit(1);
}

const app = await startApp(config);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
	process.on(signal, () => {
		if (stopping) return;
		stopping = true;
		// Everything acknowledged is already committed; closing just releases sockets and the database cleanly.
		app.close().then(
			() => process.exit(0),
			(error: unknown) => {
				console.error('shutdown failed', error);
				process.exit(1);
			}
		);
	});
}

// Only now: whoever waits for this line may stop the server at once, and the stop must be the clean one above.
console.log(`basement-chat listening on ${app.url} (data in ${config.dataDir})`);
