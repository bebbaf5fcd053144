import { expect, test } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import { api, createConversation, uniqueName, type Account } from '../utils/server.ts';
import { messageWithText, serveApp, serviceWorkerReady } from './helpers.ts';
import { readUpTo, writeMessages } from './timeline-setup.ts';

test.skip(!process.env.SCREENSHOTS, 'set SCREENSHOTS=1 (npm run screenshots) to draw docs/screenshots');

const app = serveApp();
const PASSWORD = 'correct horse battery';

async function person(displayName: string): Promise<Account> {
	const username = uniqueName(displayName.toLowerCase());
	const signup = await api<{ user: { id: string } }>(app.url, '/api/auth/signup', { body: { username, password: PASSWORD, displayName } });
	const token = await api<{ token: string }>(app.url, '/api/auth/tokens', { body: { username, password: PASSWORD } });
	return { id: signup.body.user.id, username, token: token.body.token };
}

/** Sam's group with Ana and Ben: Sam has read up to Ben's first message; four are unread. */
async function band(sam: Account, ana: Account, ben: Account): Promise<string> {
	const direct = await createConversation(app.url, ana, [sam], '');
	await writeMessages(app.url, app.server.wsUrl, direct, ana, ['Did you get the tickets?'], Date.now() - 3 * 3600_000);
	await readUpTo(app.url, direct, sam, 1);
	const id = await createConversation(app.url, ana, [sam], 'Basement band');
	await api(app.url, `/api/conversations/${id}/members`, { token: ana.token, body: { members: [ben.username] } });
	const start = Date.now() - 45 * 60_000;
	await writeMessages(app.url, app.server.wsUrl, id, ana, ['Rehearsal moved to Thursday, 7 pm 🎸', 'Same room as last time, B2'], start);
	await writeMessages(app.url, app.server.wsUrl, id, sam, ['Works for me. Bringing the new pedal'], start + 3 * 60_000);
	await writeMessages(app.url, app.server.wsUrl, id, ben, ['Thanks for adding me! Which songs are we doing?'], start + 5 * 60_000);
	await readUpTo(app.url, id, sam, 5);
	await writeMessages(app.url, app.server.wsUrl, id, ana, ['The three from the demo, plus the slow one', 'Ben, can you bring the spare cable? The long one, not the red one 😅'], start + 30 * 60_000);
	await writeMessages(app.url, app.server.wsUrl, id, ben, ['Sure. Also: the lift is broken again, take the stairs', 'Sam, are you still up for recording it on your phone? 🎤'], start + 38 * 60_000);
	return id;
}

test('[VIEW-2] screenshots: a group opened at the unread divider, phone and desktop, light and dark (docs/screenshots/)', async ({ browser }) => {
	test.setTimeout(180_000);
	const [ana, ben] = [await person('Ana'), await person('Ben')];
	const dir = 'docs/screenshots';
	mkdirSync(dir, { recursive: true });
	for (const scheme of ['light', 'dark'] as const) {
		for (const [label, viewport, mobile] of [
			['phone', { width: 390, height: 844 }, true],
			['desktop', { width: 1280, height: 800 }, false]
		] as const) {
			// Opening the chat reads it: a fresh reader for each picture.
			const sam = await person('Sam');
			const id = await band(sam, ana, ben);
			const context = await browser.newContext({ baseURL: app.url, viewport, colorScheme: scheme, isMobile: mobile, hasTouch: mobile, deviceScaleFactor: mobile ? 2 : 1 });
			const page = await context.newPage();
			await page.goto('/login');
			await page.getByLabel('Username').fill(sam.username);
			await page.getByLabel('Password').fill(PASSWORD);
			await page.getByRole('button', { name: 'Log in' }).click();
			await expect(page.getByRole('button', { name: 'New conversation' })).toBeVisible();
			await serviceWorkerReady(page);
			await page.goto(`/c/${id}`);
			await expect(page.getByTestId('unread-divider')).toHaveText('4 unread messages');
			await expect(messageWithText(page, 'The three from the demo, plus the slow one')).toBeInViewport();
			await page.screenshot({ path: `${dir}/conversation-unread-${label}-${scheme}.png` });
			await context.close();
		}
	}
});
