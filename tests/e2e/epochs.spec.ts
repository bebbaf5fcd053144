import { expect, test, type Page } from '@playwright/test';
import { api, createAccount } from '../utils/server.ts';
import { deleteForEveryone, messagesMap } from '../../src/lib/shared/conversation-doc.ts';
import { EpochClient } from '../utils/epoch-client.ts';
import { bodies, deviceHolds, listRow, messages, messageWithText, send, serveApp, signUp, startDirect } from './helpers.ts';

// Epochs of 10 messages that end as soon as they are full, so a short conversation crosses several.
const app = serveApp({ EPOCH_MESSAGES: '10', EPOCH_QUIET_MS: '0' });

type History = { messages: Array<{ id: string; seq: number; body: string }> };

async function sendAs(token: string, conversationId: string, bodies: string[]): Promise<void> {
	for (const body of bodies) {
		const sent = await api(app.url, `/api/conversations/${conversationId}/messages`, { token, body: { body } });
		expect(sent.status).toBe(201);
	}
}

test('[EPOCH-3] [OFFLINE-8] messages written offline while the conversation crossed epochs are delivered once, after the others, and shown in one order', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	await expect(alice.page.getByTestId('connection')).toHaveText(/Online/);
	await send(alice.page, 'before the lift');
	await expect(messageWithText(alice.page, 'before the lift')).toHaveAttribute('data-delivery', 'sent');

	await alice.context.setOffline(true);
	await send(alice.page, 'in the lift');
	await send(alice.page, 'still in the lift');
	const meanwhile = Array.from({ length: 25 }, (_, i) => `bob ${i}`);
	await sendAs(bob.token, id, meanwhile);
	await alice.context.setOffline(false);

	await expect(messageWithText(alice.page, 'still in the lift')).toHaveAttribute('data-delivery', 'sent');
	await expect(messageWithText(alice.page, 'in the lift')).toHaveAttribute('data-delivery', 'sent');
	const expected = ['before the lift', ...meanwhile, 'in the lift', 'still in the lift'];
	const stored = await api<History>(app.url, `/api/conversations/${id}/messages?limit=200`, { token: bob.token });
	expect(stored.body.messages.map((m) => m.body)).toEqual(expected);
	await expect.poll(() => bodies(alice.page)).toEqual(expected);

	// The epoch moved on: offline, a reload shows the same timeline from this device alone.
	await alice.context.setOffline(true);
	await alice.page.reload();
	await expect.poll(() => bodies(alice.page)).toEqual(expected);
	await alice.context.close();
});

test('[OFFLINE-8] a long conversation opens on its last messages and pages older history in as the reader scrolls up, also offline once seen', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	const all = Array.from({ length: 140 }, (_, i) => `message ${i}`);
	await sendAs(bob.token, id, all);
	const epoch = (await api<{ conversation: { epoch: number } }>(app.url, `/api/conversations/${id}`, { token: bob.token })).body.conversation.epoch;
	expect(epoch).toBeGreaterThanOrEqual(13);

	await alice.page.reload();
	await expect(messageWithText(alice.page, 'message 139')).toBeVisible();
	// The first screen holds a page of history, not the whole of it.
	expect((await bodies(alice.page)).length).toBeLessThanOrEqual(60);

	const scroller = alice.page.getByTestId('messages');
	const scrollUpUntil = async (text: string) => {
		await expect
			.poll(
				async () => {
					await scroller.evaluate((node) => (node.scrollTop = 0));
					return (await bodies(alice.page)).includes(text);
				},
				{ timeout: 20_000 }
			)
			.toBe(true);
	};
	await scrollUpUntil('message 0');
	await expect(alice.page.getByText('Older messages load as you scroll up')).toHaveCount(0);

	await alice.context.setOffline(true);
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'message 139')).toBeVisible();
	await scrollUpUntil('message 0');
	// Every message once, in order, wherever the window is.
	const shown = await messages(alice.page).locator('.body').allTextContents();
	expect(shown).toEqual(all.slice(all.indexOf(shown[0]!), all.indexOf(shown[0]!) + shown.length));
	await alice.context.close();
});

test('[OFFLINE-8] [ERASE-6] an old page shown from the device\'s cache shows the edits and deletions made since in later epochs', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	const all = Array.from({ length: 140 }, (_, i) => `message ${i}`);
	await sendAs(bob.token, id, all);
	await alice.page.reload();
	const scrollUpUntil = async (page: Page, check: (shown: string[]) => boolean) => {
		await expect
			.poll(
				async () => {
					await page.getByTestId('messages').evaluate((node) => (node.scrollTop = 0));
					return check(await bodies(page));
				},
				{ timeout: 20_000 }
			)
			.toBe(true);
	};
	await scrollUpUntil(alice.page, (shown) => shown.includes('message 0'));
	await alice.page.close();

	// Away, bob edits one old message and deletes another, through the current epoch; then more epochs end.
	type Row = { id: string; body: string; createdAt: number };
	const rows = (await api<{ messages: Row[] }>(app.url, `/api/conversations/${id}/messages?limit=200`, { token: bob.token })).body.messages;
	const edited = rows.find((m) => m.body === 'message 3')!;
	const deleted = rows.find((m) => m.body === 'message 5')!;
	const epoch = (await api<{ conversation: { epoch: number } }>(app.url, `/api/conversations/${id}`, { token: bob.token })).body.conversation.epoch;
	const device = new EpochClient(app.url, app.server.wsUrl, id, bob, epoch);
	device.connect();
	device.doc.transact(() => {
		messagesMap(device.doc).set(edited.id, { author: bob.id, body: 'message 3, edited', createdAt: edited.createdAt, editedAt: Date.now() });
		messagesMap(device.doc).set(deleted.id, { author: bob.id, body: '', createdAt: deleted.createdAt, deletedAt: Date.now() });
	});
	await device.whenAcked([edited.id, deleted.id]);
	await sendAs(bob.token, id, Array.from({ length: 25 }, (_, i) => `later ${i}`));
	device.destroy();

	const page = await alice.context.newPage();
	await page.goto(`/c/${id}`);
	await expect(messageWithText(page, 'later 24')).toBeVisible();
	await scrollUpUntil(page, (shown) => shown.includes('message 0') && shown.includes('message 3, edited'));
	expect(await bodies(page)).not.toContain('message 3');
	await expect(messageWithText(page, 'message 5')).toHaveCount(0);
	await expect(page.getByTestId('deleted-message')).toHaveCount(1);
	await alice.context.close();
});

test('[EPOCH-3] messages written offline survive a reload and are carried into an epoch the app learns of before it opens the conversation again', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'hello');
	await expect(messageWithText(alice.page, 'hello')).toHaveAttribute('data-delivery', 'sent');

	await alice.context.setOffline(true);
	await send(alice.page, 'written offline');
	await expect(messageWithText(alice.page, 'written offline')).toHaveAttribute('data-delivery', 'sending');
	await alice.page.goto('/');
	await sendAs(bob.token, id, Array.from({ length: 30 }, (_, i) => `bob ${i}`));
	await alice.context.setOffline(false);
	// The conversation list learns of the new epoch first.
	await expect(listRow(alice.page, bob.username)).toContainText('bob 29');
	await alice.page.goto(`/c/${id}`);

	await expect(messageWithText(alice.page, 'written offline')).toHaveAttribute('data-delivery', 'sent');
	const stored = await api<History>(app.url, `/api/conversations/${id}/messages?limit=200`, { token: bob.token });
	expect(stored.body.messages.map((m) => m.body)).toEqual(['hello', ...Array.from({ length: 30 }, (_, i) => `bob ${i}`), 'written offline']);
	await expect.poll(() => bodies(alice.page)).toEqual(stored.body.messages.map((m) => m.body));
	await alice.context.close();
});

test('[EPOCH-3] [ERASE-4] an edit and a deletion made offline reach the server after the epoch ended, and so do edits of messages from ended epochs', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	await expect(alice.page.getByTestId('connection')).toHaveText(/Online/);
	await send(alice.page, 'lunch at noon');
	await send(alice.page, 'sent to the wrong chat');
	await expect(messageWithText(alice.page, 'sent to the wrong chat')).toHaveAttribute('data-delivery', 'sent');

	const editAndDelete = async (from: string, to: string, gone: string) => {
		const edited = messageWithText(alice.page, from);
		await edited.hover();
		await edited.getByRole('button', { name: 'Edit message' }).click();
		await alice.page.getByLabel('Message', { exact: true }).fill(to);
		await alice.page.getByLabel('Message', { exact: true }).press('Enter');
		const deleted = messageWithText(alice.page, gone);
		await deleted.hover();
		await deleted.getByRole('button', { name: 'Delete message' }).click();
		await alice.page.getByRole('button', { name: 'Delete for everyone' }).click();
	};
	type Row = History['messages'][number] & { deletedAt: number | null; editedAt: number | null };
	const stored = async () => (await api<{ messages: Row[] }>(app.url, `/api/conversations/${id}/messages?limit=200`, { token: bob.token })).body.messages;

	// Offline, in the epoch the messages were written in; the epoch ends meanwhile.
	await alice.context.setOffline(true);
	await editAndDelete('lunch at noon', 'lunch at one', 'sent to the wrong chat');
	await sendAs(bob.token, id, Array.from({ length: 12 }, (_, i) => `bob ${i}`));
	await alice.context.setOffline(false);
	await expect.poll(async () => (await stored()).find((m) => m.body === 'lunch at one')?.editedAt ?? null).not.toBeNull();
	await expect.poll(async () => (await stored())[1]?.deletedAt ?? null).not.toBeNull();
	expect((await stored()).map((m) => m.body).slice(0, 2)).toEqual(['lunch at one', '']);

	// Online, on messages the device now holds only as history (their epoch ended).
	await sendAs(bob.token, id, Array.from({ length: 12 }, (_, i) => `bob again ${i}`));
	await expect(messageWithText(alice.page, 'bob again 11')).toBeVisible();
	await send(alice.page, 'old news');
	await expect(messageWithText(alice.page, 'old news')).toHaveAttribute('data-delivery', 'sent');
	await send(alice.page, 'old mistake');
	await expect(messageWithText(alice.page, 'old mistake')).toHaveAttribute('data-delivery', 'sent');
	await sendAs(bob.token, id, Array.from({ length: 12 }, (_, i) => `bob last ${i}`));
	await expect(messageWithText(alice.page, 'bob last 11')).toBeVisible();
	await editAndDelete('old news', 'news', 'old mistake');
	await expect.poll(async () => (await stored()).find((m) => m.body === 'news')?.editedAt ?? null).not.toBeNull();
	await expect.poll(async () => (await stored()).filter((m) => m.deletedAt !== null).length).toBe(2);
	expect((await stored()).some((m) => m.body === 'old mistake')).toBe(false);
	// Both keep their places in the timeline.
	const order = await bodies(alice.page);
	expect(order.indexOf('news')).toBeLessThan(order.indexOf('bob last 0'));
	await expect(messages(alice.page).filter({ has: alice.page.getByTestId('deleted-message') })).toHaveCount(2);
	await alice.context.close();
});

test('[EPOCH-3] [ERASE-4] a device away while a message was deleted and its epoch ended shows the deletion and keeps no body', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	const device = new EpochClient(app.url, app.server.wsUrl, id, bob);
	device.connect();
	const secret = `sent to the wrong chat ${Date.now()}`;
	const messageId = device.send(secret);
	await device.whenAcked([messageId]);
	await expect(messageWithText(alice.page, secret)).toBeVisible();
	await expect.poll(() => deviceHolds(alice.page, secret)).toBe(true);

	await alice.context.setOffline(true);
	deleteForEveryone(device.doc, messageId);
	const rows = async () => (await api<{ messages: Array<{ id: string; deletedAt: number | null }> }>(app.url, `/api/conversations/${id}/messages?limit=200`, { token: bob.token })).body.messages;
	await expect.poll(async () => (await rows()).find((m) => m.id === messageId)?.deletedAt ?? null).not.toBeNull();
	await sendAs(bob.token, id, Array.from({ length: 12 }, (_, i) => `later ${i}`));
	await alice.context.setOffline(false);

	await expect(messageWithText(alice.page, 'later 11')).toBeVisible();
	await expect(alice.page.getByTestId('deleted-message')).toHaveText('This message was deleted');
	await expect(messageWithText(alice.page, secret)).toHaveCount(0);
	await expect.poll(() => deviceHolds(alice.page, secret), { timeout: 10_000 }).toBe(false);
	device.destroy();
	await alice.context.close();
});

test('[EPOCH-5] a device online while epochs end one after another follows them on its socket: it never reconnects', async ({ browser }) => {
	const bob = await createAccount(app.url);
	const alice = await signUp(browser, app.url, 'alice');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'hello');
	await expect(messageWithText(alice.page, 'hello')).toHaveAttribute('data-delivery', 'sent');

	const sockets: string[] = [];
	alice.page.on('websocket', (ws) => sockets.push(ws.url()));
	// Back to back: the device may still be moving to an epoch when its close, or the next epoch's
	// end, arrives; that is when it used to look the epoch up and reconnect its socket. It depends on
	// timing, so this catches the old behaviour only in some runs. (An epoch that ended before the
	// device reached it is refused at opening and looked up by design: lookups may happen.)
	const meanwhile = Array.from({ length: 35 }, (_, i) => `bob ${i}`);
	await sendAs(bob.token, id, meanwhile);
	await expect.poll(() => bodies(alice.page)).toEqual(['hello', ...meanwhile]);
	await send(alice.page, 'after three epochs');
	await expect(messageWithText(alice.page, 'after three epochs')).toHaveAttribute('data-delivery', 'sent');
	// Long enough for a reconnect the app would have scheduled (it waits 200 ms).
	await alice.page.waitForTimeout(1000);
	const epoch = (await api<{ conversation: { epoch: number } }>(app.url, `/api/conversations/${id}`, { token: bob.token })).body.conversation.epoch;
	expect(epoch).toBeGreaterThanOrEqual(3);
	expect(sockets).toEqual([]);
	await alice.context.close();
});
