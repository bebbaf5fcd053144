import { expect, test } from '@playwright/test';
import { api, createAccount } from '../utils/server.ts';
import { messageWithText, serveApp, signUp, startDirect } from './helpers.ts';

const app = serveApp();

test('[SEARCH-2] searching finds messages online and, offline, what the device holds; a result opens its message highlighted', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	const say = (body: string) => api(app.url, `/api/conversations/${id}/messages`, { token: bob.token, body: { body } });
	await say('the party address is 4 Elm Street');
	for (let i = 0; i < 60; i++) await say(`chatter ${i}`);
	await say('bring pizza, not sushi');
	await expect(messageWithText(alice.page, 'bring pizza, not sushi')).toBeVisible();

	const field = alice.page.getByLabel('Search conversations');
	const hits = alice.page.getByTestId('search-hit');
	// Online: the server's index, with the matched word marked.
	await field.fill('addre');
	await expect(hits).toHaveCount(1);
	await expect(hits.first().locator('mark')).toHaveText('address');
	await hits.first().click();
	const found = messageWithText(alice.page, 'the party address is 4 Elm Street');
	await expect(found).toBeInViewport();
	await expect(found).toHaveClass(/highlighted/);

	// Offline: what this device holds (the message was on screen), the same way.
	await alice.context.setOffline(true);
	await field.fill('pizza');
	await expect(alice.page.getByText('on this device')).toBeVisible();
	await expect(hits).toHaveCount(1);
	await expect(hits.first().locator('mark')).toHaveText('pizza');
	await field.fill('address elm');
	await expect(hits).toHaveCount(1);
	await field.fill('nothing like this');
	await expect(alice.page.getByText('No message matches.')).toBeVisible();
	await alice.context.close();
});
