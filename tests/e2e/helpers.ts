import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { startTestServer, tempDataDir, uniqueName, type TestServer } from '../utils/server.ts';

/** The real app on port 0 with a temporary database, for every test of the file (`env`: its configuration). */
export function serveApp(env: Record<string, string> = {}): { readonly url: string; readonly server: TestServer } {
	const data = tempDataDir();
	let server: TestServer | undefined;
	test.beforeAll(async () => {
		// Every person signs up from 127.0.0.1, more often than the per-address default allows.
		server = await startTestServer(data.dir, env);
	});
	test.afterAll(async () => {
		await server?.close();
		data.remove();
	});
	return {
		get url() {
			return server!.url;
		},
		get server() {
			return server!;
		}
	};
}

export interface Person {
	context: BrowserContext;
	page: Page;
	username: string;
}

/**
 * A new browser profile that signs up through the real form and waits until the app runs
 * offline-ready. `withoutIndexedDb`: its pages get none, refused (see {@link refuseIndexedDb}) or,
 * with 'never-answers', opens that stay pending (see {@link stallIndexedDb}).
 */
export async function signUp(browser: Browser, baseURL: string, name = 'user', { withoutIndexedDb = false as boolean | 'never-answers' } = {}): Promise<Person> {
	const context = await browser.newContext({ baseURL });
	if (withoutIndexedDb) await context.addInitScript(withoutIndexedDb === 'never-answers' ? stallIndexedDb : refuseIndexedDb);
	const page = await context.newPage();
	const username = uniqueName(name).toLowerCase();
	await page.goto('/signup');
	await page.getByLabel('Username').fill(username);
	await page.getByLabel('Password').fill('correct horse battery');
	await page.getByRole('button', { name: 'Sign up' }).click();
	await expect(page.getByRole('button', { name: 'New conversation' })).toBeVisible();
	await serviceWorkerReady(page);
	return { context, page, username };
}

/** The service worker controls the page, so the shell is cached for offline starts. */
export async function serviceWorkerReady(page: Page): Promise<void> {
	await page.evaluate(async () => {
		await navigator.serviceWorker.ready;
		if (!navigator.serviceWorker.controller) {
			await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
		}
	});
}

/** Starts (or opens) the direct conversation with `username`; returns its id. */
export async function startDirect(page: Page, username: string): Promise<string> {
	await page.getByRole('button', { name: 'New conversation' }).click();
	await page.getByLabel('Username').fill(username);
	await page.getByRole('button', { name: 'Start chat' }).click();
	await page.waitForURL(/\/c\/[0-9A-Z]{26}$/);
	return page.url().split('/c/')[1]!;
}

export async function send(page: Page, text: string): Promise<void> {
	await page.getByLabel('Message', { exact: true }).fill(text);
	await page.getByLabel('Message', { exact: true }).press('Enter');
}

export function messages(page: Page) {
	return page.getByTestId('messages').locator('.message');
}

export async function bodies(page: Page): Promise<string[]> {
	return messages(page).locator('.body').allTextContents();
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function messageWithText(page: Page, text: string) {
	return messages(page).filter({ has: page.locator('.body', { hasText: new RegExp(`^${escapeRegExp(text)}$`) }) });
}

/** A conversation's row in the list (not a toast that mentions the same name). */
export function listRow(page: Page, name: string) {
	return page.getByRole('complementary', { name: 'Conversations' }).getByRole('link', { name: new RegExp(escapeRegExp(name)) });
}

/**
 * Adds a Yjs update to the device's local copy of a document (y-indexeddb's `updates` store in the
 * database `name`), as if the device had written it itself: the app reads it on its next load.
 */
export async function plantLocalUpdate(page: Page, name: string, bytes: number[]): Promise<void> {
	await page.evaluate(
		async ({ name, bytes }) => {
			const db = await new Promise<IDBDatabase>((resolve, reject) => {
				const request = indexedDB.open(name);
				request.onsuccess = () => resolve(request.result);
				request.onerror = () => reject(request.error);
			});
			await new Promise<void>((resolve, reject) => {
				const tx = db.transaction('updates', 'readwrite');
				tx.objectStore('updates').add(new Uint8Array(bytes));
				tx.oncomplete = () => resolve();
				tx.onerror = () => reject(tx.error);
			});
			db.close();
		},
		{ name, bytes }
	);
}

/** Whether any IndexedDB database of the page's origin holds `text` (as a string, or as UTF-8 bytes in a stored binary value). */
export async function deviceHolds(page: Page, text: string): Promise<boolean> {
	return page.evaluate(async (text) => {
		const needle = new TextEncoder().encode(text);
		const holds = (bytes: Uint8Array) => {
			outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
				for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
				return true;
			}
			return false;
		};
		const valueHolds = (value: unknown): boolean => {
			if (value instanceof Uint8Array) return holds(value);
			if (value instanceof ArrayBuffer) return holds(new Uint8Array(value));
			return JSON.stringify(value ?? null).includes(text);
		};
		for (const { name } of await indexedDB.databases()) {
			if (!name) continue;
			const db = await new Promise<IDBDatabase>((resolve, reject) => {
				const request = indexedDB.open(name);
				request.onsuccess = () => resolve(request.result);
				request.onerror = () => reject(request.error);
			});
			try {
				for (const store of Array.from(db.objectStoreNames)) {
					const values = await new Promise<unknown[]>((resolve, reject) => {
						const request = db.transaction(store, 'readonly').objectStore(store).getAll();
						request.onsuccess = () => resolve(request.result);
						request.onerror = () => reject(request.error);
					});
					if (values.some(valueHolds)) return true;
				}
			} finally {
				db.close();
			}
		}
		return false;
	}, text);
}

/** Edits my message `from` to `to` through its hover action and the composer. */
export async function editMessage(page: Page, from: string, to: string): Promise<void> {
	const message = messageWithText(page, from);
	await message.hover();
	await message.getByRole('button', { name: 'Edit message' }).click();
	const field = page.getByLabel('Message', { exact: true });
	await expect(field).toHaveValue(from);
	await field.fill(to);
	await field.press('Enter');
}

/** Deletes my message `text` for everyone through its hover action. */
export async function deleteMessage(page: Page, text: string): Promise<void> {
	const message = messageWithText(page, text);
	await message.hover();
	await message.getByRole('button', { name: 'Delete message' }).click();
	await page.getByRole('button', { name: 'Delete for everyone' }).click();
}

/** Every IndexedDB open in the page fails, as in a browser whose site storage is turned off or refused to an embedded frame. */
export function refuseIndexedDb() {
	IDBFactory.prototype.open = function () {
		const request = new EventTarget() as IDBOpenDBRequest;
		for (const type of ['success', 'error', 'upgradeneeded', 'blocked']) {
			Object.defineProperty(request, `on${type}`, { set: (listener: EventListener) => request.addEventListener(type, listener) });
		}
		Object.defineProperty(request, 'error', { value: new DOMException('The user denied permission to access the database.', 'InvalidStateError') });
		setTimeout(() => request.dispatchEvent(new Event('error')));
		return request;
	};
}

/** Every IndexedDB open in the page stays pending for good, as some browsers leave it (a blocked upgrade, a broken profile). */
export function stallIndexedDb() {
	IDBFactory.prototype.open = function () {
		return new EventTarget() as IDBOpenDBRequest;
	};
}
