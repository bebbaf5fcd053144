/**
 * npm run fuzz -- [--seed N] [--frames 1000000] [--lanes 6] [--honest 4] [--baseline-seconds 10] [--seconds 0]
 *
 * Hostile frames against a live server process while honest conversations are measured; checks
 * no crash, no uncaught error, no frame costing more than 100 ms, honest p99 within its normal
 * figure, and every conversation loading with REST = document. See README.md, "Reliability".
 */
import { runFuzz } from './lib/fuzz.ts';
import { deadline, main, readOptions } from './lib/report.ts';

const options = readOptions('fuzz', { frames: 1_000_000, lanes: 6, honest: 4, 'baseline-seconds': 10, seconds: 0, 'max-seconds': 3600 });
deadline('fuzz', options['max-seconds']);
await main('fuzz', options.seed, () =>
	runFuzz({ ...options, baselineSeconds: options['baseline-seconds'], log: (line) => console.log(line) })
);
