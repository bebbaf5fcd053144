import { expect, test } from '@playwright/test';
import { bodies, messageWithText, send, serveApp, signUp, startDirect } from './helpers.ts';

const app = serveApp();

test('[ORDER-1] two people chat in real time, with honest ticks', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'hello bob');
	await expect(messageWithText(alice.page, 'hello bob')).toHaveAttribute('data-delivery', 'sent');

	await bob.page.goto(`/c/${id}`);
	await expect(messageWithText(bob.page, 'hello bob')).toBeVisible();
	await send(bob.page, 'hi alice');
	await expect(messageWithText(alice.page, 'hi alice')).toBeVisible();
	await expect.poll(() => bodies(alice.page)).toEqual(['hello bob', 'hi alice']);
	await expect.poll(() => bodies(bob.page)).toEqual(['hello bob', 'hi alice']);
	await alice.context.close();
	await bob.context.close();
});

test('[OFFLINE-1] offline: messages survive a reload as "sending" and are delivered once, in order, on reconnect', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await bob.page.goto(`/c/${id}`);

	await alice.context.setOffline(true);
	await expect(alice.page.getByTestId('connection')).toHaveText(/Offline/);
	for (const text of ['one', 'two', 'three']) await send(alice.page, text);
	for (const text of ['one', 'two', 'three']) await expect(messageWithText(alice.page, text)).toHaveAttribute('data-delivery', 'sending');

	await alice.page.reload();
	for (const text of ['one', 'two', 'three']) await expect(messageWithText(alice.page, text)).toHaveAttribute('data-delivery', 'sending');
	await expect(bob.page.getByTestId('messages').locator('.message')).toHaveCount(0);

	await alice.context.setOffline(false);
	for (const text of ['one', 'two', 'three']) await expect(messageWithText(alice.page, text)).toHaveAttribute('data-delivery', 'sent');
	await expect(messageWithText(bob.page, 'three')).toBeVisible();
	await expect.poll(() => bodies(bob.page)).toEqual(['one', 'two', 'three']);
	await alice.context.close();
	await bob.context.close();
});

test('[ORDER-1] both offline, both write, both reconnect: the same messages in the same order on both', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await bob.page.goto(`/c/${id}`);
	await expect(bob.page.getByTestId('connection')).toHaveText(/Online/);

	await alice.context.setOffline(true);
	await bob.context.setOffline(true);
	await send(alice.page, 'from alice 1');
	await send(bob.page, 'from bob 1');
	await send(alice.page, 'from alice 2');
	await send(bob.page, 'from bob 2');
	await alice.context.setOffline(false);
	await bob.context.setOffline(false);

	for (const person of [alice, bob]) {
		for (const text of ['from alice 1', 'from alice 2', 'from bob 1', 'from bob 2']) {
			await expect(messageWithText(person.page, text)).toHaveAttribute('data-delivery', /sent|sending/);
		}
	}
	await expect(async () => {
		const a = await bodies(alice.page);
		const b = await bodies(bob.page);
		expect(a).toHaveLength(4);
		expect(a).toEqual(b);
		expect(await alice.page.locator('[data-delivery="sending"]').count()).toBe(0);
	}).toPass({ timeout: 10_000 });
	await alice.context.close();
	await bob.context.close();
});

test('[OFFLINE-2] a cold start with no network shows the conversations and messages already on the device', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'kept on this device');
	await expect(messageWithText(alice.page, 'kept on this device')).toHaveAttribute('data-delivery', 'sent');
	await alice.page.close();

	await alice.context.setOffline(true);
	const cold = await alice.context.newPage();
	await cold.goto(`/c/${id}`);
	await expect(messageWithText(cold, 'kept on this device')).toBeVisible();
	await expect(cold.getByRole('link', { name: new RegExp(bob.username) })).toBeVisible();
	await expect(cold.getByTestId('connection')).toHaveText(/Offline/);
	await alice.context.close();
	await bob.context.close();
});

test('[OFFLINE-3] two tabs of one user: a message appears in the other tab at once, also offline, and is never doubled', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	const second = await alice.context.newPage();
	await second.goto(`/c/${id}`);
	await expect(second.getByTestId('connection')).toHaveText(/Online/);

	await send(alice.page, 'seen in both tabs');
	await expect(messageWithText(second, 'seen in both tabs')).toBeVisible();

	await alice.context.setOffline(true);
	await send(second, 'written offline in tab two');
	await expect(messageWithText(alice.page, 'written offline in tab two')).toBeVisible();
	await alice.context.setOffline(false);

	await bob.page.goto(`/c/${id}`);
	await expect(messageWithText(bob.page, 'written offline in tab two')).toBeVisible();
	await expect(messageWithText(alice.page, 'written offline in tab two')).toHaveAttribute('data-delivery', 'sent');
	for (const page of [alice.page, second, bob.page]) {
		await expect.poll(() => bodies(page)).toEqual(['seen in both tabs', 'written offline in tab two']);
	}
	await alice.context.close();
	await bob.context.close();
});
