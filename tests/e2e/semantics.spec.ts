import { expect, test } from '@playwright/test';
import { listRow, messageWithText, send, serveApp, signUp, startDirect } from './helpers.ts';

const app = serveApp();

test('[RCPT-1] the sender sees ✓, then ✓✓ when the recipient comes online, then read when they open the chat', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	await bob.context.setOffline(true);
	await expect(bob.page.getByTestId('connection')).toHaveText(/Offline/);

	await startDirect(alice.page, bob.username);
	await send(alice.page, 'are you there?');
	const message = messageWithText(alice.page, 'are you there?');
	await expect(message).toHaveAttribute('data-tick', 'sent');
	// Bob is offline: it stays ✓.
	await alice.page.waitForTimeout(1500);
	await expect(message).toHaveAttribute('data-tick', 'sent');

	// Bob's device reconnects and receives it (his list, not the chat): ✓✓.
	await bob.context.setOffline(false);
	await expect(message).toHaveAttribute('data-tick', 'delivered');
	await expect(bob.page.getByTestId('unread')).toHaveText('1');

	// Bob opens the chat with the tab visible and focused: read.
	await listRow(bob.page, alice.username).click();
	await expect(messageWithText(bob.page, 'are you there?')).toBeVisible();
	await bob.page.bringToFront();
	await expect(message).toHaveAttribute('data-tick', 'read');
	await alice.context.close();
	await bob.context.close();
});

test('[TYPING-1] "typing…" appears while the other person types and clears when they send', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await bob.page.goto(`/c/${id}`);
	await expect(bob.page.getByTestId('connection')).toHaveText(/Online/);

	await bob.page.getByLabel('Message', { exact: true }).pressSequentially('hel');
	await expect(alice.page.getByTestId('typing')).toHaveText('typing…', { timeout: 1000 });
	await bob.page.getByLabel('Message', { exact: true }).pressSequentially('lo');
	await bob.page.getByLabel('Message', { exact: true }).press('Enter');
	await expect(alice.page.getByTestId('typing')).toHaveCount(0);
	await expect(messageWithText(alice.page, 'hello')).toBeVisible();

	// Typing and then walking away: it clears by itself after 5 s.
	await bob.page.getByLabel('Message', { exact: true }).pressSequentially('one more');
	await expect(alice.page.getByTestId('typing')).toBeVisible();
	await expect(alice.page.getByTestId('typing')).toHaveCount(0, { timeout: 8000 });
	await alice.context.close();
	await bob.context.close();
});

test('[INBOX-1] a new conversation and its messages appear in the other person’s list without a reload', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	await startDirect(alice.page, bob.username);
	const row = listRow(bob.page, alice.username);
	await expect(row).toBeVisible();
	await send(alice.page, 'first news');
	await expect(row).toContainText('first news');
	await expect(row.getByTestId('unread')).toHaveText('1');
	// A toast for a message in a conversation that is not on screen.
	await expect(bob.page.locator('.toast')).toContainText('first news');
	await expect(bob.page).toHaveTitle(/^\(1\) /);
	await alice.context.close();
	await bob.context.close();
});

test('[RCPT-3] reading in a second tab clears the badge in the first; "mark unread" brings it back everywhere', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'unread until you look');
	const badge = listRow(bob.page, alice.username).getByTestId('unread');
	await expect(badge).toHaveText('1');

	const second = await bob.context.newPage();
	await second.goto(`/c/${id}`);
	await expect(messageWithText(second, 'unread until you look')).toBeVisible();
	await second.bringToFront();
	await expect(badge).toHaveCount(0);
	await expect(bob.page).toHaveTitle(/^Basement chat$/);

	await bob.page.bringToFront();
	const row = listRow(bob.page, alice.username);
	await row.hover();
	await bob.page.getByRole('button', { name: new RegExp(`Mark .* as unread`) }).click();
	await expect(badge).toHaveText('1');
	await expect(listRow(second, alice.username).getByTestId('unread')).toHaveText('1');
	await alice.context.close();
	await bob.context.close();
});
