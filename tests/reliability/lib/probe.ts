/**
 * Loaded into the server process by the reliability scripts (`--import`), never by `npm start`.
 * It observes without changing behaviour:
 * - the event loop's delay histogram: the longest time the loop was kept from running a timer is
 *   the longest stretch of uninterrupted server work, an upper bound on what any single frame
 *   cost in one go (decoding, the guard, the SQLite commit with its fsync, Yjs);
 * - `uncaughtExceptionMonitor`, which sees every uncaught exception and unhandled rejection (Node
 *   turns those into uncaught exceptions) before the process dies, and prints a marker line.
 * The parent asks over IPC: 'stats' (answers with the histogram in ms) and 'reset'.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

import { PROBE_MARKER } from './probe-marker.ts';

const histogram = monitorEventLoopDelay({ resolution: 2 });
histogram.enable();

process.on('uncaughtExceptionMonitor', (error, origin) => {
	process.stderr.write(`${PROBE_MARKER} ${origin}: ${(error as Error)?.stack ?? String(error)}\n`);
});

if (process.send) {
	process.on('message', (message) => {
		if (message === 'reset') {
			histogram.reset();
			process.send!({ type: 'reset' });
		} else if (message === 'stats') {
			process.send!({
				type: 'stats',
				maxMs: histogram.max / 1e6,
				p99Ms: histogram.percentile(99) / 1e6,
				meanMs: histogram.mean / 1e6,
				samples: histogram.count
			});
		}
	});
	// The IPC channel must not keep a server that was told to stop alive.
	process.channel?.unref();
}
