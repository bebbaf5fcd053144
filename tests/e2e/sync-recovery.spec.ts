import { expect, test, type Page } from '@playwright/test';
import * as Y from 'yjs';
import { api } from '../utils/server.ts';
import { bodies, deleteMessage, editMessage, messages, messageWithText, plantLocalUpdate, send, serveApp, signUp, startDirect } from './helpers.ts';

const app = serveApp();

async function history(url: string, conversationId: string, token: string): Promise<string[]> {
	const response = await api<{ messages: { body: string; event: unknown }[] }>(url, `/api/conversations/${conversationId}/messages`, { token });
	return response.body.messages.filter((message) => !message.event).map((message) => message.body);
}

async function tokenFor(username: string): Promise<string> {
	const response = await api<{ token: string }>(app.url, '/api/auth/tokens', { body: { username, password: 'correct horse battery' } });
	return response.body.token;
}

/** Puts an update the server will refuse (a body over the limit, as an old client might have written) into this device's copy. */
async function plantRefusedMessage(page: Page, conversationId: string, messageId: string): Promise<void> {
	const me = await page.evaluate(() => (JSON.parse(localStorage.getItem('chat:me')!) as { id: string }).id);
	const doc = new Y.Doc();
	doc.getMap('messages').set(messageId, { id: messageId, author: me, body: 'x'.repeat(2001), createdAt: Date.now() });
	const bytes = Array.from(Y.encodeStateAsUpdate(doc));
	await plantLocalUpdate(page, `chat:${me}:doc:${conversationId}`, bytes);
}

/** This device's stored updates of a conversation, as one merged update. */
async function storedUpdate(page: Page, conversationId: string): Promise<Uint8Array> {
	const me = await page.evaluate(() => (JSON.parse(localStorage.getItem('chat:me')!) as { id: string }).id);
	const rows = await page.evaluate(async (name) => {
		const db = await new Promise<IDBDatabase>((resolve, reject) => {
			const request = indexedDB.open(name);
			request.onsuccess = () => resolve(request.result);
			request.onerror = () => reject(request.error);
		});
		const all = await new Promise<Uint8Array[]>((resolve, reject) => {
			const request = db.transaction('updates').objectStore('updates').getAll();
			request.onsuccess = () => resolve(request.result as Uint8Array[]);
			request.onerror = () => reject(request.error);
		});
		db.close();
		return all.map((row) => Array.from(row));
	}, `chat:${me}:doc:${conversationId}`);
	return Y.mergeUpdates(rows.map((row) => new Uint8Array(row)));
}

test('[OFFLINE-6][ORDER-2] messages written offline across reloads are delivered once, in the order written, on reconnect without a refusal', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await expect(alice.page.getByTestId('connection')).toHaveText(/Online/);
	await bob.page.goto(`/c/${id}`);
	await send(alice.page, 'before going offline');
	await expect(messageWithText(alice.page, 'before going offline')).toHaveAttribute('data-delivery', 'sent');
	await send(bob.page, 'bob was here');
	await expect(messageWithText(alice.page, 'bob was here')).toBeVisible();

	await alice.context.setOffline(true);
	await expect(alice.page.getByTestId('connection')).toHaveText(/Offline/);
	await send(alice.page, 'offline one');
	await send(alice.page, 'offline two');
	await expect(messageWithText(alice.page, 'offline two')).toHaveAttribute('data-delivery', 'sending');
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'offline one')).toHaveAttribute('data-delivery', 'sending');
	await send(alice.page, 'offline three, after the reload');
	await expect(messageWithText(alice.page, 'offline three, after the reload')).toHaveAttribute('data-delivery', 'sending');
	// Each reload is a new Y.Doc with a new clientID: the update sent on reconnect holds four of them.
	await alice.page.reload();
	await send(alice.page, 'offline four');
	await expect(messageWithText(alice.page, 'offline four')).toHaveAttribute('data-delivery', 'sending');
	await alice.page.reload();
	await send(alice.page, 'offline five');
	await expect(messageWithText(alice.page, 'offline five')).toHaveAttribute('data-delivery', 'sending');
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'offline five')).toHaveAttribute('data-delivery', 'sending');
	await alice.context.setOffline(false);

	const expected = ['before going offline', 'bob was here', 'offline one', 'offline two', 'offline three, after the reload', 'offline four', 'offline five'];
	for (const text of expected.slice(2)) await expect(messageWithText(alice.page, text)).toHaveAttribute('data-delivery', 'sent');
	await expect(alice.page.locator('[data-delivery="failed"]')).toHaveCount(0);
	await expect.poll(() => bodies(bob.page)).toEqual(expected);
	expect(await bodies(alice.page)).toEqual(expected);
	expect(await history(app.url, id, await tokenFor(bob.username))).toEqual(expected);
	await alice.context.close();
	await bob.context.close();
});

test('[ORDER-2] messages written offline after a reload and a brief reconnect do not overtake the ones written before it', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await expect(alice.page.getByTestId('connection')).toHaveText(/Online/);
	await bob.page.goto(`/c/${id}`);
	const expected: string[] = [];
	for (let round = 0; round < 3; round++) {
		const second = await alice.context.newPage();
		await second.goto(`/c/${id}`);
		await send(alice.page, `${round}: online`);
		await alice.context.setOffline(true);
		await send(alice.page, `${round}: offline, first tab`);
		await send(second, `${round}: offline, second tab`);
		await second.close();
		await alice.page.reload();
		await expect(alice.page.getByLabel('Message', { exact: true })).toBeEnabled();
		// Online for a moment: the socket starts connecting and is dropped before the handshake.
		await alice.context.setOffline(false);
		await alice.context.setOffline(true);
		// Written in this page: the stock provider kept these for the next socket and handed them over
		// before its answer to the server's sync step 1, the only frame that carries the ones above.
		await send(alice.page, `${round}: offline, after the reload`);
		await send(alice.page, `${round}: offline, after the reload, again`);
		await alice.context.setOffline(false);
		expected.push(...['online', 'offline, first tab', 'offline, second tab', 'offline, after the reload', 'offline, after the reload, again'].map((text) => `${round}: ${text}`));
		for (const text of expected) await expect(messageWithText(alice.page, text)).toHaveAttribute('data-delivery', 'sent');
	}
	expect(await history(app.url, id, await tokenFor(bob.username))).toEqual(expected);
	await expect.poll(() => bodies(bob.page)).toEqual(expected);
	expect(await bodies(alice.page)).toEqual(expected);
	await alice.context.close();
	await bob.context.close();
});

test('[OFFLINE-7] a second tab opened straight on a conversation link leaves the first tab sending and receiving', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await bob.page.goto(`/c/${id}`);
	await send(alice.page, 'first tab, before');
	await expect(messageWithText(alice.page, 'first tab, before')).toHaveAttribute('data-delivery', 'sent');

	for (let attempt = 0; attempt < 3; attempt++) {
		const second = await alice.context.newPage();
		await second.goto(`/c/${id}`);
		await expect(messageWithText(second, 'first tab, before')).toBeVisible();
		await send(second, `second tab ${attempt}`);
		await expect(messageWithText(second, `second tab ${attempt}`)).toHaveAttribute('data-delivery', 'sent');

		await send(alice.page, `first tab ${attempt}`);
		await expect(messageWithText(alice.page, `first tab ${attempt}`)).toHaveAttribute('data-delivery', 'sent');
		await send(bob.page, `bob ${attempt}`);
		await expect(messageWithText(alice.page, `bob ${attempt}`)).toBeVisible();
		await expect(messageWithText(second, `bob ${attempt}`)).toBeVisible();
		await expect(alice.page.getByRole('alert')).toHaveCount(0);
		await second.close();
	}
	await send(alice.page, 'first tab, after');
	await expect(messageWithText(alice.page, 'first tab, after')).toHaveAttribute('data-delivery', 'sent');
	await expect(messageWithText(bob.page, 'first tab, after')).toBeVisible();
	await expect(messages(alice.page)).toHaveCount(11);
	await alice.context.close();
	await bob.context.close();
});

test('[OFFLINE-7] a refusal in a tab opened on a conversation link leaves the database of the other tabs alone', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await bob.page.goto(`/c/${id}`);
	await send(alice.page, 'first tab, before');
	await expect(messageWithText(alice.page, 'first tab, before')).toHaveAttribute('data-delivery', 'sent');

	// The first tab has its document loaded already; the new tab reads the planted update and sends it.
	const badId = '01JD00000000000000000000ZY';
	await plantRefusedMessage(alice.page, id, badId);
	const second = await alice.context.newPage();
	await second.goto(`/c/${id}`);
	await expect(second.locator(`[data-id="${badId}"]`)).toHaveAttribute('data-delivery', 'failed');

	await send(alice.page, 'first tab, after the refusal');
	await expect(messageWithText(alice.page, 'first tab, after the refusal')).toHaveAttribute('data-delivery', 'sent');
	await expect(alice.page.getByRole('alert').filter({ hasText: /database|IDB/ })).toHaveCount(0);
	await send(bob.page, 'bob, after the refusal');
	await expect(messageWithText(alice.page, 'bob, after the refusal')).toBeVisible();
	await expect(messageWithText(second, 'bob, after the refusal')).toBeVisible();
	await send(second, 'second tab, after the refusal');
	await expect(messageWithText(second, 'second tab, after the refusal')).toHaveAttribute('data-delivery', 'sent');
	await expect(messageWithText(alice.page, 'second tab, after the refusal')).toBeVisible();

	// Both tabs and a reload keep everything, once.
	const expected = ['first tab, before', 'first tab, after the refusal', 'bob, after the refusal', 'second tab, after the refusal'];
	await expect.poll(() => bodies(bob.page)).toEqual(expected);
	await alice.page.reload();
	await expect.poll(async () => (await bodies(alice.page)).filter((b) => !b.startsWith('xxx'))).toEqual(expected);
	await expect(alice.page.locator(`[data-id="${badId}"]`)).toHaveAttribute('data-delivery', 'failed');
	expect(await history(app.url, id, await tokenFor(bob.username))).toEqual(expected);
	await alice.context.close();
	await bob.context.close();
});

test('[LIMIT-2] two people on one conversation past the awareness timeout: no refusal, no new database, messages still flow', async ({ browser }) => {
	test.setTimeout(90_000);
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	const watched = [alice.page, bob.page];
	const sockets = new Map<Page, number>(watched.map((page) => [page, 0]));
	const refusals: string[] = [];
	for (const page of watched) {
		page.on('websocket', (socket) => {
			sockets.set(page, sockets.get(page)! + 1);
			socket.on('framereceived', ({ payload }) => {
				const text = typeof payload === 'string' ? payload : payload.toString('latin1');
				for (const reason of ['update-refused', 'awareness-refused', 'foreign-client-id']) if (text.includes(reason)) refusals.push(reason);
			});
		});
	}
	await alice.page.reload();
	await bob.page.goto(`/c/${id}`);
	await send(alice.page, 'hello bob');
	await expect(messageWithText(bob.page, 'hello bob')).toBeVisible();
	// Providers renew their own state every 15 s and time out others after 30 s; both re-send states.
	await alice.page.waitForTimeout(40_000);
	await send(bob.page, 'still here');
	await expect(messageWithText(alice.page, 'still here')).toBeVisible();
	await expect(messageWithText(bob.page, 'still here')).toHaveAttribute('data-delivery', 'sent');
	await send(alice.page, 'me too');
	await expect(messageWithText(bob.page, 'me too')).toBeVisible();
	expect(refusals).toEqual([]);
	expect([...sockets.values()]).toEqual([1, 1]);
	for (const page of watched) {
		const databases = await page.evaluate(async () => ((await indexedDB.databases()) ?? []).map((db) => db.name ?? ''));
		expect(databases.filter((name) => name.includes(':doc:') && /:\d+$/.test(name))).toEqual([]);
	}
	await alice.context.close();
	await bob.context.close();
});

test('[OFFLINE-7] a tab whose database is deleted between its opening and the document loading from it keeps sending, and what it sends is kept', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await bob.page.goto(`/c/${id}`);
	const aliceId = await alice.page.evaluate(() => (JSON.parse(localStorage.getItem('chat:me')!) as { id: string }).id);
	const database = `chat:${aliceId}:doc:${id}`;
	const refusedWrites: string[] = [];
	alice.page.on('console', (m) => {
		if (m.type() === 'error' && m.text().includes('IDBDatabase')) refusedWrites.push(m.text());
	});
	// On every load of the page (while asked to), the first time the document's database opens, it is
	// deleted as the open succeeds (as another tab leaving an epoch or recovering from a refusal does):
	// the versionchange lands while the document is still loading from it, the moment that used to
	// leave the tab writing into a closed connection ("sending" for good).
	await alice.page.addInitScript((name) => {
		const open = indexedDB.open.bind(indexedDB);
		let done = false;
		indexedDB.open = (opened: string, version?: number) => {
			const request = open(opened, version);
			if (opened === name && !done && sessionStorage.getItem('delete-on-open') === 'yes') {
				done = true;
				request.addEventListener('success', () => indexedDB.deleteDatabase(name));
			}
			return request;
		};
	}, database);
	const expected: string[] = [];
	for (let round = 0; round < 4; round++) {
		// Stored updates to load, so the document is still loading when the versionchange comes.
		await alice.page.evaluate(
			(name) =>
				new Promise<void>((resolve, reject) => {
					const request = indexedDB.open(name);
					request.onerror = () => reject(request.error);
					request.onsuccess = () => {
						const db = request.result;
						const tx = db.transaction('updates', 'readwrite');
						for (let i = 0; i < 2000; i++) tx.objectStore('updates').add(new Uint8Array([0, 0]));
						tx.oncomplete = () => (db.close(), resolve());
						tx.onerror = () => reject(tx.error);
					};
				}),
			database
		);
		await alice.page.evaluate(() => sessionStorage.setItem('delete-on-open', 'yes'));
		await alice.page.goto(`/c/${id}`);
		await expect(alice.page.getByLabel('Message', { exact: true })).toBeEnabled();
		const text = `round ${round}`;
		await send(alice.page, text);
		expected.push(text);
		await expect(messageWithText(alice.page, text)).toHaveCount(1);
		await expect(messageWithText(alice.page, text)).toHaveAttribute('data-delivery', 'sent');
		await expect(alice.page.getByRole('alert')).toHaveCount(0);
	}
	// Written offline into whatever database the tab holds now, then reloaded: it was on disk.
	await alice.page.evaluate(() => sessionStorage.removeItem('delete-on-open'));
	await alice.context.setOffline(true);
	await send(alice.page, 'offline, after it all');
	await expect(messageWithText(alice.page, 'offline, after it all')).toHaveCount(1);
	await alice.page.reload();
	await expect(messageWithText(alice.page, 'offline, after it all')).toHaveCount(1);
	await alice.context.setOffline(false);
	expected.push('offline, after it all');
	await expect(messageWithText(alice.page, 'offline, after it all')).toHaveAttribute('data-delivery', 'sent');
	await expect.poll(() => bodies(bob.page)).toEqual(expected);
	await expect.poll(() => bodies(alice.page)).toEqual(expected);
	expect(await history(app.url, id, await tokenFor(bob.username))).toEqual(expected);
	expect(refusedWrites).toEqual([]);
	await alice.context.close();
	await bob.context.close();
});

test('[OFFLINE-7] an edit and a deletion made offline survive the database being deleted under the tab: they reach the other side once online', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await send(alice.page, 'meet at 5');
	await send(alice.page, 'wrong chat');
	await expect(messages(alice.page).last()).toHaveAttribute('data-delivery', 'sent');
	await bob.page.goto(`/c/${id}`);
	await expect(messageWithText(bob.page, 'wrong chat')).toBeVisible();
	const aliceId = await alice.page.evaluate(() => (JSON.parse(localStorage.getItem('chat:me')!) as { id: string }).id);

	await alice.context.setOffline(true);
	// The app has let go of its socket: nothing written from here reaches the server before the reload.
	await expect(alice.page.getByTestId('connection')).toHaveText('Offline');
	await editMessage(alice.page, 'meet at 5', 'meet at 6');
	await deleteMessage(alice.page, 'wrong chat');
	await expect(messageWithText(alice.page, 'meet at 6')).toBeVisible();
	await expect(alice.page.getByTestId('deleted-message')).toHaveText('You deleted this message');
	// The database goes (as when another tab rebuilds it): the changes were only in it and in the
	// frames the socket still queued, which the fresh socket drops.
	await alice.page.evaluate(
		(name) =>
			new Promise<void>((resolve, reject) => {
				const request = indexedDB.deleteDatabase(name);
				request.onsuccess = () => resolve();
				request.onerror = () => reject(request.error);
			}),
		`chat:${aliceId}:doc:${id}`
	);
	await alice.page.waitForTimeout(500);
	await alice.page.reload();
	// The sequence numbers went with the database: until the server answers, the edit shows as being
	// sent and the deletion as nothing, but neither is undone.
	await expect(messageWithText(alice.page, 'meet at 6')).toBeVisible();
	await expect(messageWithText(alice.page, 'meet at 5')).toHaveCount(0);
	await expect(messageWithText(alice.page, 'wrong chat')).toHaveCount(0);
	await alice.context.setOffline(false);

	await expect(messageWithText(bob.page, 'meet at 6')).toBeVisible();
	await expect(bob.page.getByTestId('deleted-message')).toHaveText('This message was deleted');
	const bobToken = await tokenFor(bob.username);
	await expect.poll(() => history(app.url, id, bobToken)).toEqual(['meet at 6', '']);
	await expect(messageWithText(alice.page, 'meet at 6')).toHaveAttribute('data-delivery', 'sent');
	await expect(alice.page.getByTestId('deleted-message')).toHaveText('You deleted this message');
	await alice.context.close();
	await bob.context.close();
});

test('[OFFLINE-7] when a tab starts the conversation on a fresh database, the other tabs follow it and keep working', async ({ browser }) => {
	const alice = await signUp(browser, app.url, 'alice');
	const bob = await signUp(browser, app.url, 'bob');
	const id = await startDirect(alice.page, bob.username);
	await bob.page.goto(`/c/${id}`);
	await send(bob.page, 'from bob');
	await expect(messageWithText(bob.page, 'from bob')).toHaveAttribute('data-delivery', 'sent');
	await send(alice.page, 'first tab, before');
	await expect(messageWithText(alice.page, 'first tab, before')).toHaveAttribute('data-delivery', 'sent');

	// A struct under Bob's clientID in Alice's copy: a state no honest device reaches, refused naming no message.
	const bobId = await bob.page.evaluate(() => (JSON.parse(localStorage.getItem('chat:me')!) as { id: string }).id);
	const aliceId = await alice.page.evaluate(() => (JSON.parse(localStorage.getItem('chat:me')!) as { id: string }).id);
	const doc = new Y.Doc();
	Y.applyUpdate(doc, await storedUpdate(bob.page, id));
	const bobClient = [...doc.store.clients.keys()].find((client) =>
		doc.store.clients.get(client)!.some((struct) => struct instanceof Y.Item && (struct.content.getContent()[0] as { author?: string })?.author === bobId)
	)!;
	expect(bobClient).toBeDefined();
	doc.clientID = bobClient;
	const before = Y.encodeStateVector(doc);
	const plantedId = '01JD00000000000000000000ZX';
	doc.getMap('messages').set(plantedId, { id: plantedId, author: bobId, body: 'planted', createdAt: Date.now() });
	const planted = Array.from(Y.encodeStateAsUpdate(doc, before));
	await plantLocalUpdate(alice.page, `chat:${aliceId}:doc:${id}`, planted);

	const second = await alice.context.newPage();
	await second.goto(`/c/${id}`);
	await expect
		.poll(() => second.evaluate(async () => ((await indexedDB.databases()) ?? []).some((db) => /:doc:.*:\d+$/.test(db.name ?? ''))), { timeout: 20_000 })
		.toBe(true);

	await send(alice.page, 'first tab, after');
	await expect(messageWithText(alice.page, 'first tab, after')).toHaveAttribute('data-delivery', 'sent');
	await send(second, 'second tab, after');
	await expect(messageWithText(second, 'second tab, after')).toHaveAttribute('data-delivery', 'sent');
	await send(bob.page, 'bob, after');
	await expect(messageWithText(alice.page, 'bob, after')).toBeVisible();
	await expect(messageWithText(second, 'bob, after')).toBeVisible();
	const expected = ['from bob', 'first tab, before', 'first tab, after', 'second tab, after', 'bob, after'];
	await expect.poll(() => bodies(bob.page)).toEqual(expected);
	await expect.poll(() => bodies(alice.page)).toEqual(expected);
	await expect.poll(() => bodies(second)).toEqual(expected);
	expect(await history(app.url, id, await tokenFor(bob.username))).toEqual(expected);
	await alice.context.close();
	await bob.context.close();
});
