import { devices, expect, test, type Browser, type Page } from '@playwright/test';
import { createAccount, createConversation } from '../utils/server.ts';
import { bodies, listRow, messageWithText, serveApp, signUp, startDirect, type Person } from './helpers.ts';
import { accountOf, writeMessages } from './timeline-setup.ts';

const app = serveApp();

/** The same account on a phone: touch, small screen. */
async function onPhone(browser: Browser, person: Person, viewport = { width: 390, height: 844 }): Promise<Page> {
	const context = await browser.newContext({ ...devices['Pixel 7'], viewport, baseURL: app.url });
	await context.addCookies(await person.context.cookies());
	return context.newPage();
}

const composer = (page: Page) => page.getByLabel('Message', { exact: true });

test('[VIEW-6] on a desktop the composer has focus when a chat opens; Enter sends, Shift+Enter is a new line', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await expect(composer(alice.page)).toBeFocused();
	await alice.page.goto('/');
	await listRow(alice.page, bob.username).click();
	await expect(composer(alice.page)).toBeFocused();
	await alice.page.goto(`/c/${id}`);
	await expect(composer(alice.page)).toBeFocused();

	await alice.page.keyboard.type('first line');
	await alice.page.keyboard.press('Shift+Enter');
	await alice.page.keyboard.type('second line');
	await expect(composer(alice.page)).toHaveValue('first line\nsecond line');
	await alice.page.keyboard.press('Enter');
	await expect(messageWithText(alice.page, 'first line\nsecond line')).toBeVisible();
	await expect(composer(alice.page)).toHaveValue('');
	await alice.context.close();
	await bob.context.close();
});

test('[VIEW-6] on a phone Enter is a line break and the button sends; the keyboard does not pop up on opening', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	const phone = await onPhone(browser, alice);
	await phone.goto(`/c/${id}`);
	await expect(composer(phone)).toBeVisible();
	await expect(composer(phone)).not.toBeFocused();

	await composer(phone).tap();
	await phone.keyboard.type('milk');
	await phone.keyboard.press('Enter');
	await phone.keyboard.type('eggs');
	await expect(composer(phone)).toHaveValue('milk\neggs');
	await expect(phone.getByTestId('messages').locator('.message')).toHaveCount(0);
	await phone.getByRole('button', { name: 'Send' }).tap();
	await expect(messageWithText(phone, 'milk\neggs')).toBeVisible();
	await expect(composer(phone)).toHaveValue('');
	await expect.poll(() => bodies(alice.page)).toEqual(['milk\neggs']);
	await phone.context().close();
	await alice.context.close();
	await bob.context.close();
});

test('[VIEW-6] the Send button keeps its shape whatever is typed', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	const phone = await onPhone(browser, alice);
	for (const page of [alice.page, phone]) {
		await page.goto(`/c/${id}`);
		const button = page.getByRole('button', { name: 'Send' });
		await composer(page).fill('hi');
		const before = (await button.boundingBox())!;
		for (const text of ['x'.repeat(600), 'word '.repeat(200), 'a\nb\nc\nd\ne\nf\ng\nh']) {
			await composer(page).fill(text);
			const after = (await button.boundingBox())!;
			expect(Math.abs(after.width - before.width)).toBeLessThan(1);
			expect(Math.abs(after.height - before.height)).toBeLessThan(1);
			expect(after.x + after.width).toBeLessThanOrEqual(page.viewportSize()!.width);
		}
	}
	await phone.context().close();
	await alice.context.close();
	await bob.context.close();
});

test('[VIEW-6] toasts for other chats never cover the composer', async ({ browser }) => {
	const bobPerson = await signUp(browser, app.url, 'bob');
	const bob = await accountOf(app.url, bobPerson);
	const alice = await createAccount(app.url);
	const open = await createConversation(app.url, alice, [bob], '');
	for (const viewport of [
		{ width: 390, height: 844 },
		{ width: 390, height: 420 },
		{ width: 1280, height: 800 }
	]) {
		const page = await onPhone(browser, bobPerson, viewport);
		await page.goto(`/c/${open}`);
		await expect(composer(page)).toBeVisible();
		for (let i = 0; i < 3; i++) {
			const other = await createAccount(app.url);
			const id = await createConversation(app.url, other, [bob], '');
			await writeMessages(app.url, app.server.wsUrl, id, other, [`news ${i} `.repeat(20).trim()], Date.now() - 1000);
		}
		await expect(page.locator('.toast')).toHaveCount(3);
		const form = (await page.locator('form.composer').boundingBox())!;
		for (const toast of await page.locator('.toast').all()) {
			const box = (await toast.boundingBox())!;
			const overlaps = box.x < form.x + form.width && form.x < box.x + box.width && box.y < form.y + form.height && form.y < box.y + box.height;
			expect(overlaps, `a toast covers the composer at ${viewport.width}×${viewport.height}`).toBe(false);
		}
		await page.context().close();
	}
	await bobPerson.context.close();
});
