import { expect, test } from '@playwright/test';
import { messages, send, serveApp, signUp } from './helpers.ts';

const app = serveApp();

test('[CTX-1] [CTX-2] “Message the seller”: the first message opens the conversation about the post; a message written offline before the seller closes it fails with the reason', async ({ browser }) => {
	const seller = await signUp(browser, app.url, 'seller');
	const buyer = await signUp(browser, app.url, 'buyer');
	const put = await seller.context.request.put('/api/contexts/post/market%2F77', { data: { title: 'Desk lamp', url: 'https://market.example/p/77' } });
	expect(put.status()).toBe(201);

	await buyer.page.goto('/contact/post/market%2F77');
	await expect(buyer.page.getByTestId('context-card')).toContainText('Desk lamp');
	await buyer.page.getByLabel('Your message').fill('Is the lamp still available?');
	await buyer.page.getByRole('button', { name: 'Send' }).click();
	await buyer.page.waitForURL(/\/c\/[0-9A-Z]{26}$/);
	const id = buyer.page.url().split('/c/')[1]!;
	await expect(buyer.page.getByTestId('context-card')).toContainText('Desk lamp');
	await expect(messages(buyer.page).last()).toHaveAttribute('data-delivery', 'sent');
	// Opening the contact page again goes to the same conversation.
	await buyer.page.goto('/contact/post/market%2F77');
	await buyer.page.waitForURL(`**/c/${id}`);

	// The seller sees it listed under the post, and answers.
	await seller.page.goto('/contact/post/market%2F77');
	await expect(seller.page.getByTestId('context-conversations').getByRole('link')).toHaveCount(1);
	await seller.page.getByTestId('context-conversations').getByRole('link').click();
	await seller.page.waitForURL(`**/c/${id}`);
	await send(seller.page, 'Yes, come by tomorrow');
	await expect(messages(buyer.page).filter({ hasText: 'Yes, come by tomorrow' })).toHaveCount(1);

	// Written offline, then the seller closes the conversation: on reconnect it fails with the reason.
	await buyer.context.setOffline(true);
	await send(buyer.page, 'Can you hold it until Friday?');
	await expect(messages(buyer.page).last()).toHaveAttribute('data-delivery', 'sending');
	await seller.page.getByRole('button', { name: 'Close conversation' }).click();
	await expect(seller.page.getByTestId('closed')).toBeVisible();
	await buyer.context.setOffline(false);
	const refused = messages(buyer.page).filter({ hasText: 'Can you hold it until Friday?' });
	await expect(refused).toHaveAttribute('data-delivery', 'failed', { timeout: 15_000 });
	await expect(refused).toContainText('Not sent: this conversation was closed.');
	await expect(buyer.page.getByTestId('closed')).toContainText('closed by its owner');
	await expect(buyer.page.getByTestId('messages').getByText(/closed the conversation/)).toBeVisible();

	// Reopened: the buyer can write again.
	await seller.page.getByRole('button', { name: 'Reopen' }).click();
	await expect(buyer.page.getByLabel('Message', { exact: true })).toBeVisible();
	await send(buyer.page, 'Thanks!');
	await expect(messages(seller.page).filter({ hasText: 'Thanks!' })).toHaveCount(1);
	await seller.context.close();
	await buyer.context.close();
});

test('[CTX-3] a list of many conversations loads a page at a time as it scrolls; archived ones sit behind their row', async ({ browser }) => {
	const ana = await signUp(browser, app.url, 'ana');
	const ben = await signUp(browser, app.url, 'ben');
	for (let i = 0; i < 105; i++) {
		const response = await ana.context.request.post('/api/conversations', { data: { kind: 'group', title: `Group ${String(i).padStart(3, '0')}`, members: [ben.username] } });
		expect(response.status()).toBe(201);
	}
	// A second device of Ana's (her session, nothing stored yet) loads the list from the server.
	const device = await browser.newContext({ baseURL: app.url, storageState: { cookies: (await ana.context.storageState()).cookies, origins: [] } });
	const page = await device.newPage();
	await page.goto('/');
	const rows = page.getByRole('complementary', { name: 'Conversations' }).locator('a.with-pic');
	await expect(rows).toHaveCount(100);
	await expect(page.getByRole('button', { name: 'Load older conversations' })).toBeVisible();
	await page.getByRole('complementary', { name: 'Conversations' }).locator('ul.list').evaluate((list) => list.scrollTo(0, list.scrollHeight));
	await expect(rows).toHaveCount(105);
	await expect(page.getByRole('button', { name: 'Load older conversations' })).toHaveCount(0);

	// Archive the newest from its header: it leaves the list, and shows behind "Archived (1)".
	await rows.first().click();
	await page.getByRole('button', { name: 'Archive chat' }).click();
	await expect(rows).toHaveCount(104);
	await page.getByTestId('archive-toggle').click();
	await expect(rows).toHaveCount(1);
	await expect(rows.first()).toContainText('Group 104');
	await device.close();
	await ana.context.close();
	await ben.context.close();
});
