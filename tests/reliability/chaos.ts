/**
 * npm run chaos -- [--seed N] [--runs 4] [--steps 150] [--kills 4]
 *
 * Seeded runs of 5 users × 2 devices with flaky networks, reloads, concurrent offline edits and
 * server SIGKILLs; checks convergence, seq 1..N, acknowledged messages, REST = document, and that
 * no honest update was refused. See README.md, "Reliability".
 */
import { runChaos } from './lib/chaos.ts';
import { deadline, main, readOptions } from './lib/report.ts';

const options = readOptions('chaos', { runs: 4, steps: 150, kills: 4, 'max-seconds': 570 });
deadline('chaos', options['max-seconds']);
await main('chaos', options.seed, () => runChaos({ ...options, log: (line) => console.log(line) }));
