import { expect, test, type Page } from '@playwright/test';
import { createAccount, createConversation } from '../utils/server.ts';
import { listRow, messages, messageWithText, send, serveApp, signUp, startDirect } from './helpers.ts';
import { accountOf, readUpTo, writeMessages } from './timeline-setup.ts';

const app = serveApp();

/** Counts every DOM change in the page for `ms`, with a few samples of what changed. */
async function mutationsOver(page: Page, ms: number): Promise<{ count: number; samples: string[] }> {
	return page.evaluate(async (duration) => {
		let count = 0;
		const samples: string[] = [];
		const observer = new MutationObserver((records) => {
			count += records.length;
			for (const record of records) {
				const target = record.target instanceof Element ? record.target.outerHTML.slice(0, 80) : record.target.nodeName;
				if (samples.length < 10) samples.push(`${record.type} ${record.attributeName ?? ''} ${target}`);
			}
		});
		observer.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
		await new Promise((resolve) => setTimeout(resolve, duration));
		observer.disconnect();
		return { count, samples };
	}, ms);
}

test('[VIEW-1] idle means idle: after a burst of messages the open chat changes nothing, and arrivals keep the rows already shown', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await bob.page.goto(`/c/${id}`);
	await expect(bob.page.getByLabel('Message', { exact: true })).toBeVisible();
	for (let i = 1; i <= 4; i++) await send(alice.page, `burst ${i}`);
	await expect(messageWithText(bob.page, 'burst 4')).toBeVisible();

	// The rows on screen stay the same elements while more arrive: a selection or a pointer on them survives.
	await bob.page.evaluate(() => document.querySelectorAll('[data-testid="messages"] .message').forEach((node) => ((node as HTMLElement).dataset.kept = 'yes')));
	await messageWithText(bob.page, 'burst 2').locator('.body').selectText();
	for (let i = 5; i <= 10; i++) await send(alice.page, `burst ${i}`);
	await expect(messageWithText(bob.page, 'burst 10')).toBeVisible();
	await expect(bob.page.locator('[data-kept="yes"]')).toHaveCount(4);
	expect(await bob.page.evaluate(() => getSelection()?.toString())).toBe('burst 2');
	await send(bob.page, 'got them all');
	await expect(messageWithText(alice.page, 'burst 10')).toHaveAttribute('data-tick', 'read');
	await expect(messageWithText(bob.page, 'got them all')).toHaveAttribute('data-tick', 'read');

	// Receipts and the inbox settle within a moment; after that, nothing on the page may move.
	await bob.page.waitForTimeout(1000);
	const quiet = await mutationsOver(bob.page, 3000);
	expect(quiet.samples).toEqual([]);
	expect(quiet.count).toBe(0);
	await expect(messages(bob.page)).toHaveCount(11);
	await alice.context.close();
	await bob.context.close();
});

test('[VIEW-2] a chat with unread messages opens at the first unread, under an "N unread messages" divider; a jump button counts what is below', async ({ browser }) => {
	const bobPerson = await signUp(browser, app.url, 'bob');
	await bobPerson.page.setViewportSize({ width: 1280, height: 800 });
	const alice = await createAccount(app.url);
	const bob = await accountOf(app.url, bobPerson);
	const id = await createConversation(app.url, alice, [bob], '');
	await writeMessages(app.url, app.server.wsUrl, id, alice, Array.from({ length: 40 }, (_, i) => `read ${i + 1}`));
	await readUpTo(app.url, id, bob, 40);
	await writeMessages(app.url, app.server.wsUrl, id, alice, Array.from({ length: 30 }, (_, i) => `unread ${i + 1}`), Date.now() - 30 * 1000);
	const page = bobPerson.page;
	// The divider counts from what the device knew when the chat opened: let the inbox update (sent once per 50 ms window, INBOX-2) arrive first.
	await expect(listRow(page, alice.username).getByTestId('unread')).toHaveText('30');
	await page.reload();
	await page.goto(`/c/${id}`);

	const divider = page.getByTestId('unread-divider');
	await expect(divider).toHaveText('30 unread messages');
	await expect(divider).toBeInViewport();
	await expect(messageWithText(page, 'unread 1')).toBeInViewport();
	await expect(messageWithText(page, 'unread 30')).not.toBeInViewport();
	// What is on screen is read; the rest is counted on the jump button.
	const jump = page.getByRole('button', { name: /Jump to the newest message/ });
	await expect(jump).toBeVisible();
	const count = () => page.getByTestId('jump-unread').textContent().then(Number);
	await expect.poll(count).toBeLessThan(30);
	expect(await count()).toBeGreaterThan(0);

	await jump.click();
	await expect(messageWithText(page, 'unread 30')).toBeInViewport();
	await expect(jump).toBeHidden();

	// Scrolled up, the button is back; a new message is counted on it and does not pull the reader down.
	await page.getByTestId('messages').evaluate((node) => node.scrollBy(0, -1200));
	await expect(jump).toBeVisible();
	await expect(page.getByTestId('jump-unread')).toHaveCount(0);
	await writeMessages(app.url, app.server.wsUrl, id, alice, ['while you were up there']);
	await expect(page.getByTestId('jump-unread')).toHaveText('1');
	await expect(messageWithText(page, 'unread 30')).not.toBeInViewport();
	await jump.click();
	await expect(messageWithText(page, 'while you were up there')).toBeInViewport();
	await expect(jump).toBeHidden();
	await bobPerson.context.close();
});

test('[VIEW-3] thousands of messages scroll through a bounded window of rows, in order, both ways', async ({ browser }) => {
	test.setTimeout(180_000);
	const bobPerson = await signUp(browser, app.url, 'bob');
	const alice = await createAccount(app.url);
	const bob = await accountOf(app.url, bobPerson);
	const id = await createConversation(app.url, alice, [bob], '');
	const total = 2000;
	await writeMessages(app.url, app.server.wsUrl, id, alice, Array.from({ length: total }, (_, i) => `history ${i + 1}`));
	await readUpTo(app.url, id, bob, total);
	const page = bobPerson.page;
	// Opening counts from what the device knew: let the inbox update of the read (INBOX-2) arrive first.
	await expect(listRow(page, alice.username)).toContainText(`history ${total}`);
	await expect(listRow(page, alice.username).getByTestId('unread')).toHaveCount(0);
	await page.reload();
	await page.goto(`/c/${id}`);
	await expect(messageWithText(page, `history ${total}`)).toBeInViewport({ timeout: 30_000 });

	/** Scrolls one screen (up or down), lets the list react, and reports what is rendered. */
	const step = (direction: 1 | -1) =>
		page.getByTestId('messages').evaluate(async (node, direction) => {
			node.scrollBy(0, direction * node.clientHeight);
			for (let i = 0; i < 3; i++) await new Promise((resolve) => requestAnimationFrame(resolve));
			const numbers = [...node.querySelectorAll('.message .body')].map((body) => Number(body.textContent!.split(' ')[1]));
			return { rows: node.querySelectorAll('li').length, numbers };
		}, direction);
	const seen: Array<{ rows: number; numbers: number[] }> = [];
	// Up to the very first message, a screen at a time, then back down to the newest.
	for (let i = 0; i < 400 && !seen.at(-1)?.numbers.includes(1); i++) seen.push(await step(-1));
	const top = seen.at(-1)!.numbers;
	expect(top).toContain(1);
	expect(top).toEqual(Array.from({ length: top.length }, (_, i) => i + 1));
	for (let i = 0; i < 400 && !seen.at(-1)?.numbers.includes(total); i++) seen.push(await step(1));
	const bottom = seen.at(-1)!.numbers;
	expect(bottom).toContain(total);
	expect(bottom).toEqual(Array.from({ length: bottom.length }, (_, i) => bottom[0]! + i));
	const most = Math.max(...seen.map((s) => s.rows));
	console.log(`rows rendered while scrolling through ${total} messages: at most ${most}`);
	expect(most).toBeLessThanOrEqual(120);
	expect(await page.evaluate(() => document.querySelectorAll('*').length)).toBeLessThan(2000);
	await bobPerson.context.close();
});

test('[VIEW-2] a chat opened by its address is read: its badge clears and stays cleared', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'open me by link');
	const badge = listRow(bob.page, alice.username).getByTestId('unread');
	await bob.page.goto(`/c/${id}`);
	await expect(messageWithText(bob.page, 'open me by link')).toBeVisible();
	await expect(messageWithText(alice.page, 'open me by link')).toHaveAttribute('data-tick', 'read');
	await expect(badge).toHaveCount(0);
	await bob.page.waitForTimeout(1500);
	await expect(badge).toHaveCount(0);
	await alice.context.close();
	await bob.context.close();
});
