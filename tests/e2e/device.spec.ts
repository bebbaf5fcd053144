import { expect, test } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import * as Y from 'yjs';
import { api, createAccount } from '../utils/server.ts';
import { bodies, messageWithText, plantLocalUpdate, send, serveApp, signUp, startDirect } from './helpers.ts';

const app = serveApp();

test('[OFFLINE-4] a message refused on reconnect shows as failed with the reason, and can be retried or deleted', async ({ browser }) => {
	const owner = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const created = await api<{ conversation: { id: string } }>(app.url, '/api/conversations', {
		token: owner.token,
		body: { kind: 'group', title: 'Study group', members: [alice.username] }
	});
	const id = created.body.conversation.id;
	await alice.page.goto(`/c/${id}`);
	await expect(alice.page.getByTestId('connection')).toHaveText(/Online/);

	await alice.context.setOffline(true);
	await send(alice.page, 'written before I was removed');
	await api(app.url, `/api/conversations/${id}/members/${alice.username}`, { method: 'DELETE', token: owner.token });
	await alice.context.setOffline(false);

	const failed = messageWithText(alice.page, 'written before I was removed');
	await expect(failed).toHaveAttribute('data-delivery', 'failed');
	await expect(failed.getByRole('alert')).toContainText('no longer a member');
	await expect(failed.getByRole('button', { name: 'Retry' })).toBeVisible();
	await expect(failed.getByRole('button', { name: 'Delete' })).toBeVisible();
	const history = await api<{ messages: { body: string; event: unknown }[] }>(app.url, `/api/conversations/${id}/messages`, { token: owner.token });
	expect(history.body.messages.filter((message) => !message.event)).toEqual([]);
	await failed.getByRole('button', { name: 'Delete' }).click();
	await expect(failed).toHaveCount(0);
	await alice.page.reload();
	await expect(alice.page.getByText('no longer a member')).toBeVisible();
	await expect(failed).toHaveCount(0);
	await alice.context.close();
});

test('[OFFLINE-4] an update the server refuses (from a bad local state) fails with its reason; other unsent messages still go', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await expect(alice.page.getByTestId('connection')).toHaveText(/Online/);
	const me = await alice.page.evaluate(() => (JSON.parse(localStorage.getItem('chat:me')!) as { id: string }).id);

	// A message this device holds but the server will refuse: over the limit (as an old client might have written).
	const tooLong = new Y.Doc();
	const badId = '01JD00000000000000000000ZZ';
	tooLong.getMap('messages').set(badId, { id: badId, author: me, body: 'x'.repeat(2001), createdAt: Date.now() });
	const update = Array.from(Y.encodeStateAsUpdate(tooLong));

	await alice.context.setOffline(true);
	await send(alice.page, 'still mine');
	await plantLocalUpdate(alice.page, `chat:${me}:doc:${id}`, update);
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'still mine')).toHaveAttribute('data-delivery', 'sending');

	await alice.context.setOffline(false);
	const failed = alice.page.locator(`[data-id="${badId}"]`);
	await expect(failed).toHaveAttribute('data-delivery', 'failed');
	await expect(failed.getByRole('alert')).toContainText('longer than 2000');
	await expect(messageWithText(alice.page, 'still mine')).toHaveAttribute('data-delivery', 'sent');
	await bob.page.goto(`/c/${id}`);
	await expect(messageWithText(bob.page, 'still mine')).toBeVisible();
	await expect(bob.page.locator(`[data-id="${badId}"]`)).toHaveCount(0);

	// Deleting it removes it for good, also after a reload.
	await failed.getByRole('button', { name: 'Delete' }).click();
	await expect(failed).toHaveCount(0);
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'still mine')).toBeVisible();
	await expect(failed).toHaveCount(0);
	await alice.context.close();
	await bob.context.close();
});

test('the connection indicator shows offline, but not for a brief blip', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const indicator = alice.page.getByTestId('connection');
	await expect(indicator).toHaveText(/Online/);
	await alice.page.evaluate(() => {
		const seen: string[] = [];
		(window as unknown as { seen: string[] }).seen = seen;
		const node = document.querySelector('[data-testid="connection"]')!;
		new MutationObserver(() => seen.push(node.textContent ?? '')).observe(node, { subtree: true, characterData: true, childList: true });
	});
	await alice.context.setOffline(true);
	await alice.page.waitForTimeout(400);
	await alice.context.setOffline(false);
	await alice.page.waitForTimeout(2500);
	await expect(indicator).toHaveText(/Online/);
	expect(await alice.page.evaluate(() => (window as unknown as { seen: string[] }).seen.filter((t) => !t.includes('Online')))).toEqual([]);

	await alice.context.setOffline(true);
	await expect(indicator).toHaveText(/Offline/);
	await alice.context.setOffline(false);
	await expect(indicator).toHaveText(/Online/);
	await alice.context.close();
});

test('[OFFLINE-5] logging out wipes this account’s data from the device', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	await startDirect(alice.page, bob.username);
	await send(alice.page, 'private words');
	await expect(messageWithText(alice.page, 'private words')).toHaveAttribute('data-delivery', 'sent');
	const stored = () =>
		alice.page.evaluate(async () => ({
			databases: ((await indexedDB.databases()) ?? []).map((db) => db.name).filter((name) => name?.startsWith('chat:')),
			keys: Object.keys(localStorage).filter((key) => key.startsWith('chat:'))
		}));
	expect((await stored()).databases.length).toBeGreaterThan(0);
	await alice.page.getByRole('button', { name: 'Log out' }).click();
	await alice.page.waitForURL(/\/login$/);
	await expect(async () => expect(await stored()).toEqual({ databases: [], keys: [] })).toPass();
	await alice.context.close();
	await bob.context.close();
});

test('screenshots of the list and the conversation at phone and desktop widths', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	for (const text of ['Are you at the library?', 'Basement, room B2. Wi-Fi is terrible here 😅', 'On my way']) await send(alice.page, text);
	await bob.page.goto(`/c/${id}`);
	await send(bob.page, 'See you in five');
	await expect(messageWithText(alice.page, 'See you in five')).toBeVisible();
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'See you in five')).toBeVisible();
	await expect.poll(() => bodies(alice.page)).toHaveLength(4);

	const dir = 'test-results/screenshots';
	mkdirSync(dir, { recursive: true });
	for (const [width, height, label] of [
		[390, 844, 'phone'],
		[1280, 800, 'desktop']
	] as const) {
		await alice.page.setViewportSize({ width, height });
		await alice.page.goto(`/c/${id}`);
		await expect(messageWithText(alice.page, 'See you in five')).toBeVisible();
		await alice.page.screenshot({ path: `${dir}/conversation-${label}.png` });
		await alice.page.goto('/');
		await expect(alice.page.getByRole('link', { name: new RegExp(bob.username) })).toBeVisible();
		await alice.page.screenshot({ path: `${dir}/list-${label}.png` });
	}
	await alice.page.emulateMedia({ colorScheme: 'dark' });
	await alice.page.goto(`/c/${id}`);
	await expect(messageWithText(alice.page, 'See you in five')).toBeVisible();
	await alice.page.screenshot({ path: `${dir}/conversation-desktop-dark.png` });
	await alice.context.close();
	await bob.context.close();
});

test('first-load JavaScript is measured (gzip) for the login page and the signed-in app', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const cookies = await alice.context.cookies();
	await alice.context.close();
	const report: Record<string, { totalGzipBytes: number; files: Record<string, number> }> = {};
	for (const [label, path, ready, signedIn] of [
		['login', '/login', 'Log in', false],
		['app', '/', 'New conversation', true]
	] as const) {
		// A fresh profile each time: nothing cached, no service worker yet.
		const context = await browser.newContext({ baseURL: app.url, serviceWorkers: 'block' });
		if (signedIn) await context.addCookies(cookies);
		const page = await context.newPage();
		const scripts = new Map<string, number>();
		page.on('response', async (response) => {
			if (response.request().resourceType() !== 'script') return;
			const body = await response.body().catch(() => null);
			if (body) scripts.set(new URL(response.url()).pathname, gzipSync(body).length);
		});
		await page.goto(path);
		await expect(page.getByRole('button', { name: ready })).toBeVisible();
		await page.waitForLoadState('networkidle');
		const total = [...scripts.values()].reduce((sum, size) => sum + size, 0);
		report[label] = { totalGzipBytes: total, files: Object.fromEntries(scripts) };
		console.log(`first-load JavaScript, ${label}: ${(total / 1024).toFixed(1)} KiB gzip in ${scripts.size} files`);
		expect(total).toBeGreaterThan(0);
		await context.close();
	}
	mkdirSync('test-results', { recursive: true });
	writeFileSync('test-results/first-load-js.json', JSON.stringify(report, null, 2));
});
