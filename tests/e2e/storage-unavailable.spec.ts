import { expect, test, type Browser, type Page } from '@playwright/test';
import sharp from 'sharp';
import { deleteMessage, editMessage, messages, messageWithText, send, serveApp, signUp, startDirect } from './helpers.ts';

const app = serveApp();

/** Signs up in a browser profile whose pages get no IndexedDB. */
const signUpWithoutIndexedDb = (browser: Browser, name: string) => signUp(browser, app.url, name, { withoutIndexedDb: true });

/** The messages the page shows, by their first line, leaving out deleted ones. */
async function shownTexts(page: Page): Promise<string[]> {
	const texts = await messages(page).allInnerTexts();
	return texts.map((text) => text.split('\n')[0] ?? '').filter((text) => !text.startsWith('This message was deleted'));
}

for (const [how, withoutIndexedDb] of [['refuses', true], ['never answers', 'never-answers']] as const) {
	test(`[OFFLINE-10] where IndexedDB ${how}, a conversation opens, says so, and sends and receives text and a photo`, async ({ browser }) => {
		const alice = await signUp(browser, app.url, 'alice', { withoutIndexedDb });
		const bob = await signUp(browser, app.url, 'bob');
		const id = await startDirect(alice.page, bob.username);
		await expect(alice.page.getByTestId('no-storage')).toBeVisible();
		await send(alice.page, 'hello without storage');
		await expect(messageWithText(alice.page, 'hello without storage')).toHaveAttribute('data-delivery', 'sent');

		await bob.page.goto(`/c/${id}`);
		await expect(messageWithText(bob.page, 'hello without storage')).toBeVisible();
		await expect(bob.page.getByTestId('no-storage')).toHaveCount(0);
		await send(bob.page, 'reply');
		await expect(messageWithText(alice.page, 'reply')).toBeVisible();

		const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#3a7' } }).jpeg().toBuffer();
		await alice.page.getByTestId('file-input').setInputFiles([{ name: 'notes.jpg', mimeType: 'image/jpeg', buffer: photo }]);
		await alice.page.getByLabel('Message', { exact: true }).fill('a photo');
		await alice.page.getByLabel('Message', { exact: true }).press('Enter');
		await expect(messageWithText(alice.page, 'a photo')).toHaveAttribute('data-delivery', 'sent', { timeout: 15_000 });
		await expect(messageWithText(bob.page, 'a photo').getByTestId('thumbnail')).toBeVisible();

		// A reload opens the conversation from the server.
		await alice.page.reload();
		await expect(messages(alice.page)).toHaveCount(3);
		await alice.context.close();
		await bob.context.close();
	});
}

test('[OFFLINE-10] without IndexedDB, messages written offline survive a reload and are delivered once, in order, on reconnect', async ({ browser }) => {
	const alice = await signUpWithoutIndexedDb(browser, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'online first');
	await expect(messageWithText(alice.page, 'online first')).toHaveAttribute('data-delivery', 'sent');

	await alice.context.setOffline(true);
	await send(alice.page, 'offline one');
	await send(alice.page, 'offline two');
	await expect(messageWithText(alice.page, 'offline two')).toHaveAttribute('data-delivery', 'sending');
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'offline one')).toHaveAttribute('data-delivery', 'sending');
	await send(alice.page, 'offline three');
	await expect(messageWithText(alice.page, 'offline three')).toHaveAttribute('data-delivery', 'sending');
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'offline three')).toHaveAttribute('data-delivery', 'sending');

	await alice.context.setOffline(false);
	for (const text of ['offline one', 'offline two', 'offline three']) {
		await expect(messageWithText(alice.page, text)).toHaveAttribute('data-delivery', 'sent', { timeout: 15_000 });
	}
	await bob.page.goto(`/c/${id}`);
	await expect.poll(() => shownTexts(bob.page)).toEqual(['online first', 'offline one', 'offline two', 'offline three']);

	// Acknowledged messages leave localStorage: another reload shows each once.
	await alice.page.reload();
	await expect(messages(alice.page)).toHaveCount(4);
	expect(await alice.page.evaluate((key) => Object.keys(localStorage).filter((k) => k.includes('rewrite:') && k.endsWith(key) && localStorage.getItem(k) !== '[]'), id)).toEqual([]);
	await alice.context.close();
	await bob.context.close();
});

test('[OFFLINE-10] without IndexedDB, two tabs offline share what each carried in: an edit or a deletion made in either is the one delivered', async ({ browser }) => {
	const alice = await signUpWithoutIndexedDb(browser, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await bob.page.goto(`/c/${id}`);
	const expected: string[] = [];
	for (let round = 0; round < 4; round++) {
		await alice.context.setOffline(true);
		const first = round % 2 === 0 ? alice.page : await alice.context.newPage();
		if (first !== alice.page) await first.goto(`/c/${id}`);
		await send(first, `written ${round}`);
		await expect(messageWithText(first, `written ${round}`)).toHaveAttribute('data-delivery', 'sending');
		// A second tab starts offline: it carries the unsent message in from localStorage under its own clientID.
		const second = await alice.context.newPage();
		await second.goto(`/c/${id}`);
		await expect(messageWithText(second, `written ${round}`)).toHaveAttribute('data-delivery', 'sending');
		const [changer, other] = round < 2 ? [second, first] : [first, second];
		if (round % 2 === 0) {
			await editMessage(changer, `written ${round}`, `edited ${round}`);
			await expect(messageWithText(other, `edited ${round}`)).toBeVisible();
			expected.push(`edited ${round}`);
		} else {
			await deleteMessage(changer, `written ${round}`);
			await expect(messageWithText(other, `written ${round}`)).toHaveCount(0);
		}
		await alice.context.setOffline(false);
		for (const page of [first, second]) if (page !== alice.page) await page.close();
		await expect.poll(() => shownTexts(bob.page)).toEqual(expected);
	}
	await alice.page.reload();
	await expect.poll(() => shownTexts(alice.page)).toEqual(expected);
	await alice.context.close();
	await bob.context.close();
});
