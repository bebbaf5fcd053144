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
