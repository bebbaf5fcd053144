// Builds the web app when build/ is missing or older than any source file, so `npm start` just works.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const marker = join(root, 'build', 'handler.js');

function newest(dir) {
	let latest = 0;
	for (const entry of readdirSync(dir, { withFileTypes: true })) {
		const path = join(dir, entry.name);
		latest = Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
	}
	return latest;
}

const sources = ['src', 'static'].map((d) => join(root, d)).filter(existsSync);
const configs = ['svelte.config.js', 'vite.config.ts', 'package.json'].map((f) => join(root, f));
const sourceTime = Math.max(...sources.map(newest), ...configs.map((f) => statSync(f).mtimeMs));

if (!existsSync(marker) || statSync(marker).mtimeMs < sourceTime) {
	console.log('Building the web app…');
	execSync('npx vite build', { cwd: root, stdio: 'inherit' });
}
