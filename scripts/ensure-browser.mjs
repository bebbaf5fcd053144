// Makes sure a Chromium is there for the browser tests: Debian's package when we are root (and
// apt works), otherwise Playwright's own download.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const run = (command) => execSync(command, { stdio: 'inherit' });

if (process.env.CHROMIUM_PATH || existsSync('/usr/bin/chromium')) process.exit(0);

if (process.getuid?.() === 0 && existsSync('/usr/bin/apt-get')) {
	console.log('Installing Debian chromium for the browser tests…');
	run('apt-get update -qq');
	run('DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium');
} else {
	console.log('Installing Playwright’s Chromium for the browser tests…');
	run('npx playwright install chromium');
}
