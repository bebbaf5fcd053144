import { parseArgs } from 'node:util';
import { seedFrom } from './random.ts';

export interface RunResult {
	/** Printed at the end, in order. */
	figures: Record<string, string | number>;
	/** Properties that did not hold; any makes the run fail. */
	violations: string[];
	/** Log lines worth showing (uncaught errors, reloads). */
	notes?: string[];
}

/**
 * The command line every reliability script shares: `--seed` (printed, so a failure can be
 * repeated), the script's own numeric options, and a time limit after which the run stops itself.
 */
export function readOptions<T extends Record<string, number>>(name: string, defaults: T): { seed: number } & T {
	const options: Record<string, { type: 'string' }> = { seed: { type: 'string' } };
	for (const key of Object.keys(defaults)) options[key] = { type: 'string' };
	const { values } = parseArgs({ options, allowPositionals: false });
	const seed = seedFrom(values.seed as string | undefined);
	const out: Record<string, number> = { seed };
	for (const [key, fallback] of Object.entries(defaults)) {
		const raw = values[key] as string | undefined;
		const value = raw === undefined ? fallback : Number(raw);
		if (!Number.isFinite(value) || value < 0) throw new Error(`--${key} must be a non-negative number`);
		out[key] = value;
	}
	console.log(`${name}: seed ${seed} (repeat with --seed ${seed})`);
	return out as { seed: number } & T;
}

/** Prints the figures and the verdict, and exits: 0 when every property held, 1 otherwise. */
export function finish(name: string, seed: number, result: RunResult): never {
	console.log(`\n${name} — ${new Date().toISOString()}`);
	const width = Math.max(...Object.keys(result.figures).map((k) => k.length));
	for (const [key, value] of Object.entries(result.figures)) console.log(`  ${key.padEnd(width)}  ${value}`);
	if (result.notes?.length) {
		console.log('\nserver log lines of note:');
		for (const line of result.notes) console.log(`  ${line}`);
	}
	if (result.violations.length === 0) {
		console.log(`\nPASS: every property held (seed ${seed})`);
		process.exit(0);
	}
	console.log(`\nFAIL: ${result.violations.length} violated (repeat with --seed ${seed}):`);
	for (const violation of result.violations.slice(0, 50)) console.log(`  - ${violation}`);
	process.exit(1);
}

/** Ends a run that hangs: the scripts stop by themselves. */
export function deadline(name: string, seconds: number): void {
	setTimeout(() => {
		console.error(`${name}: still running after ${seconds} s; stopping`);
		process.exit(2);
	}, seconds * 1000).unref();
}

/** Runs the script's body and turns a thrown error into a failed run. */
export async function main(name: string, seed: number, run: () => Promise<RunResult>): Promise<never> {
	try {
		return finish(name, seed, await run());
	} catch (error) {
		console.error(`${name}: the run failed (seed ${seed}):`, error);
		process.exit(1);
	}
}
