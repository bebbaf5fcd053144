import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { QuietWebSocket } from '../utils/quiet-websocket.ts';

describe('QuietWebSocket', () => {
	// A server that accepts the upgrade request and never answers it: the socket stays connecting.
	let server: Server;
	let url: string;
	beforeAll(async () => {
		server = createServer();
		server.on('upgrade', () => {});
		await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
		const address = server.address();
		url = `ws://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
	});
	afterAll(() => {
		server.closeAllConnections();
		server.close();
	});

	const closeWhileConnecting = (socket: WebSocket) =>
		new Promise<void>((resolve) => {
			socket.once('close', () => resolve());
			socket.close();
		});

	it('ws reports an error when a connecting socket is closed (what a destroyed provider does)', async () => {
		const socket = new WebSocket(url);
		const errors: Error[] = [];
		socket.on('error', (error) => errors.push(error));
		await closeWhileConnecting(socket);
		expect(errors.map((e) => e.message)).toEqual(['WebSocket was closed before the connection was established']);
	});

	it('a QuietWebSocket closed while connecting throws nothing, with no listener of the caller', async () => {
		const socket = new QuietWebSocket(url);
		expect(socket.readyState).toBe(WebSocket.CONNECTING);
		await closeWhileConnecting(socket);
		expect(socket.readyState).toBe(WebSocket.CLOSED);
	});
});
