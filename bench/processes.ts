/** Every process the bench starts, so that none outlives it whatever way it ends. */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

const children = new Set<ChildProcess>();
const leftovers = new Set<() => void>();

/** Runs `remove` when the bench exits, unless `done()` was called first (a data directory, say). */
export function removeAtExit(remove: () => void): { done(): void } {
	leftovers.add(remove);
	return {
		done() {
			leftovers.delete(remove);
			remove();
		}
	};
}

export function track(child: ChildProcess): ChildProcess {
	children.add(child);
	child.once('exit', () => children.delete(child));
	return child;
}

/** SIGTERM to every child still running (the app writes its profile then), SIGKILL to those still there after `graceMs`. */
export async function stopAll(graceMs = 5000): Promise<void> {
	const running = [...children].filter((child) => child.exitCode === null && child.signalCode === null);
	const exits = running.map((child) => new Promise((resolve) => child.once('exit', resolve)));
	for (const child of running) child.kill('SIGTERM');
	const timer = setTimeout(() => {
		for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	}, graceMs);
	await Promise.all(exits);
	clearTimeout(timer);
}

// Last resort: whatever way this process exits, its children and their data go with it.
process.once('exit', () => {
	for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
	for (const remove of leftovers) remove();
});

export interface Listening {
	child: ChildProcess;
	url: string;
	exited: Promise<unknown>;
	stop(): Promise<void>;
}

/** Starts `node --import tsx <entry>` from the repository and waits for it to print "listening on <url>". */
export function spawnListening(entry: string, env: Record<string, string> = {}): Promise<Listening> {
	const child = track(
		spawn(process.execPath, ['--import', 'tsx', entry], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
	);
	const exited = new Promise((resolve) => child.once('exit', resolve));
	return new Promise((resolve, reject) => {
		let output: string | null = '';
		child.stdout!.on('data', (chunk: Buffer) => {
			if (output === null) return;
			output += chunk.toString();
			const match = /listening on (http:\/\/\S+)/.exec(output);
			if (match?.[1]) {
				output = null;
				resolve({
					child,
					url: match[1],
					exited,
					async stop() {
						if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
						await exited;
					}
				});
			}
		});
		child.once('exit', (code) => reject(new Error(`${entry} exited (${code}) before listening`)));
	});
}
