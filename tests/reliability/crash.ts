/**
 * npm run crash -- [--seed N] [--trials 100] [--writers 4] [--burst 30]
 *
 * SIGKILL at a random moment during bursts from several writers, restart, and count acknowledged
 * messages lost or duplicated (DUR-1, ONCE-2). See README.md, "Reliability".
 */
import { runCrash } from './lib/crash.ts';
import { deadline, main, readOptions } from './lib/report.ts';

const options = readOptions('crash', { trials: 100, writers: 4, burst: 30, 'max-seconds': 570 });
deadline('crash', options['max-seconds']);
await main('crash', options.seed, () => runCrash({ ...options, log: (line) => console.log(line) }));
