/**
 * The baseline: the same http + ws + Hocuspocus transport as the app, with no authentication,
 * no update guard and no persistence. Prints "listening on <url>" like server/index.ts.
 */
import { Hocuspocus } from '@hocuspocus/server';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';

const hocuspocus = new Hocuspocus({ quiet: true });
const wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
const server = createServer((_req, res) => res.end('bare relay'));
server.on('upgrade', (request, socket, head) => {
	wss.handleUpgrade(request, socket, head, (ws) => hocuspocus.handleConnection(ws, request));
});
server.listen(0, '127.0.0.1', () => {
	console.log(`listening on http://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.on('SIGTERM', () => process.exit(0));
