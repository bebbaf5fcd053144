import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Server tests run the built SvelteKit handler, so build it first when sources changed. */
export default function setup(): void {
	const script = fileURLToPath(new URL('../../scripts/build-if-needed.mjs', import.meta.url));
	execFileSync(process.execPath, [script], { stdio: 'inherit' });
}
