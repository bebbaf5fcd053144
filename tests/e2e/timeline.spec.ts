import { expect, test } from '@playwright/test';
import * as Y from 'yjs';
import { api, createAccount, createConversation } from '../utils/server.ts';
import { listRow, messageWithText, plantLocalUpdate, send, serveApp, signUp, startDirect } from './helpers.ts';
import { accountOf, writeMessages } from './timeline-setup.ts';

const app = serveApp();

test('[VIEW-4] server-written lines show as centred words in the timeline and in the list, with no ticks and nothing to edit', async ({ browser }) => {
	const bobPerson = await signUp(browser, app.url, 'bob');
	const bob = await accountOf(app.url, bobPerson);
	const [alice, carol, dan] = [await createAccount(app.url), await createAccount(app.url), await createAccount(app.url)];
	const id = await createConversation(app.url, alice, [bob, carol], 'Trip');
	await writeMessages(app.url, app.server.wsUrl, id, alice, ['Who is coming?'], Date.now() - 1000);
	const page = bobPerson.page;
	await page.goto(`/c/${id}`);
	await expect(messageWithText(page, 'Who is coming?')).toBeVisible();

	const as = (token: string, method: string, path: string, body?: unknown) => api(app.url, `/api/conversations/${id}${path}`, { method, token, body });
	expect((await as(alice.token, 'POST', '/members', { members: [dan.username] })).status).toBe(200);
	const lines = page.getByTestId('messages').locator('.system');
	await expect(lines).toHaveText([`${alice.username} added ${dan.username}`]);
	expect((await as(alice.token, 'PATCH', '', { title: 'Ski trip' })).status).toBe(200);
	expect((await as(alice.token, 'DELETE', `/members/${carol.username}`)).status).toBe(204);
	expect((await as(dan.token, 'DELETE', `/members/${dan.username}`)).status).toBe(204);
	await expect(lines).toHaveText([
		`${alice.username} added ${dan.username}`,
		`${alice.username} renamed the group to “Ski trip”`,
		`${alice.username} removed ${carol.username}`,
		`${dan.username} left`
	]);
	// Lines are not messages: no bubble, no ticks, no buttons, nothing editable; centred in the timeline.
	await expect(page.getByTestId('messages').locator('.message')).toHaveCount(1);
	await expect(lines.locator('.tick, button, [contenteditable]')).toHaveCount(0);
	const timeline = (await page.getByTestId('messages').boundingBox())!;
	for (const line of await lines.all()) {
		const box = (await line.locator('span').boundingBox())!;
		expect(Math.abs(box.x + box.width / 2 - (timeline.x + timeline.width / 2))).toBeLessThan(12);
	}
	await expect(page.getByRole('heading', { level: 1 })).toHaveText('Ski trip');
	await expect(listRow(page, 'Ski trip')).toContainText(`${dan.username} left`);
	await bobPerson.context.close();
});

test('[VIEW-5] a removed member keeps the title and names, and reads why they cannot send instead of a composer', async ({ browser }) => {
	const bobPerson = await signUp(browser, app.url, 'bob');
	const bob = await accountOf(app.url, bobPerson);
	const alice = await createAccount(app.url);
	const id = await createConversation(app.url, alice, [bob], 'Book club');
	await writeMessages(app.url, app.server.wsUrl, id, alice, ['See you Thursday'], Date.now() - 1000);
	const page = bobPerson.page;
	await page.goto(`/c/${id}`);
	await expect(messageWithText(page, 'See you Thursday')).toBeVisible();
	await expect(page.getByLabel('Message', { exact: true })).toBeVisible();

	await api(app.url, `/api/conversations/${id}/members/${bob.username}`, { method: 'DELETE', token: alice.token });
	const notice = page.getByTestId('not-a-member');
	for (const reload of [false, true]) {
		if (reload) await page.reload();
		await expect(notice).toHaveText('You can’t send messages to this group because you’re no longer a member.');
		await expect(page.getByLabel('Message', { exact: true })).toHaveCount(0);
		await expect(page.getByRole('heading', { level: 1 })).toHaveText('Book club');
		await expect(page.getByTestId('messages').locator('.author')).toHaveText([alice.username]);
		await expect(messageWithText(page, 'See you Thursday')).toBeVisible();
	}
	await bobPerson.context.close();
});

test('[VIEW-5] "Mark as unread" on the open chat closes it, and the list shows it unread (as WhatsApp Web does)', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'read me later');
	const row = listRow(bob.page, alice.username);
	await expect(row.getByTestId('unread')).toHaveText('1');
	await row.click();
	await bob.page.waitForURL(`**/c/${id}`);
	await expect(messageWithText(bob.page, 'read me later')).toBeVisible();
	await expect(row.getByTestId('unread')).toHaveCount(0);

	await row.hover();
	await bob.page.getByRole('button', { name: /Mark .* as unread/ }).click();
	await bob.page.waitForURL((url) => url.pathname === '/');
	await expect(row.getByTestId('unread')).toHaveText('1');
	await bob.page.waitForTimeout(500);
	await expect(row.getByTestId('unread')).toHaveText('1');
	await alice.context.close();
	await bob.context.close();
});

test('[VIEW-5] a message the server refuses says why in plain words, never a protocol code', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await expect(alice.page.getByTestId('connection')).toHaveText(/Online/);
	const me = await alice.page.evaluate(() => (JSON.parse(localStorage.getItem('chat:me')!) as { id: string }).id);

	// A message this device holds that breaks the protocol (an untrimmed body, as a faulty client might write).
	const doc = new Y.Doc();
	const badId = '01JD00000000000000000000YY';
	doc.getMap('messages').set(badId, { id: badId, author: me, body: '  padded  ', createdAt: Date.now() });
	const update = Array.from(Y.encodeStateAsUpdate(doc));
	await alice.context.setOffline(true);
	await plantLocalUpdate(alice.page, `chat:${me}:doc:${id}`, update);
	await alice.page.reload();
	await alice.context.setOffline(false);

	const failed = alice.page.locator(`[data-id="${badId}"]`);
	await expect(failed).toHaveAttribute('data-delivery', 'failed');
	await expect(failed.getByRole('alert')).toContainText('Not sent because of a problem on this device. Try again.');
	await expect(failed.getByRole('alert')).not.toContainText(/trim|invalid-message|update|struct/i);
	await expect(failed.getByLabel('Not sent').locator('svg[data-kind="failed"]')).toBeVisible();
	await alice.context.close();
	await bob.context.close();
});
