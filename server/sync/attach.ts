import type { Server } from 'node:http';
import { WebSocketServer } from 'ws';
import { isAllowedOrigin, requestOrigin } from '../../src/lib/server/origin.ts';
import { SYNC_MAX_FRAME_BYTES } from '../../src/lib/shared/limits.ts';
import { SYNC_PATH } from '../../src/lib/shared/protocol.ts';
import type { SyncServer } from './sync-server.ts';
import { reportFailure } from '../../src/lib/server/failure.ts';

/**
 * Routes WebSocket upgrades on /sync to Hocuspocus. A browser's Origin must be the app's own or
 * an allowed one (the socket carries the session cookie); other paths are left to `otherUpgrades`
 * (Vite's HMR in dev) or refused.
 */
export function attachSync(
	server: Server,
	sync: Pick<SyncServer, 'hocuspocus' | 'sockets'>,
	allowedOrigins: string[],
	options: { leaveOtherPaths?: boolean } = {}
): WebSocketServer {
	const wss = new WebSocketServer({ noServer: true, maxPayload: SYNC_MAX_FRAME_BYTES });
	wss.on('error', (error) => reportFailure('sync websocket server error', error));

	server.on('upgrade', (request, socket, head) => {
		const path = (request.url ?? '').split('?')[0];
		if (path !== SYNC_PATH) {
			if (!options.leaveOtherPaths) socket.destroy();
			return;
		}
		socket.on('error', () => socket.destroy());
		const origin = request.headers.origin;
		if (origin && !isAllowedOrigin(origin, requestOrigin(request), allowedOrigins)) {
			socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
			return;
		}
		wss.handleUpgrade(request, socket, head, (ws) => {
			ws.on('error', () => ws.terminate());
			sync.sockets.admit(ws, request, () => sync.hocuspocus.handleConnection(ws, request));
		});
	});
	return wss;
}
