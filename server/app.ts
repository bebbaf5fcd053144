import compression from 'compression';
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BASE_SECURITY_HEADERS } from '../src/lib/server/security-headers.ts';
import type { Config } from './config.ts';
import { startCore, type Core } from './core.ts';
import { attachSync } from './sync/attach.ts';

export interface App {
	server: Server;
	core: Core;
	/** http://host:port actually bound (useful with PORT=0). */
	url: string;
	close(): Promise<void>;
}

async function loadSvelteKitHandler(): Promise<RequestListener> {
	// adapter-node assumes https unless a protocol header says otherwise; we always provide one.
	process.env.PROTOCOL_HEADER = 'x-forwarded-proto';
	// Each endpoint limits its own body: JSON ones to a megabyte (readJson), uploads to UPLOAD_MAX_BYTES as they stream.
	process.env.BODY_SIZE_LIMIT = 'Infinity';
	const href = new URL('../build/handler.js', import.meta.url).href;
	try {
		return ((await import(href)) as { handler: RequestListener }).handler;
	} catch (error) {
		throw new Error(`Could not load the built web app (${href}). Run "npm run build" first.`, { cause: error });
	}
}

/** One Node process, one port: the SvelteKit app and API, and the sync socket on /sync. */
export async function startApp(config: Config): Promise<App> {
	const handler = await loadSvelteKitHandler();
	const core = startCore(config);
	// Behind a proxy the proxy's header stands; otherwise it is this socket's own protocol. Upgrades
	// get it too, so the sync socket's Origin check compares schemes the same way the API's does.
	const stampProtocol = (request: IncomingMessage) => {
		if (!config.trustProxy || !request.headers['x-forwarded-proto']) {
			request.headers['x-forwarded-proto'] = 'encrypted' in request.socket ? 'https' : 'http';
		}
	};
	// Responses over 1 KB go gzipped to clients that accept it: a page of history is a thirteenth of
	// its JSON size on a campus network (precompressed static files keep their own encoding). Level 1:
	// a page of 1,000 messages compresses in half the time of the default level, 8% bigger.
	const compress = compression({ threshold: 1024, level: 1 });
	const server = createServer((request, response) => {
		stampProtocol(request);
		// Static files are served before the app's hooks run, so their headers are set here.
		for (const [name, value] of Object.entries(BASE_SECURITY_HEADERS)) response.setHeader(name, value);
		compress(request as Parameters<typeof compress>[0], response as Parameters<typeof compress>[1], () => handler(request, response));
	});
	server.prependListener('upgrade', stampProtocol);
	const wss = attachSync(server, core.sync, config.allowedOrigins);
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(config.port, config.host, resolve);
	});
	const { port } = server.address() as AddressInfo;
	const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host;
	return {
		server,
		core,
		url: `http://${shownHost}:${port}`,
		async close() {
			for (const client of wss.clients) client.terminate();
			wss.close();
			// No new requests while the core closes (it waits a moment for the worker's connection).
			const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
			server.closeAllConnections();
			await core.close();
			await stopped;
		}
	};
}
