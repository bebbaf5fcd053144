import WebSocket from 'ws';

/**
 * ws emits 'error' when a socket that is still connecting is closed, which the provider does when
 * it is destroyed or reconnects at that moment, after it removed its own listeners: in Node (not in
 * a browser) that would throw, as an uncaught exception in whatever test runs next. This socket
 * always has a listener. Every Node provider in the tests and scripts uses it as its WebSocketPolyfill.
 */
export class QuietWebSocket extends WebSocket {
	constructor(...args: ConstructorParameters<typeof WebSocket>) {
		super(...args);
		this.on('error', () => {});
	}
}
