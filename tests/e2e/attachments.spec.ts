import { expect, test, type Page } from '@playwright/test';
import sharp from 'sharp';
import { messages, serveApp, signUp, startDirect } from './helpers.ts';

const app = serveApp();

/** A real JPEG of the given size, with a marker in its EXIF data. */
async function photo(width: number, height: number, colour: string): Promise<Buffer> {
	return sharp({ create: { width, height, channels: 3, background: colour } })
		.withExif({ IFD0: { ImageDescription: 'exif-marker-gps' } })
		.jpeg()
		.toBuffer();
}

async function pick(page: Page, files: Array<{ name: string; mimeType: string; buffer: Buffer }>): Promise<void> {
	await page.getByTestId('file-input').setInputFiles(files);
}

/** Every stored value of the outbox database, as a count. */
async function outboxCount(page: Page): Promise<number> {
	return page.evaluate(async () => {
		const names = (await indexedDB.databases()).map((d) => d.name!).filter((n) => n.endsWith(':outbox'));
		let count = 0;
		for (const name of names) {
			const db = await new Promise<IDBDatabase>((resolve, reject) => {
				const r = indexedDB.open(name);
				r.onsuccess = () => resolve(r.result);
				r.onerror = () => reject(r.error);
			});
			count += await new Promise<number>((resolve) => {
				const r = db.transaction('items').objectStore('items').count();
				r.onsuccess = () => resolve(r.result);
			});
			db.close();
		}
		return count;
	});
}

test('[OFFLINE-9] a photo picked offline survives a reload and reaches the other user once, thumbnail and full image', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await alice.page.getByLabel('Message', { exact: true }).fill('hello');
	await alice.page.getByLabel('Message', { exact: true }).press('Enter');
	await expect(messages(alice.page).last()).toHaveAttribute('data-delivery', 'sent');

	await alice.context.setOffline(true);
	await pick(alice.page, [{ name: 'notes.jpg', mimeType: 'image/jpeg', buffer: await photo(1200, 800, '#3a7') }]);
	await expect(alice.page.getByTestId('staged-files')).toContainText('notes.jpg');
	await alice.page.getByLabel('Message', { exact: true }).fill('lecture notes');
	await alice.page.getByLabel('Message', { exact: true }).press('Enter');
	const pending = messages(alice.page).last();
	await expect(pending).toHaveAttribute('data-delivery', 'sending');
	await expect(pending.getByTestId('thumbnail')).toBeVisible();
	await expect.poll(() => outboxCount(alice.page)).toBe(1);

	// A reload while offline: the message is still there, from the device.
	await alice.page.reload();
	await expect(messages(alice.page).last()).toHaveAttribute('data-delivery', 'sending');
	await expect(messages(alice.page).last().getByTestId('thumbnail')).toBeVisible();
	await expect(messages(alice.page).last()).toContainText('lecture notes');

	// Back online: it goes by itself.
	await alice.context.setOffline(false);
	await expect(messages(alice.page).last()).toHaveAttribute('data-delivery', 'sent', { timeout: 15_000 });
	await expect.poll(() => outboxCount(alice.page)).toBe(0);

	await bob.page.goto(`/c/${id}`);
	const received = messages(bob.page).filter({ hasText: 'lecture notes' });
	await expect(received).toHaveCount(1);
	const thumbnail = received.getByTestId('thumbnail');
	await expect(thumbnail).toBeVisible();
	await expect.poll(() => thumbnail.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(480);
	// The box has the photo's shape before and after it loads (3:2).
	const box = await received.locator('.image').boundingBox();
	expect(Math.abs(box!.width / box!.height - 1.5)).toBeLessThan(0.05);
	await thumbnail.click();
	const full = bob.page.getByTestId('full-image');
	await expect.poll(() => full.evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBe(1200);
	await bob.page.keyboard.press('Escape');
	await expect(bob.page.getByTestId('image-viewer')).toHaveCount(0);
	// Exactly once, on both sides, after a reload too.
	await bob.page.reload();
	await expect(messages(bob.page).filter({ hasText: 'lecture notes' })).toHaveCount(1);
	await expect(messages(alice.page).filter({ hasText: 'lecture notes' })).toHaveCount(1);
	await alice.context.close();
	await bob.context.close();
});

test('[ATTACH-1] a file over the limit is refused with the reason before it is sent; a damaged image is refused by the server with Retry and Delete', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	await startDirect(alice.page, bob.username);
	await pick(alice.page, [{ name: 'lecture.mp4', mimeType: 'video/mp4', buffer: Buffer.alloc(26_000_000, 1) }]);
	await expect(alice.page.getByText('“lecture.mp4” is 26 MB: files can be at most 25 MB.')).toBeVisible();
	await expect(alice.page.getByTestId('staged-files')).toHaveCount(0);

	// A PNG cut short: the server cannot read it.
	const png = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#c33' } }).png().toBuffer();
	await pick(alice.page, [{ name: 'broken.png', mimeType: 'image/png', buffer: png.subarray(0, 60) }]);
	await alice.page.getByRole('button', { name: 'Send' }).click();
	const failed = messages(alice.page).last();
	await expect(failed).toHaveAttribute('data-delivery', 'failed', { timeout: 10_000 });
	await expect(failed).toContainText('The image could not be read');
	await expect(failed.getByRole('button', { name: 'Retry' })).toBeVisible();
	await failed.getByRole('button', { name: 'Delete' }).click();
	await expect(messages(alice.page).filter({ hasText: 'could not be read' })).toHaveCount(0);
	await expect.poll(() => outboxCount(alice.page)).toBe(0);
	await alice.context.close();
	await bob.context.close();
});

test('[ATTACH-2] several files with one caption; a file that is not an image downloads; deleting the message removes the files for everyone', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await pick(alice.page, [
		{ name: 'a.jpg', mimeType: 'image/jpeg', buffer: await photo(600, 900, '#a33') },
		{ name: 'b.jpg', mimeType: 'image/jpeg', buffer: await photo(900, 600, '#33a') },
		{ name: 'reading list.txt', mimeType: 'text/plain', buffer: Buffer.from('chapter 3, chapter 5\n') }
	]);
	await alice.page.getByLabel('Message', { exact: true }).fill('for friday');
	await alice.page.getByLabel('Message', { exact: true }).press('Enter');
	await expect(messages(alice.page).last()).toHaveAttribute('data-delivery', 'sent', { timeout: 15_000 });

	await bob.page.goto(`/c/${id}`);
	const received = messages(bob.page).filter({ hasText: 'for friday' });
	await expect(received.getByTestId('thumbnail')).toHaveCount(2);
	const file = received.getByTestId('file');
	await expect(file).toContainText('reading list.txt');
	const download = bob.page.waitForEvent('download');
	await file.click();
	expect((await download).suggestedFilename()).toBe('reading list.txt');
	const src = await received.getByTestId('thumbnail').first().getAttribute('src');

	const mine = messages(alice.page).filter({ hasText: 'for friday' });
	await mine.hover();
	await mine.getByRole('button', { name: 'Delete message' }).click();
	await alice.page.getByRole('button', { name: 'Delete for everyone' }).click();
	await expect(bob.page.getByTestId('deleted-message')).toHaveText('This message was deleted');
	await expect(bob.page.getByTestId('thumbnail')).toHaveCount(0);
	const status = await bob.page.evaluate(async (url) => (await fetch(url!)).status, src);
	expect(status).toBe(404);
	await alice.context.close();
	await bob.context.close();
});

test('[ATTACH-3] a profile photo shows, cropped square, in the other user’s list and header; initials when there is none', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await alice.page.getByLabel('Message', { exact: true }).fill('hi');
	await alice.page.getByLabel('Message', { exact: true }).press('Enter');
	await bob.page.goto(`/c/${id}`);
	await expect(bob.page.locator('section.chat > header').getByTestId('avatar-initials')).toBeVisible();

	await alice.page.getByRole('button', { name: /^Profile/ }).click();
	const sheet = alice.page.getByRole('dialog', { name: 'Profile' });
	await sheet.getByTestId('photo-input').setInputFiles({ name: 'me.jpg', mimeType: 'image/jpeg', buffer: await photo(900, 600, '#e90') });
	await expect(sheet.getByRole('button', { name: 'Change photo' })).toBeVisible();
	await expect(sheet.getByTestId('avatar-photo')).toBeVisible();

	const header = bob.page.locator('section.chat > header').getByTestId('avatar-photo');
	await expect(header).toBeVisible();
	await expect.poll(() => header.evaluate((img: HTMLImageElement) => img.complete && `${img.naturalWidth}x${img.naturalHeight}`)).toBe('256x256');
	await expect(bob.page.getByRole('complementary', { name: 'Conversations' }).getByTestId('avatar-photo')).toHaveCount(1);
	await alice.context.close();
	await bob.context.close();
});

test('[OFFLINE-9] a photo pasted into the composer, and a file dropped on it, are staged to send', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	await startDirect(alice.page, bob.username);
	const bytes = [...(await photo(300, 200, '#28c'))];
	await alice.page.getByLabel('Message', { exact: true }).evaluate((field, bytes) => {
		const data = new DataTransfer();
		data.items.add(new File([new Uint8Array(bytes)], 'pasted.jpg', { type: 'image/jpeg' }));
		field.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
	}, bytes);
	await expect(alice.page.getByTestId('staged-files')).toContainText('pasted.jpg');
	await alice.page.locator('form.composer').evaluate((form) => {
		const data = new DataTransfer();
		data.items.add(new File(['timetable'], 'timetable.txt', { type: 'text/plain' }));
		form.dispatchEvent(new DragEvent('dragover', { dataTransfer: data, bubbles: true, cancelable: true }));
		form.dispatchEvent(new DragEvent('drop', { dataTransfer: data, bubbles: true, cancelable: true }));
	});
	await expect(alice.page.getByTestId('staged-files').locator('li')).toHaveCount(2);
	await alice.page.getByRole('button', { name: 'Remove pasted.jpg' }).click();
	await alice.page.getByRole('button', { name: 'Send' }).click();
	const sent = messages(alice.page).last();
	await expect(sent).toHaveAttribute('data-delivery', 'sent', { timeout: 15_000 });
	await expect(sent.getByTestId('file')).toContainText('timetable.txt');
	await expect(sent.getByTestId('thumbnail')).toHaveCount(0);
	await alice.context.close();
	await bob.context.close();
});
