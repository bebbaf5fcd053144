/**
 * Short, seeded runs of the three reliability scripts (tests/reliability, README "Reliability"):
 * the same code and the same properties as `npm run crash`, `npm run chaos` and `npm run fuzz`,
 * at a size `npm test` can afford. A failure prints the seed; the script with `--seed` repeats it
 * at any size.
 */
import { describe, expect, it } from 'vitest';
import { runChaos } from '../reliability/lib/chaos.ts';
import { runCrash } from '../reliability/lib/crash.ts';
import { runFuzz } from '../reliability/lib/fuzz.ts';
import { ServerUnderTest } from '../reliability/lib/server.ts';

describe('reliability (short seeded runs of npm run crash / chaos / fuzz)', () => {
	it('[DUR-1] [ONCE-2] SIGKILL during bursts of four writers: no acknowledged message lost, none stored twice (seed 7)', async () => {
		const result = await runCrash({ seed: 7, trials: 3, writers: 4, burst: 15 });
		expect(result.violations, (result.notes ?? []).join('\n')).toEqual([]);
		expect(result.figures.lost).toBe(0);
		expect(result.figures.duplicated).toBe(0);
		// The run did what it claims: messages written, acknowledged, and kills with some in flight.
		expect(result.figures['messages written']).toBeGreaterThan(0);
		expect(result.figures['acknowledged before a kill or after']).toBeGreaterThan(0);
		expect(result.figures['server restarts']).toBe(3);
	}, 90_000);

	it('[GUARD-2] [ORDER-1] [ONCE-2] 5 users × 2 devices offline and online, reloads and a SIGKILL: all converge, nothing honest refused (seed 11)', async () => {
		const result = await runChaos({ seed: 11, runs: 1, steps: 50, kills: 1 });
		expect(result.violations, (result.notes ?? []).join('\n')).toEqual([]);
		expect(result.figures['refusals of honest updates']).toBe(0);
		expect(result.figures['acknowledged messages']).toBeGreaterThan(0);
		expect(result.figures['server SIGKILLs + restarts']).toBe(1);
	}, 90_000);

	// The timing properties (no frame over 100 ms, honest p99) are judged by `npm run fuzz`, not here.
	it('[FRAME-2] [FRAME-1] [GUARD-4] hostile frames from member sockets: no crash or uncaught error, honest messages all arrive, every conversation loads (seed 5)', async () => {
		const result = await runFuzz({ seed: 5, frames: 3000, lanes: 2, honest: 2, baselineSeconds: 3, judgeTiming: false });
		expect(result.violations, (result.notes ?? []).join('\n')).toEqual([]);
		expect(result.figures['frames sent']).toBeGreaterThanOrEqual(3000);
	}, 120_000);

	// The runs above pass only if the server's log is clean: the judge must see a failure when there is one.
	it('[GUARD-4] the runs’ judge sees a failure the server reports and an uncaught exception that ends it', async () => {
		const server = await ServerUnderTest.start();
		try {
			expect(server.violations()).toEqual([]);
			await server.failOnPurpose('report-failure');
			await new Promise((resolve) => setTimeout(resolve, 100));
			expect(server.violations()).toEqual(['1 other failures reported by the server']);
			await server.failOnPurpose('throw');
			await new Promise((resolve) => setTimeout(resolve, 100));
			expect(server.violations()).toEqual([
				'the server exited by itself 1 times',
				'1 uncaught exceptions or unhandled rejections in the server log',
				'1 other failures reported by the server'
			]);
		} finally {
			await server.stop();
		}
	}, 60_000);

	it('[DUR-6] the runs’ judge of the stop: a clean SIGTERM passes, one that fails is reported', async () => {
		const server = await ServerUnderTest.start();
		try {
			expect(await server.shutDown()).toEqual([]);
			await server.restart();
			await server.failNextStop();
			expect(await server.shutDown()).toEqual(["the server's stop (SIGTERM) ended with 3, not 0"]);
			expect(server.violations()).toEqual([]);
			expect(await server.shutDown()).toEqual(['the server was not running when the run stopped it']);
		} finally {
			await server.stop();
		}
	}, 60_000);
});
