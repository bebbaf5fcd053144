import { expect, test, type Browser, type Page } from '@playwright/test';
import { BOOKING, PATTERN, POST, startHostPlatform } from '../../examples/host-platform/host.ts';
import { registerPlatform } from '../../src/lib/server/platforms.ts';
import { messages, send, serveApp } from './helpers.ts';

const app = serveApp();
let host: { url: string; close(): Promise<void> };

test.beforeAll(async () => {
	const platform = registerPlatform(app.server.app.core.db, 'market', 'Campus market');
	host = await startHostPlatform({ chatUrl: app.url, platformId: platform.id, secret: platform.secret });
});
test.afterAll(async () => host?.close());

/** A browser profile signed in on the host platform only (never on the chat). */
async function onHost(browser: Browser, who: string, path: string): Promise<Page> {
	const context = await browser.newContext();
	const page = await context.newPage();
	await page.goto(`${host.url}/login?as=${who}&next=${encodeURIComponent(path)}`);
	return page;
}

/** Clicks a link that opens the chat in a new tab, and returns that tab once it is in the chat. */
async function openChat(page: Page, link: string): Promise<Page> {
	const opened = page.context().waitForEvent('page');
	await page.getByRole('link', { name: link }).click();
	const chat = await opened;
	await chat.waitForURL(new RegExp(`^${app.url}/`));
	return chat;
}

test('[PLATFORM-1] [PLATFORM-2] [CTX-1] from the host’s post page to a delivered first message and the seller’s reply, with no second login', async ({ browser }) => {
	const buyerHost = await onHost(browser, 'bob', POST.path);
	const buyer = await openChat(buyerHost, 'Message the seller');
	await expect(buyer.getByTestId('context-card')).toContainText(POST.title);
	await buyer.getByLabel('Your message').fill('Hi! Is the bike still for sale?');
	await buyer.getByRole('button', { name: 'Send' }).click();
	await buyer.waitForURL(/\/c\/[0-9A-Z]{26}$/);
	await expect(messages(buyer).last()).toHaveAttribute('data-delivery', 'sent');

	const sellerHost = await onHost(browser, 'alice', POST.path);
	const seller = await openChat(sellerHost, 'Messages about this post');
	await expect(seller.getByTestId('context-conversations').getByRole('link')).toHaveCount(1);
	await seller.getByTestId('context-conversations').getByRole('link').click();
	await expect(messages(seller).filter({ hasText: 'Is the bike still for sale?' })).toHaveCount(1);
	await send(seller, 'Yes! Want to see it today?');
	await expect(messages(buyer).filter({ hasText: 'Want to see it today?' })).toHaveCount(1);
	await expect(messages(buyer).last()).toHaveAttribute('data-delivery', 'sent');

	// The link's token works once: a replay by someone without the session is refused.
	await buyerHost.reload();
	const link = await buyerHost.getByRole('link', { name: 'Message the seller' }).getAttribute('href');
	const stranger = await (await browser.newContext()).newPage();
	const first = await stranger.request.get(link!, { maxRedirects: 0 });
	expect(first.status()).toBe(303);
	const replay = await (await browser.newContext()).request.get(link!, { maxRedirects: 0 });
	expect(replay.status()).toBe(401);
	expect((await replay.json()).error.code).toBe('invalid-sign-in-token');
	for (const page of [buyer, seller, stranger]) await page.context().close();
});

test('[PLATFORM-3] “Contact support” about a booking: every staff member sees it in the support inbox, the customer sees who answered, the other agents too', async ({ browser }) => {
	const customer = await openChat(await onHost(browser, 'carol', BOOKING.path), 'Contact support');
	await expect(customer.getByTestId('context-card')).toContainText('Booking 8841');
	await customer.getByLabel('Your message').fill('My seat number is wrong');
	await customer.getByRole('button', { name: 'Send' }).click();
	await customer.waitForURL(/\/c\/[0-9A-Z]{26}$/);
	const id = customer.url().split('/c/')[1]!;

	const sam = await openChat(await onHost(browser, 'sam', BOOKING.path), 'Support inbox');
	const tess = await openChat(await onHost(browser, 'tess', BOOKING.path), 'Support inbox');
	// The support inbox: the booking's conversation, not answered yet, with its unread count.
	const samsEntry = sam.getByTestId('staff-inbox').getByRole('link');
	await expect(samsEntry).toHaveCount(1);
	await expect(samsEntry.getByTestId('answered-by')).toHaveText('Not answered yet');
	await expect(samsEntry.getByLabel('1 unread')).toBeVisible();
	await samsEntry.click();
	await sam.waitForURL(`**/c/${id}`);
	await tess.goto(`${app.url}/c/${id}`);
	await expect(messages(tess).filter({ hasText: 'My seat number is wrong' })).toHaveCount(1);
	await send(sam, 'Fixed: you are in 14B now.');
	const answer = messages(customer).filter({ hasText: 'Fixed: you are in 14B now.' });
	await expect(answer).toHaveCount(1);
	await expect(answer).toContainText('Sam');
	await expect(messages(tess).filter({ hasText: 'Fixed: you are in 14B now.' })).toContainText('Sam');
	// The other agent sees who answered.
	await tess.goto(`${app.url}/staff`);
	await expect(tess.getByTestId('staff-inbox').getByTestId('answered-by')).toHaveText('Answered by Sam');
	for (const page of [customer, sam, tess]) await page.context().close();
});

test('[PLATFORM-1] [CTX-1] a reader asks a pattern’s designer; the designer finds the question under the pattern and answers', async ({ browser }) => {
	const reader = await openChat(await onHost(browser, 'carol', PATTERN.path), 'Ask the designer');
	await expect(reader.getByTestId('context-card')).toContainText(PATTERN.title);
	await reader.getByLabel('Your message').fill('Which needle size for row 12?');
	await reader.getByRole('button', { name: 'Send' }).click();
	await reader.waitForURL(/\/c\/[0-9A-Z]{26}$/);
	const designer = await openChat(await onHost(browser, 'dina', PATTERN.path), 'Questions about this pattern');
	await designer.getByTestId('context-conversations').getByRole('link').click();
	await send(designer, '4 mm, same as the ribbing');
	await expect(messages(reader).filter({ hasText: '4 mm, same as the ribbing' })).toHaveCount(1);
	for (const page of [reader, designer]) await page.context().close();
});
