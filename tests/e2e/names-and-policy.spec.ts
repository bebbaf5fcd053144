import { expect, test, type Browser, type Page } from '@playwright/test';
import { uniqueName } from '../utils/server.ts';
import { listRow, messageWithText, send, serveApp, serviceWorkerReady } from './helpers.ts';

const app = serveApp();

declare global {
	interface Window {
		violations: string[];
	}
}

/** Signs up through the form with a display name, recording every Content-Security-Policy violation of the page. */
async function signUpAs(browser: Browser, name: string, displayName: string): Promise<{ page: Page; username: string }> {
	const context = await browser.newContext({ baseURL: app.url });
	await context.addInitScript(() => {
		window.violations = [];
		document.addEventListener('securitypolicyviolation', (event) => window.violations.push(`${event.violatedDirective} ${event.blockedURI}`));
	});
	const page = await context.newPage();
	const username = uniqueName(name).toLowerCase();
	await page.goto('/signup');
	await page.getByLabel('Username').fill(username);
	await page.getByLabel('Display name').fill(displayName);
	await page.getByLabel('Password').fill('correct horse battery');
	await page.getByRole('button', { name: 'Sign up' }).click();
	await expect(page.getByRole('button', { name: 'New conversation' })).toBeVisible();
	await serviceWorkerReady(page);
	return { page, username };
}

test('[SEC-1] [ABUSE-2] the app runs under its policy, and a display name shows with its @username', async ({ browser }) => {
	const alice = await signUpAs(browser, 'alice', 'Alice');
	const bob = await signUpAs(browser, 'bob', 'Bob');

	// A direct chat: the header and the list row name Bob with his username.
	await alice.page.getByRole('button', { name: 'New conversation' }).click();
	await alice.page.getByLabel('Username').fill(bob.username);
	await alice.page.getByRole('button', { name: 'Start chat' }).click();
	await expect(alice.page.getByRole('heading', { level: 1 })).toHaveText(`Bob @${bob.username}`);
	await expect(listRow(alice.page, `Bob @${bob.username}`)).toBeVisible();
	await send(alice.page, 'hi Bob');
	await listRow(bob.page, `Alice @${alice.username}`).click();
	await expect(messageWithText(bob.page, 'hi Bob')).toBeVisible();

	// A group: Bob's messages carry his username in the author line.
	await alice.page.getByRole('button', { name: 'New conversation' }).click();
	await alice.page.getByLabel('Group').check();
	await alice.page.getByLabel('Title').fill('Team');
	await alice.page.getByLabel('Members (usernames, separated by commas)').fill(bob.username);
	await alice.page.getByRole('button', { name: 'Create group' }).click();
	await listRow(bob.page, 'Team').click();
	await send(bob.page, 'hello team');
	await expect(messageWithText(alice.page, 'hello team').locator('.author')).toHaveText(`Bob @${bob.username}`);

	// Reloading runs the start script again under a fresh nonce.
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'hello team')).toBeVisible();
	expect(await alice.page.evaluate(() => window.violations)).toEqual([]);
	expect(await bob.page.evaluate(() => window.violations)).toEqual([]);
	await alice.page.context().close();
	await bob.page.context().close();
});

test('[ABUSE-2] the sign-up form refuses a display name with hidden characters before sending it', async ({ browser }) => {
	const context = await browser.newContext({ baseURL: app.url });
	const page = await context.newPage();
	await page.goto('/signup');
	await page.getByLabel('Username').fill(uniqueName('eve').toLowerCase());
	await page.getByLabel('Display name').fill('Eve\u202Egnp.exe');
	await page.getByLabel('Password').fill('correct horse battery');
	const message = page.getByText('Display names cannot contain invisible characters or characters that change the direction of text.');
	await expect(message).toBeVisible();
	await expect(page.getByLabel('Display name')).toHaveAttribute('aria-invalid', 'true');
	await page.getByRole('button', { name: 'Sign up' }).click();
	await expect(page).toHaveURL(/\/signup$/);
	await page.getByLabel('Display name').fill('Eve');
	await expect(message).toHaveCount(0);
	await context.close();
});
