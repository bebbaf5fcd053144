import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { uniqueName } from '../utils/server.ts';
import { listRow, send, serveApp } from './helpers.ts';

const app = serveApp();
const PASSWORD = 'correct horse battery';

interface Someone {
	context: BrowserContext;
	page: Page;
	username: string;
	displayName: string;
}

/** An account made over the API (its cookie lands in the browser profile), with the app open. */
async function someone(browser: Browser, name: string, options: { displayName?: string; init?: (context: BrowserContext) => Promise<unknown> } = {}): Promise<Someone> {
	const context = await browser.newContext({ baseURL: app.url });
	await options.init?.(context);
	const username = uniqueName(name).toLowerCase();
	const response = await context.request.post('/api/auth/signup', { data: { username, password: PASSWORD, displayName: options.displayName } });
	expect(response.status()).toBe(201);
	const page = await context.newPage();
	await page.goto('/');
	await expect(page.getByRole('button', { name: 'New conversation' })).toBeVisible();
	return { context, page, username, displayName: options.displayName ?? username };
}

test('[PEOPLE-1] my profile shows my username to copy and changes my display name under the server’s rules; people find me by it', async ({ browser }) => {
	const alice = await someone(browser, 'alice');
	const bob = await someone(browser, 'bob', { displayName: 'Bob' });
	await alice.context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: app.url });

	await alice.page.getByRole('button', { name: /^Profile/ }).click();
	const sheet = alice.page.getByRole('dialog', { name: 'Profile' });
	await expect(sheet).toBeVisible();
	await expect(sheet.getByTestId('my-username')).toHaveText(`@${alice.username}`);
	await sheet.getByRole('button', { name: 'Copy' }).click();
	await expect(sheet.getByText('Copied.')).toBeVisible();
	expect(await alice.page.evaluate(() => navigator.clipboard.readText())).toBe(`@${alice.username}`);

	// Each refusal in plain words, next to the field, before anything is sent.
	const field = sheet.getByLabel('Display name');
	const save = sheet.getByRole('button', { name: 'Save name' });
	for (const [value, message] of [
		['   ', 'Enter a name.'],
		['x'.repeat(65), 'Use at most 64 characters (this one has 65).'],
		['Ali\u200Bce', 'Display names cannot contain invisible characters or characters that change the direction of text.']
	] as const) {
		await field.fill(value);
		await save.click();
		await expect(field).toHaveAttribute('aria-invalid', 'true');
		await expect(field).toHaveAccessibleDescription(message);
	}
	await field.fill('  Alice Liddell ');
	await save.click();
	await expect(sheet.getByText('Saved.')).toBeVisible();
	await expect(alice.page.getByRole('button', { name: 'Profile: Alice Liddell' })).toBeVisible();
	await alice.page.keyboard.press('Escape');
	await expect(sheet).toHaveCount(0);
	// The new name is the one this device starts with next time.
	await alice.page.reload();
	await expect(alice.page.getByRole('button', { name: 'Profile: Alice Liddell' })).toBeVisible();

	// Bob finds her by a prefix of her new display name: one request once typing pauses.
	const searches: string[] = [];
	bob.page.on('request', (request) => {
		if (request.url().includes('/api/users?')) searches.push(new URL(request.url()).searchParams.get('q') ?? '');
	});
	await bob.page.getByRole('button', { name: 'New conversation' }).click();
	const search = bob.page.getByLabel('Name or username');
	await search.pressSequentially('A');
	await expect(bob.page.getByText('Type at least 2 characters.')).toBeVisible();
	await search.pressSequentially('lice Lid', { delay: 40 });
	const result = bob.page.getByRole('list', { name: 'People found' }).getByRole('button', { name: new RegExp(`Alice Liddell.*@${alice.username}`) });
	await expect(result).toBeVisible();
	expect(searches.length).toBeLessThanOrEqual(2);
	expect(searches.at(-1)).toBe('Alice Lid');
	await result.click();
	await bob.page.waitForURL(/\/c\/[0-9A-Z]{26}$/);
	await expect(bob.page.getByRole('heading', { level: 1 })).toHaveText(`Alice Liddell @${alice.username}`);

	// And by username, with or without the @; an unknown prefix says so.
	await alice.page.getByRole('button', { name: 'New conversation' }).click();
	const hers = alice.page.getByLabel('Name or username');
	await hers.fill(`@${bob.username}`);
	await expect(alice.page.getByRole('list', { name: 'People found' }).getByRole('button', { name: new RegExp(`Bob.*@${bob.username}`) })).toBeVisible();
	await hers.fill('zz_nobody_here');
	await expect(alice.page.getByText('Nobody found for “zz_nobody_here”.')).toBeVisible();
	// Escape closes the form.
	await hers.press('Escape');
	await expect(hers).toHaveCount(0);
	await alice.context.close();
	await bob.context.close();
});

test('[PRES-1] [TIMELINE-1] the group info panel: members, owner, presence; the owner adds, removes and renames; anyone leaves', async ({ browser }) => {
	const alice = await someone(browser, 'alice', { displayName: 'Alice' });
	const bob = await someone(browser, 'bob', { displayName: 'Bob' });
	const carol = await someone(browser, 'carol', { displayName: 'Carol' });

	await alice.page.getByRole('button', { name: 'New conversation' }).click();
	await alice.page.getByLabel('Group').check();
	await alice.page.getByLabel('Title').fill('Book club');
	await alice.page.getByLabel('Add people').fill(bob.username);
	await alice.page.getByRole('list', { name: 'People found' }).getByRole('button', { name: new RegExp(bob.username) }).click();
	await expect(alice.page.getByLabel('Members (usernames, separated by commas)')).toHaveValue(bob.username);
	await alice.page.getByRole('button', { name: 'Create group' }).click();
	await alice.page.waitForURL(/\/c\/[0-9A-Z]{26}$/);

	await alice.page.getByRole('button', { name: 'Group info' }).click();
	const panel = alice.page.getByRole('dialog', { name: 'Group info' });
	await expect(panel).toBeVisible();
	const member = (username: string) => panel.getByTestId('member').and(panel.locator(`[data-username="${username}"]`));
	await expect(panel.getByTestId('member')).toHaveCount(2);
	await expect(member(alice.username)).toContainText('You');
	await expect(member(alice.username)).toContainText('Group owner');
	await expect(member(bob.username)).toContainText(`Bob @${bob.username}`);
	await expect(member(bob.username)).toContainText('online');
	await expect(member(bob.username)).not.toContainText('Group owner');

	// Add Carol through the people search; Bob is listed as already in.
	await panel.getByRole('button', { name: 'Add members' }).click();
	const add = panel.getByLabel('Add people');
	await add.fill(bob.username);
	await expect(panel.getByRole('button', { name: new RegExp(`${bob.username}.*Already in the group`) })).toBeDisabled();
	await add.fill(carol.username);
	await panel.getByRole('list', { name: 'People found' }).getByRole('button', { name: new RegExp(carol.username) }).click();
	await expect(panel.getByText('Carol was added.')).toBeVisible();
	await expect(panel.getByTestId('member')).toHaveCount(3);
	await expect(listRow(carol.page, 'Book club')).toBeVisible();

	// Carol's last device goes away: "last seen".
	await carol.context.close();
	await expect(member(carol.username)).toContainText(/last seen today at/);

	// Rename; Escape first leaves the edit, then closes the panel.
	await panel.getByRole('button', { name: 'Rename group' }).click();
	await panel.getByLabel('Group name').fill('Reading club');
	await panel.getByLabel('Group name').press('Escape');
	await expect(panel.getByLabel('Group name')).toHaveCount(0);
	await expect(panel).toBeVisible();
	await panel.getByRole('button', { name: 'Rename group' }).click();
	await panel.getByLabel('Group name').fill('Reading club');
	await panel.getByRole('button', { name: 'Save' }).click();
	await expect(panel.getByTestId('group-title')).toHaveText('Reading club');
	await expect(alice.page.getByRole('heading', { level: 1 })).toHaveText('Reading club');
	await expect(listRow(bob.page, 'Reading club')).toBeVisible();

	// Remove Carol, after a confirmation.
	await member(carol.username).getByRole('button', { name: 'Remove Carol' }).click();
	const confirmRemove = alice.page.getByRole('dialog', { name: 'Remove member?' });
	await expect(confirmRemove).toContainText(`Remove Carol (@${carol.username}) from “Reading club”?`);
	await confirmRemove.getByRole('button', { name: 'Remove' }).click();
	await expect(member(carol.username)).toHaveCount(0);
	await alice.page.keyboard.press('Escape');
	await expect(panel).toHaveCount(0);

	// Bob is a member, not the owner: no add, remove or rename; he may leave.
	await listRow(bob.page, 'Reading club').click();
	await bob.page.getByRole('button', { name: 'Group info' }).click();
	const his = bob.page.getByRole('dialog', { name: 'Group info' });
	await expect(his.getByTestId('member')).toHaveCount(2);
	await expect(his.getByRole('button', { name: /^Remove/ })).toHaveCount(0);
	await expect(his.getByRole('button', { name: 'Add members' })).toHaveCount(0);
	await expect(his.getByRole('button', { name: 'Rename group' })).toHaveCount(0);
	await his.getByRole('button', { name: 'Leave group' }).click();
	const confirmLeave = bob.page.getByRole('dialog', { name: 'Leave group?' });
	await expect(confirmLeave).toBeVisible();
	// Escape closes the topmost dialog only.
	await bob.page.keyboard.press('Escape');
	await expect(confirmLeave).toHaveCount(0);
	await expect(his).toBeVisible();
	await his.getByRole('button', { name: 'Leave group' }).click();
	await confirmLeave.getByRole('button', { name: 'Leave' }).click();
	await bob.page.waitForURL((url) => url.pathname === '/');
	await expect(listRow(bob.page, 'Reading club')).toHaveCount(0);

	// Alice sees him gone without reopening anything.
	await alice.page.getByRole('button', { name: 'Group info' }).click();
	await expect(panel.getByTestId('member')).toHaveCount(1);
	// Escape from inside the people search closes the panel too.
	await panel.getByRole('button', { name: 'Add members' }).click();
	await panel.getByLabel('Add people').fill('zz');
	await panel.getByLabel('Add people').press('Escape');
	await expect(panel).toHaveCount(0);
	await alice.context.close();
	await bob.context.close();
});

declare global {
	interface Window {
		shownNotifications: Array<{ title: string; closed: boolean; onclick: (() => void) | null }>;
		tabHidden: boolean;
	}
}

test('a click on a system notification focuses the app and opens its conversation', async ({ browser }) => {
	const alice = await someone(browser, 'alice', { displayName: 'Alice' });
	// The tab is reported hidden and notifications are allowed; the browser's Notification is recorded.
	const bob = await someone(browser, 'bob', {
		init: (context) =>
			context.addInitScript(() => {
				window.shownNotifications = [];
				window.tabHidden = false;
				class RecordedNotification {
					static permission = 'granted';
					static requestPermission = async () => 'granted';
					onclick: (() => void) | null = null;
					closed = false;
					constructor(readonly title: string) {
						window.shownNotifications.push(this);
					}
					close() {
						this.closed = true;
					}
				}
				Object.defineProperty(window, 'Notification', { value: RecordedNotification, configurable: true });
				Object.defineProperty(document, 'visibilityState', { get: () => (window.tabHidden ? 'hidden' : 'visible'), configurable: true });
			})
	});
	await alice.page.getByRole('button', { name: 'New conversation' }).click();
	await alice.page.getByLabel('Name or username').fill(bob.username);
	await alice.page.getByRole('button', { name: 'Start chat' }).click();
	await alice.page.waitForURL(/\/c\/[0-9A-Z]{26}$/);
	const id = alice.page.url().split('/c/')[1]!;
	await expect(listRow(bob.page, 'Alice')).toBeVisible();

	await bob.page.evaluate(() => (window.tabHidden = true));
	await send(alice.page, 'look at this');
	await expect.poll(() => bob.page.evaluate(() => window.shownNotifications.map((n) => n.title))).toEqual(['Alice']);
	await bob.page.evaluate(() => window.shownNotifications[0]!.onclick?.());
	await bob.page.waitForURL(`**/c/${id}`);
	expect(await bob.page.evaluate(() => window.shownNotifications[0]!.closed)).toBe(true);
	await expect(bob.page.getByRole('heading', { level: 1 })).toHaveText(`Alice @${alice.username}`);
	await alice.context.close();
	await bob.context.close();
});
