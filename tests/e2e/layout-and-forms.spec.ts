import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { uniqueName } from '../utils/server.ts';
import { listRow, serveApp } from './helpers.ts';

const app = serveApp();
const PASSWORD = 'correct horse battery';

async function account(browser: Browser, name: string, displayName?: string, viewport = { width: 1280, height: 800 }): Promise<{ context: BrowserContext; page: Page; username: string }> {
	const context = await browser.newContext({ baseURL: app.url, viewport });
	const username = uniqueName(name).toLowerCase();
	expect((await context.request.post('/api/auth/signup', { data: { username, password: PASSWORD, displayName } })).status()).toBe(201);
	const page = await context.newPage();
	return { context, page, username };
}

test('sign-up shows every field’s problem at once, in plain words, next to its field', async ({ browser }) => {
	const taken = await account(browser, 'taken');
	const context = await browser.newContext({ baseURL: app.url });
	const page = await context.newPage();
	await page.goto('/signup');
	const username = page.getByLabel('Username');
	const displayName = page.getByLabel('Display name');
	const password = page.getByLabel('Password');

	await page.getByRole('button', { name: 'Sign up' }).click();
	await expect(username).toHaveAccessibleDescription('Choose a username.');
	await expect(password).toHaveAccessibleDescription('Choose a password.');
	await expect(displayName).toHaveAttribute('aria-invalid', 'false');
	await expect(username).toBeFocused();

	await username.fill('Bad Name');
	await displayName.fill('x'.repeat(65));
	await password.fill('short');
	await expect(username).toHaveAccessibleDescription('Use only lowercase letters, digits and _ (no spaces or capitals).');
	await expect(displayName).toHaveAccessibleDescription('Use at most 64 characters (this one has 65).');
	await expect(password).toHaveAccessibleDescription('Use at least 8 characters (this one has 5).');
	await username.fill('ab');
	await expect(username).toHaveAccessibleDescription('Use at least 3 characters.');
	// Each message sits right under its own field.
	for (const field of [username, displayName, password]) {
		const input = (await field.boundingBox())!;
		const note = (await page.locator(`#${await field.getAttribute('aria-describedby')}`).boundingBox())!;
		expect(note.y).toBeGreaterThanOrEqual(input.y + input.height - 1);
		expect(note.y).toBeLessThan(input.y + input.height + 24);
	}
	await expect(page.getByText(/Invalid input|expected string|regex|too_small/i)).toHaveCount(0);

	// What only the server knows comes back next to the field too.
	await username.fill(taken.username);
	await displayName.fill('Someone');
	await password.fill(PASSWORD);
	await page.getByRole('button', { name: 'Sign up' }).click();
	await expect(username).toHaveAccessibleDescription('That username is taken. Try another one.');
	await expect(page).toHaveURL(/\/signup$/);
	await username.fill(`${taken.username}_2`);
	await expect(username).toHaveAttribute('aria-invalid', 'false');
	await context.close();
	await taken.context.close();
});

test('login says which fields are missing, and a wrong password in plain words', async ({ browser }) => {
	const someone = await account(browser, 'dana');
	const context = await browser.newContext({ baseURL: app.url });
	const page = await context.newPage();
	await page.goto('/login');
	await page.getByRole('button', { name: 'Log in' }).click();
	await expect(page.getByLabel('Username')).toHaveAccessibleDescription('Enter your username.');
	await expect(page.getByLabel('Password')).toHaveAccessibleDescription('Enter your password.');
	await page.getByLabel('Username').fill(someone.username);
	await page.getByLabel('Password').fill('not the password');
	await page.getByRole('button', { name: 'Log in' }).click();
	await expect(page.getByRole('alert')).toHaveText('Wrong username or password.');
	await context.close();
	await someone.context.close();
});

for (const viewport of [
	{ width: 390, height: 844 },
	{ width: 1280, height: 800 }
]) {
	test(`a long display name ends in an ellipsis and "Log out" stays inside the sidebar (${viewport.width}px)`, async ({ browser }) => {
		const person = await account(browser, 'long', 'W'.repeat(64), viewport);
		await person.page.goto('/');
		const sidebar = person.page.getByRole('complementary', { name: 'Conversations' });
		const logOut = sidebar.getByRole('button', { name: 'Log out' });
		await expect(logOut).toBeVisible();
		const aside = (await sidebar.boundingBox())!;
		const button = (await logOut.boundingBox())!;
		expect(button.x).toBeGreaterThanOrEqual(aside.x);
		expect(button.x + button.width).toBeLessThanOrEqual(aside.x + aside.width);
		const name = sidebar.locator('.name');
		expect(await name.evaluate((el) => el.scrollWidth > el.clientWidth && getComputedStyle(el).textOverflow === 'ellipsis')).toBe(true);
		expect(await person.page.evaluate(() => document.documentElement.scrollWidth <= innerWidth)).toBe(true);
		await person.context.close();
	});
}

test('unread badges are circles for one and two digits, pills beyond', async ({ browser }) => {
	const bob = await account(browser, 'bob');
	const alice = await account(browser, 'alice', 'Alice');
	const counts: Record<string, number> = { One: 1, Twelve: 12, Many: 123 };
	for (const [title, count] of Object.entries(counts)) {
		const created = await alice.context.request.post('/api/conversations', { data: { kind: 'group', title, members: [bob.username] } });
		const { conversation } = (await created.json()) as { conversation: { id: string } };
		for (let i = 0; i < count; i++) {
			const sent = await alice.context.request.post(`/api/conversations/${conversation.id}/messages`, { data: { body: `${title} ${i}` } });
			expect(sent.ok()).toBe(true);
		}
	}
	await bob.page.goto('/');
	for (const [title, count] of Object.entries(counts)) {
		const badge = listRow(bob.page, title).getByTestId('unread');
		await expect(badge).toHaveText(String(count));
		const box = (await badge.boundingBox())!;
		if (count < 100) expect(Math.abs(box.width - box.height)).toBeLessThan(0.5);
		else expect(box.width).toBeGreaterThan(box.height + 2);
		expect(await badge.evaluate((el) => parseFloat(getComputedStyle(el).borderTopLeftRadius) >= el.getBoundingClientRect().height / 2 - 0.5)).toBe(true);
	}
	await bob.context.close();
	await alice.context.close();
});

/** Controls on screen whose middle is hidden under something that is not part of them. */
function coveredControls(page: Page): Promise<string[]> {
	return page.evaluate(() =>
		[...document.querySelectorAll<HTMLElement>('button, a[href], input, textarea, select')]
			.filter((el) => {
				const box = el.getBoundingClientRect();
				if (box.width === 0 || box.height === 0 || getComputedStyle(el).visibility === 'hidden' || getComputedStyle(el).opacity === '0') return false;
				const x = box.left + box.width / 2;
				const y = box.top + box.height / 2;
				if (x < 0 || y < 0 || x > innerWidth || y > innerHeight) return false;
				const top = document.elementFromPoint(x, y);
				return !!top && !el.contains(top) && !top.contains(el);
			})
			.map((el) => el.getAttribute('aria-label') ?? el.textContent?.trim() ?? el.tagName)
	);
}

for (const viewport of [
	{ width: 390, height: 844 },
	{ width: 1280, height: 800 }
]) {
	test(`toasts never cover a control (${viewport.width}px)`, async ({ browser }) => {
		const bob = await account(browser, 'bob', 'Bob', viewport);
		const alice = await account(browser, 'alice', 'Alice');
		const carol = await account(browser, 'carol', 'Carol');
		// Bob reads a conversation with Alice while Carol writes to him elsewhere.
		const direct = await alice.context.request.post('/api/conversations', { data: { kind: 'direct', members: [bob.username] } });
		const { conversation } = (await direct.json()) as { conversation: { id: string } };
		await bob.page.goto(`/c/${conversation.id}`);
		await expect(bob.page.getByTestId('connection')).toHaveText(/Online/);
		const group = await carol.context.request.post('/api/conversations', { data: { kind: 'group', title: 'Elsewhere', members: [bob.username] } });
		const { conversation: elsewhere } = (await group.json()) as { conversation: { id: string } };
		// One at a time: messages within one inbox window (INBOX-2) make one toast.
		for (const [i, body] of ['one', 'two', 'three'].entries()) {
			await carol.context.request.post(`/api/conversations/${elsewhere.id}/messages`, { data: { body: `${body} ${'long words '.repeat(20)}` } });
			await expect(bob.page.locator('.toast')).toHaveCount(i + 1);
		}
		expect(await coveredControls(bob.page)).toEqual([]);
		await bob.page.locator('.toast').first().getByRole('button', { name: 'Dismiss' }).click();
		await expect(bob.page.locator('.toast')).toHaveCount(2);
		await bob.context.close();
		await alice.context.close();
		await carol.context.close();
	});
}
