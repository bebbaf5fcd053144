/**
 * Loaded into the bench's app server (`--expose-gc --import`), never by `npm start`. Asked 'memory'
 * over IPC, it collects garbage and answers with what the process holds: the V8 heap in use, the
 * memory outside it that V8 is told of (Buffers and the Uint8Arrays Yjs and the WebSocket frames
 * use), and the resident set. What a room holds is the difference before and after opening it.
 * SQLite's page cache is not among the first two (better-sqlite3 does not report it); it belongs to
 * the connection, not to a room, and shows in the resident set, which also moves with how much
 * freed memory the allocator keeps.
 */
export interface MemoryReport {
	type: 'memory';
	heapUsed: number;
	external: number;
	rss: number;
}

const collect = (globalThis as { gc?: () => void }).gc;

if (process.send) {
	process.on('message', (message) => {
		if (message !== 'memory') return;
		// Twice: the first pass's finalizers free more for the second.
		collect?.();
		collect?.();
		const { heapUsed, external, rss } = process.memoryUsage();
		process.send!({ type: 'memory', heapUsed, external, rss } satisfies MemoryReport);
	});
	// The IPC channel must not keep a server that was told to stop alive.
	process.channel?.unref();
}
