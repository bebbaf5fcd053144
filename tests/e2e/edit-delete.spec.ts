import { expect, test } from '@playwright/test';
import { deleteMessage, deviceHolds, editMessage, messageWithText, messages, send, serveApp, signUp, startDirect } from './helpers.ts';

const app = serveApp();

test('[ERASE-4] an edit and a deletion reach the other user and my other tab; the deleted body leaves the other device’s IndexedDB', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	const secret = `wrong chat ${Date.now()}`;
	await send(alice.page, 'see you at 5');
	await send(alice.page, secret);
	await send(alice.page, 'stays as it is');
	await expect(messages(alice.page).last()).toHaveAttribute('data-delivery', 'sent');

	const otherTab = await alice.context.newPage();
	await otherTab.goto(`/c/${id}`);
	await bob.page.goto(`/c/${id}`);
	for (const page of [otherTab, bob.page]) await expect(messageWithText(page, secret)).toBeVisible();
	await expect.poll(() => deviceHolds(bob.page, secret)).toBe(true);
	// Only my own messages can be changed.
	await messageWithText(bob.page, secret).hover();
	await expect(messageWithText(bob.page, secret).getByRole('button', { name: 'Delete message' })).toHaveCount(0);

	await editMessage(alice.page, 'see you at 5', 'see you at 6');
	for (const page of [alice.page, otherTab, bob.page]) {
		await expect(messageWithText(page, 'see you at 6').getByTestId('edited')).toBeVisible();
		await expect(messageWithText(page, 'see you at 5')).toHaveCount(0);
	}

	await deleteMessage(alice.page, secret);
	await expect(alice.page.getByTestId('deleted-message')).toHaveText('You deleted this message');
	await expect(otherTab.getByTestId('deleted-message')).toHaveText('You deleted this message');
	await expect(bob.page.getByTestId('deleted-message')).toHaveText('This message was deleted');
	for (const page of [alice.page, otherTab, bob.page]) {
		await expect(messageWithText(page, secret)).toHaveCount(0);
		// The placeholder keeps the message's place: between the edited one and the next.
		await expect(messages(page).nth(1).getByTestId('deleted-message')).toBeVisible();
		await expect(messageWithText(page, 'stays as it is')).toBeVisible();
	}
	// Erasure on the other device: its stored copy is rewritten without the body.
	await expect.poll(() => deviceHolds(bob.page, secret), { timeout: 10_000 }).toBe(false);
	await expect.poll(() => deviceHolds(otherTab, secret), { timeout: 10_000 }).toBe(false);
	expect(await deviceHolds(bob.page, 'stays as it is')).toBe(true);

	// After a reload, the same.
	await bob.page.reload();
	await expect(bob.page.getByTestId('deleted-message')).toHaveText('This message was deleted');
	await expect(messageWithText(bob.page, 'see you at 6').getByTestId('edited')).toBeVisible();
	await alice.context.close();
	await bob.context.close();
});

test('[ERASE-4] edits and deletions made offline survive a reload and reach the other side once back online', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'meet at the gate');
	await send(alice.page, 'bring the notes');
	await expect(messages(alice.page).last()).toHaveAttribute('data-delivery', 'sent');
	await bob.page.goto(`/c/${id}`);
	await expect(messageWithText(bob.page, 'bring the notes')).toBeVisible();

	await alice.context.setOffline(true);
	await editMessage(alice.page, 'meet at the gate', 'meet at the library');
	await deleteMessage(alice.page, 'bring the notes');
	await expect(alice.page.getByTestId('deleted-message')).toBeVisible();
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'meet at the library').getByTestId('edited')).toBeVisible();
	await expect(alice.page.getByTestId('deleted-message')).toHaveText('You deleted this message');
	// Bob sees neither while alice is offline.
	await expect(messageWithText(bob.page, 'meet at the gate')).toBeVisible();

	await alice.context.setOffline(false);
	await expect(messageWithText(bob.page, 'meet at the library').getByTestId('edited')).toBeVisible();
	await expect(bob.page.getByTestId('deleted-message')).toHaveText('This message was deleted');
	await expect(messageWithText(bob.page, 'bring the notes')).toHaveCount(0);
	await alice.context.close();
	await bob.context.close();
});
