/**
 * Loaded into the server process by the reliability scripts (`--import`), never by `npm start`.
 * It observes without changing behaviour:
 * - the event loop's delay histogram: the longest time the loop was kept from running a timer is
 *   the longest stretch of uninterrupted server work in wall-clock time (decoding, the guard, Yjs,
 *   the SQLite commit with its fsync), which also counts time the OS did not run the process;
 * - the CPU time the process used during each such stretch (a 2 ms timer compares
 *   `process.cpuUsage()` between firings): the largest is an upper bound on the server time any
 *   single frame cost in one go, whatever else the machine was doing (it includes the
 *   compactor thread's CPU over the same interval, so it errs high);
 * - `uncaughtExceptionMonitor`, which sees every uncaught exception and unhandled rejection (Node
 *   turns those into uncaught exceptions) before the process dies, and prints a marker line.
 * The parent asks over IPC: 'stats' (answers with the histogram in ms) and 'reset'. Three more make
 * the server fail on purpose, for the test of the judge itself: 'report-failure' (a line through
 * the server's own `reportFailure`), 'throw' (an uncaught exception, which ends the process) and
 * 'fail-stop' (the next SIGTERM exits with 3).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { reportFailure } from '../../../src/lib/server/failure.ts';

import { PROBE_MARKER } from './probe-marker.ts';

const histogram = monitorEventLoopDelay({ resolution: 2 });
histogram.enable();

let maxCpuMs = 0;
let lastCpu = process.cpuUsage();
setInterval(() => {
	const cpu = process.cpuUsage();
	const usedMs = (cpu.user - lastCpu.user + cpu.system - lastCpu.system) / 1000;
	lastCpu = cpu;
	if (usedMs > maxCpuMs) maxCpuMs = usedMs;
}, 2).unref();

process.on('uncaughtExceptionMonitor', (error, origin) => {
	process.stderr.write(`${PROBE_MARKER} ${origin}: ${(error as Error)?.stack ?? String(error)}\n`);
});

if (process.send) {
	process.on('message', (message) => {
		if (message === 'reset') {
			histogram.reset();
			maxCpuMs = 0;
			lastCpu = process.cpuUsage();
			process.send!({ type: 'reset' });
		} else if (message === 'stats') {
			process.send!({
				type: 'stats',
				maxMs: histogram.max / 1e6,
				maxCpuMs,
				p99Ms: histogram.percentile(99) / 1e6,
				meanMs: histogram.mean / 1e6,
				samples: histogram.count
			});
		} else if (message === 'report-failure') {
			reportFailure('the probe was asked to report a failure', new Error('on purpose'));
			process.send!({ type: 'report-failure' });
		} else if (message === 'fail-stop') {
			// Before the server's own handler: the next SIGTERM ends the process with 3, as a failed shutdown would.
			process.prependListener('SIGTERM', () => process.exit(3));
			process.send!({ type: 'fail-stop' });
		} else if (message === 'throw') {
			setImmediate(() => {
				throw new Error('the probe was asked to throw');
			});
		}
	});
	// The IPC channel must not keep a server that was told to stop alive.
	process.channel?.unref();
}
