import { expect, test } from '@playwright/test';
import { startTestServer, tempDataDir, uniqueName, type TestServer } from '../utils/server.ts';

// A server of its own: one process holds one app runtime, and this one allows two searches a minute.
const data = tempDataDir();
let server: TestServer | undefined;
test.beforeAll(async () => {
	server = await startTestServer(data.dir, { LIMIT_PEOPLE_SEARCH: '2/m' });
});
test.afterAll(async () => {
	await server?.close();
	data.remove();
});

test('[PEOPLE-1] too many searches: the people search says to wait, in plain words', async ({ browser }) => {
	const context = await browser.newContext({ baseURL: server!.url });
	const response = await context.request.post('/api/auth/signup', { data: { username: uniqueName('carol').toLowerCase(), password: 'correct horse battery' } });
	expect(response.status()).toBe(201);
	const page = await context.newPage();
	await page.goto('/');
	await page.getByRole('button', { name: 'New conversation' }).click();
	const search = page.getByLabel('Name or username');
	for (const q of ['ab', 'abc']) {
		await search.fill(q);
		await expect(page.getByText(`Nobody found for “${q}”.`)).toBeVisible();
	}
	await search.fill('abcd');
	await expect(page.getByRole('status').filter({ hasText: /^You searched a lot in a short time\. Try again in \d+ seconds\.$/ })).toBeVisible();
	await expect(page.getByText(/rate-limited|Too Many Requests/)).toHaveCount(0);
	await context.close();
});
