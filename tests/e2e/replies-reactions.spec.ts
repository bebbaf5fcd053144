import { expect, test, type Page } from '@playwright/test';
import { api, createAccount } from '../utils/server.ts';
import { messageWithText, messages, send, serveApp, signUp, startDirect } from './helpers.ts';

// Small epochs: a long conversation's first messages are history (REST) by the time a reply quotes them.
const app = serveApp({ EPOCH_MESSAGES: '10', EPOCH_QUIET_MS: '0' });

async function reply(page: Page, to: string, text: string): Promise<void> {
	const message = messageWithText(page, to);
	await message.hover();
	await message.getByRole('button', { name: 'Reply' }).click();
	await expect(page.getByTestId('replying')).toContainText(to);
	await send(page, text);
}

async function react(page: Page, to: string, emoji: string): Promise<void> {
	const message = messageWithText(page, to);
	await message.hover();
	await message.getByRole('button', { name: 'React' }).click();
	const quick = page.getByRole('button', { name: `React with ${emoji}` });
	if (await quick.count()) await quick.click();
	else {
		await page.getByLabel('Any emoji').fill(emoji);
		await page.getByLabel('Any emoji').press('Enter');
	}
}

const chip = (page: Page, to: string, emoji: string) => messageWithText(page, to).getByTestId('reactions').getByRole('button', { name: new RegExp(`^${emoji} `) });

test('[REPLY-1] [REACT-1] replies quote their message and reactions count who reacted, across two users and two tabs of one', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'who has the notes?');
	await send(alice.page, 'never mind');
	await expect(messages(alice.page).last()).toHaveAttribute('data-delivery', 'sent');
	await bob.page.goto(`/c/${id}`);
	const otherTab = await alice.context.newPage();
	await otherTab.goto(`/c/${id}`);

	await reply(bob.page, 'who has the notes?', 'I do');
	for (const page of [alice.page, otherTab, bob.page]) {
		const quote = messageWithText(page, 'I do').getByTestId('quote');
		await expect(quote).toContainText('who has the notes?');
	}
	// The quote names the quoted message's author: alice herself.
	await expect(messageWithText(alice.page, 'I do').getByTestId('quote')).toContainText('You');
	await expect(messageWithText(bob.page, 'I do').getByTestId('quote')).toContainText(alice.username);

	await react(bob.page, 'who has the notes?', '👍');
	await react(alice.page, 'who has the notes?', '👍');
	await react(alice.page, 'never mind', '🎉');
	for (const page of [alice.page, otherTab, bob.page]) {
		await expect(chip(page, 'who has the notes?', '👍')).toContainText('2');
		await expect(chip(page, 'never mind', '🎉')).toContainText('1');
	}
	await expect(chip(alice.page, 'who has the notes?', '👍')).toHaveAttribute('aria-pressed', 'true');
	// Clicking my own reaction takes it back; twice puts it back; others' stay.
	await chip(otherTab, 'who has the notes?', '👍').click();
	await expect(chip(bob.page, 'who has the notes?', '👍')).toContainText('1');
	await expect(chip(alice.page, 'who has the notes?', '👍')).toHaveAttribute('aria-pressed', 'false');
	await chip(alice.page, 'who has the notes?', '👍').click();
	await expect(chip(bob.page, 'who has the notes?', '👍')).toContainText('2');

	// A reply to a message deleted later says so.
	const deleted = messageWithText(alice.page, 'never mind');
	await reply(bob.page, 'never mind', 'ok');
	await deleted.hover();
	await deleted.getByRole('button', { name: 'Delete message' }).click();
	await alice.page.getByRole('button', { name: 'Delete for everyone' }).click();
	await expect(messageWithText(bob.page, 'ok').getByTestId('quote')).toHaveText('Message deleted');
	await alice.context.close();
	await bob.context.close();
});

test('[REACT-3] a reaction added offline survives a reload and arrives once back online', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'exam on Friday');
	await expect(messages(alice.page).last()).toHaveAttribute('data-delivery', 'sent');
	await bob.page.goto(`/c/${id}`);
	await expect(messageWithText(bob.page, 'exam on Friday')).toBeVisible();

	await bob.context.setOffline(true);
	await react(bob.page, 'exam on Friday', '😮');
	await bob.page.reload();
	await expect(chip(bob.page, 'exam on Friday', '😮')).toContainText('1');
	await expect(messageWithText(alice.page, 'exam on Friday').getByTestId('reactions')).toHaveCount(0);
	await bob.context.setOffline(false);
	await expect(chip(alice.page, 'exam on Friday', '😮')).toContainText('1');
	await alice.context.close();
	await bob.context.close();
});

test('[REPLY-1] the quote of a reply to an old message jumps to it, paging older history in', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	await alice.page.goto('/');
	const say = async (body: string, replyTo?: string) => {
		const response = await api<{ message: { id: string } }>(app.url, `/api/conversations/${id}/messages`, { token: bob.token, body: { body, replyTo } });
		expect(response.status).toBe(201);
		return response.body.message.id;
	};
	const first = await say('the very first message');
	for (let i = 0; i < 80; i++) await say(`filler ${i}`);
	await say('about that first one', first);

	// A new device of alice's (her session, nothing stored yet): its first screen does not reach back that far.
	const laptop = await browser.newContext({ baseURL: app.url, storageState: { cookies: (await alice.context.storageState()).cookies, origins: [] } });
	const page = await laptop.newPage();
	await page.goto(`/c/${id}`);
	const quote = messageWithText(page, 'about that first one').getByTestId('quote');
	// "Original message" until the device has it (scrolling may already have paged it in).
	await expect(quote).toHaveText(/^(Original message|.*the very first message)$/);
	await quote.click();
	const original = messageWithText(page, 'the very first message');
	await expect(original).toBeInViewport();
	await expect(original).toHaveClass(/highlighted/);
	await expect(quote).toContainText('the very first message');
	await laptop.close();
	await alice.context.close();
});

test('[REACT-4] on a phone, tapping a message shows its actions', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	await api(app.url, `/api/conversations/${id}/messages`, { token: bob.token, body: { body: 'tap me' } });
	const phone = await browser.newContext({ baseURL: app.url, viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, storageState: await alice.context.storageState() });
	const page = await phone.newPage();
	await page.goto(`/c/${id}`);
	const message = messageWithText(page, 'tap me');
	await expect(message.locator('.actions')).toHaveCSS('opacity', '0');
	await message.locator('.body').tap();
	await expect(message.locator('.actions')).toHaveCSS('opacity', '1');
	await message.getByRole('button', { name: 'React' }).tap();
	await page.getByRole('button', { name: 'React with 😂' }).tap();
	await expect(chip(page, 'tap me', '😂')).toContainText('1');
	await phone.close();
	await alice.context.close();
});
