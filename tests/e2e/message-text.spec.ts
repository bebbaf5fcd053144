import { expect, test } from '@playwright/test';
import { api, createAccount } from '../utils/server.ts';
import { messageWithText, serveApp, signUp, startDirect } from './helpers.ts';

const app = serveApp();

test('[VIEW-7] links open safely in a new tab, right-to-left text aligns right, long words wrap, and a few emoji show large', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	const say = (body: string) => api(app.url, `/api/conversations/${id}/messages`, { token: bob.token, body: { body } });
	await say('notes at https://campus.example/notes?week=3. and javascript:alert(1)');
	await say('مرحبا، هل أنت قادم؟');
	await say('x'.repeat(300));
	await say('🎉🎉');

	const link = messageWithText(alice.page, 'notes at https://campus.example/notes?week=3. and javascript:alert(1)').getByRole('link');
	await expect(link).toHaveCount(1);
	await expect(link).toHaveAttribute('href', 'https://campus.example/notes?week=3');
	await expect(link).toHaveAttribute('rel', 'noopener noreferrer');
	await expect(link).toHaveAttribute('target', '_blank');

	const arabic = messageWithText(alice.page, 'مرحبا، هل أنت قادم؟').locator('.body');
	expect(await arabic.evaluate((node) => getComputedStyle(node).direction)).toBe('rtl');

	const long = messageWithText(alice.page, 'x'.repeat(300)).locator('.body');
	expect(await long.evaluate((node) => node.scrollWidth <= node.clientWidth + 1)).toBe(true);

	const party = messageWithText(alice.page, '🎉🎉').locator('.body');
	const size = (locator: typeof party) => locator.evaluate((node) => parseFloat(getComputedStyle(node).fontSize));
	expect(await size(party)).toBeGreaterThan((await size(arabic)) * 1.8);
	await alice.context.close();
});
