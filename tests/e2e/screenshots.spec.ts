import { expect, test, type Browser, type BrowserContext, type Page } from '@playwright/test';
import { mkdirSync } from 'node:fs';
import sharp from 'sharp';
import { uniqueName } from '../utils/server.ts';
import { serveApp } from './helpers.ts';

/**
 * The pictures in docs/screenshots: a conversation with photos, a reply and reactions, the group info panel,
 * the people search and the install report,
 * on a phone (390×844) and a desktop (1280×800), light and dark. `npm run screenshots` makes them.
 */
test.skip(!process.env.SCREENSHOTS, 'set SCREENSHOTS=1 (npm run screenshots) to draw docs/screenshots');

const app = serveApp();
const OUT = 'docs/screenshots';
const PASSWORD = 'correct horse battery';
const SCREENS = {
	phone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true },
	desktop: { viewport: { width: 1280, height: 800 }, isMobile: false, hasTouch: false }
} as const;

interface Account {
	context: BrowserContext;
	username: string;
}

async function account(browser: Browser, name: string, displayName: string): Promise<Account> {
	const context = await browser.newContext({ baseURL: app.url });
	const username = uniqueName(name).toLowerCase().replace(/_\d+_(\d+)$/, '_$1');
	expect((await context.request.post('/api/auth/signup', { data: { username, password: PASSWORD, displayName } })).status()).toBe(201);
	return { context, username };
}

async function post(who: Account, path: string, data: unknown): Promise<{ conversation: { id: string } }> {
	const response = await who.context.request.post(path, { data });
	expect(response.ok()).toBe(true);
	return (await response.json()) as { conversation: { id: string } };
}

/** A picture drawn from SVG: a book cover, a face for a profile photo. */
async function picture(svg: string, width: number, height: number): Promise<Buffer> {
	return sharp(Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${svg}</svg>`)).jpeg({ quality: 85 }).toBuffer();
}

async function upload(who: Account, name: string, bytes: Buffer): Promise<string> {
	const response = await who.context.request.post(`/api/uploads?name=${encodeURIComponent(name)}`, { headers: { 'content-type': 'application/octet-stream' }, data: bytes });
	expect(response.status()).toBe(201);
	return ((await response.json()) as { upload: { id: string } }).upload.id;
}

async function profilePhoto(who: Account, hue: number, initial: string): Promise<void> {
	const id = await upload(who, 'me.jpg', await picture(`<rect width="100%" height="100%" fill="hsl(${hue},60%,70%)"/><circle cx="200" cy="160" r="80" fill="hsl(${hue},40%,35%)"/><rect x="90" y="260" width="220" height="200" rx="100" fill="hsl(${hue},40%,35%)"/><text x="200" y="185" font-size="70" text-anchor="middle" fill="#fff" font-family="sans-serif">${initial}</text>`, 400, 400));
	expect((await who.context.request.put('/api/me/avatar', { data: { uploadId: id } })).ok()).toBe(true);
}

async function openAs(browser: Browser, who: Account, screen: keyof typeof SCREENS, scheme: 'light' | 'dark', path: string): Promise<Page> {
	const context = await browser.newContext({ baseURL: app.url, colorScheme: scheme, ...SCREENS[screen], storageState: await who.context.storageState() });
	const page = await context.newPage();
	await page.goto(path);
	await expect(page.getByTestId('connection')).toHaveText(/Online/);
	return page;
}

test.setTimeout(180_000);

test('draw docs/screenshots', async ({ browser }) => {
	mkdirSync(OUT, { recursive: true });
	const alice = await account(browser, 'alice', 'Alice Liddell');
	const bob = await account(browser, 'bob', 'Bob Marley');
	const carol = await account(browser, 'carol', 'Carol Danvers');
	const cameron = await account(browser, 'cameron', 'Cameron 🎸');
	const casey = await account(browser, 'casey', 'casey');
	const { conversation } = await post(alice, '/api/conversations', { kind: 'group', title: 'Book club 📚', members: [bob.username, carol.username, cameron.username] });
	const lines: Array<[Account, string]> = [
		[alice, 'Next book: “The Left Hand of Darkness”?'],
		[bob, 'Yes! I have a copy already.'],
		[carol, 'Count me in. Thursday at 7?'],
		[alice, 'Thursday it is 👍']
	];
	await profilePhoto(bob, 200, 'B');
	await profilePhoto(carol, 330, 'C');
	const ids: string[] = [];
	for (const [index, [who, body]] of lines.entries()) {
		const response = await who.context.request.post(`/api/conversations/${conversation.id}/messages`, { data: { body } });
		ids.push(((await response.json()) as { message: { id: string } }).message.id);
		if (index === 1) {
			// Photos and a file (ATTACH-1), sent as the app sends them: uploads, then a message that carries them.
			const cover = await upload(bob, 'cover.jpg', await picture('<defs><linearGradient id="g" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#1d3557"/><stop offset="1" stop-color="#a8dadc"/></linearGradient></defs><rect width="100%" height="100%" fill="url(#g)"/><circle cx="300" cy="330" r="120" fill="#f1faee" opacity="0.9"/><text x="300" y="640" font-size="46" text-anchor="middle" fill="#f1faee" font-family="serif">The Left Hand</text><text x="300" y="700" font-size="46" text-anchor="middle" fill="#f1faee" font-family="serif">of Darkness</text>', 600, 800));
			await who.context.request.post(`/api/conversations/${conversation.id}/messages`, { data: { body: 'My copy 📖', attachments: [cover] } });
			const notes = await upload(carol, 'reading-plan.pdf', Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n'));
			await carol.context.request.post(`/api/conversations/${conversation.id}/messages`, { data: { body: '', attachments: [notes] } });
		}
	}
	// A reply and a few reactions (REPLY-1, REACT-1), made the way people make them: in the app.
	await post(carol, `/api/conversations/${conversation.id}/messages`, { body: 'I’ll bring tea 🍵', replyTo: ids[3] });
	for (const [who, text, emoji] of [
		[bob, 'Thursday it is 👍', '❤️'],
		[carol, 'Thursday it is 👍', '❤️'],
		[carol, 'Next book: “The Left Hand of Darkness”?', '👍']
	] as const) {
		const page = await (await browser.newContext({ baseURL: app.url, storageState: await who.context.storageState() })).newPage();
		await page.goto(`/c/${conversation.id}`);
		const message = page.getByTestId('messages').locator('.message').filter({ has: page.locator('p.body', { hasText: text }) });
		await message.hover();
		await message.getByRole('button', { name: 'React' }).click();
		await page.getByRole('button', { name: `React with ${emoji}` }).click();
		await expect(message.getByTestId('reactions')).toBeVisible();
		await page.waitForTimeout(300);
		await page.context().close();
	}
	// Bob is online while the pictures are taken; Carol was here a moment ago; Cameron never opened the app.
	const bobOnline = await (await browser.newContext({ baseURL: app.url, storageState: await bob.context.storageState() })).newPage();
	await bobOnline.goto('/');
	const carolPage = await (await browser.newContext({ baseURL: app.url, storageState: await carol.context.storageState() })).newPage();
	await carolPage.goto('/');
	await expect(carolPage.getByTestId('connection')).toHaveText(/Online/);
	await carolPage.context().close();
	// Carol's devices are all closed: wait until the server says she is away.
	await expect
		.poll(async () => {
			const response = await alice.context.request.get(`/api/conversations/${conversation.id}`);
			const { conversation: c } = (await response.json()) as { conversation: { members: Array<{ username: string; online: boolean }> } };
			return c.members.find((m) => m.username === carol.username)?.online;
		})
		.toBe(false);

	for (const scheme of ['light', 'dark'] as const) {
		for (const screen of ['phone', 'desktop'] as const) {
			const page = await openAs(browser, alice, screen, scheme, `/c/${conversation.id}`);
			await expect(page.getByTestId('quote')).toBeVisible();
			await expect(page.getByTestId('reactions')).toHaveCount(2);
			await expect.poll(() => page.getByTestId('thumbnail').evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth)).toBeGreaterThan(0);
			// The newest message is in view: nothing moved the timeline after it opened at the bottom.
			await expect.poll(() => page.getByTestId('messages').evaluate((el) => Math.round(el.scrollHeight - el.scrollTop - el.clientHeight))).toBeLessThan(2);
			await page.screenshot({ path: `${OUT}/conversation-rich-${screen}-${scheme}.png` });
			await page.getByRole('button', { name: 'Group info' }).click();
			const panel = page.getByRole('dialog', { name: 'Group info' });
			await expect(panel.getByTestId('member')).toHaveCount(4);
			await expect(panel.getByText('online', { exact: true })).toBeVisible();
			await expect(panel.getByText(/last seen/)).toBeVisible();
			await page.screenshot({ path: `${OUT}/group-info-${screen}-${scheme}.png` });

			await page.goto('/');
			await page.getByRole('button', { name: 'New conversation' }).click();
			await page.getByLabel('Name or username').fill('ca');
			await expect(page.getByRole('list', { name: 'People found' }).getByRole('button')).toHaveCount(3);
			await page.screenshot({ path: `${OUT}/people-search-${screen}-${scheme}.png` });

			await installReport(page, screen, scheme);
			await page.context().close();
		}
	}
	void casey;
	await bobOnline.context().close();
});

interface InstallabilityError {
	errorId: string;
	errorArguments: Array<{ name: string; value: string }>;
}

/** What Chromium says about installing the app, drawn as a page: its own checks and the manifest it read. */
async function installReport(page: Page, screen: keyof typeof SCREENS, scheme: 'light' | 'dark'): Promise<void> {
	await page.goto('/');
	await page.evaluate(() => navigator.serviceWorker.ready);
	const cdp = await page.context().newCDPSession(page);
	const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: InstallabilityError[] };
	const { url, errors, data } = (await cdp.send('Page.getAppManifest')) as { url: string; errors: Array<{ message: string; critical: number }>; data?: string };
	const controlled = await page.evaluate(() => !!navigator.serviceWorker.controller);
	const manifest = JSON.parse(data ?? '{}') as Record<string, unknown> & { icons?: Array<{ src: string; sizes: string; type: string; purpose?: string }> };
	const origin = new URL(page.url()).origin;
	const report = await page.context().newPage();
	await report.setContent(renderReport({ origin, url, errors, manifest, installabilityErrors, controlled }));
	await report.waitForLoadState('networkidle');
	await report.screenshot({ path: `${OUT}/install-report-${screen}-${scheme}.png`, fullPage: screen === 'phone' });
	await report.close();
}

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

function renderReport(input: {
	origin: string;
	url: string;
	errors: Array<{ message: string; critical: number }>;
	manifest: Record<string, unknown> & { icons?: Array<{ src: string; sizes: string; type: string; purpose?: string }> };
	installabilityErrors: InstallabilityError[];
	controlled: boolean;
}): string {
	const { origin, url, errors, manifest, installabilityErrors, controlled } = input;
	// Playwright's browser contexts are incognito profiles; Chromium never offers an install there.
	const expected = new Set(['in-incognito']);
	const blocking = installabilityErrors.filter((e) => !expected.has(e.errorId));
	const fields = ['name', 'short_name', 'id', 'start_url', 'scope', 'display', 'theme_color', 'background_color', 'description'];
	const row = (name: string, value: unknown) => {
		const text = typeof value === 'string' ? value : JSON.stringify(value);
		const swatch = /_color$/.test(name) && typeof value === 'string' ? `<span class="swatch" style="background:${escapeHtml(value)}"></span>` : '';
		return `<tr><th>${escapeHtml(name)}</th><td>${swatch}${escapeHtml(text ?? '—')}</td></tr>`;
	};
	const checks = [
		{ ok: blocking.length === 0, text: blocking.length === 0 ? 'No installability errors' : `${blocking.length} installability error(s)` },
		{ ok: errors.length === 0, text: errors.length === 0 ? 'Manifest parsed without errors' : `${errors.length} manifest parse error(s)` },
		{ ok: controlled, text: controlled ? 'A service worker controls the page (works offline)' : 'No service worker controls the page' },
		{ ok: (manifest.icons ?? []).some((i) => i.sizes === '512x512'), text: 'A 512×512 icon' },
		{ ok: (manifest.icons ?? []).some((i) => i.purpose === 'maskable'), text: 'A maskable icon' }
	];
	return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Install report · Basement chat</title>
<style>
:root { color-scheme: light dark; --bg:#f4f5f7; --panel:#fff; --text:#15171a; --muted:#5d6470; --line:#dde1e6; --ok:#137333; --bad:#b42318; --accent:#2563eb;
	font-family: system-ui, sans-serif; line-height: 1.4; }
@media (prefers-color-scheme: dark) { :root { --bg:#0f1115; --panel:#171a21; --text:#e8eaed; --muted:#a0a7b4; --line:#2a2f3a; --ok:#81c995; --bad:#ff8a80; --accent:#6ea0ff; } }
body { margin:0; background:var(--bg); color:var(--text); }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; display:grid; gap:1rem; }
h1 { font-size:1.3rem; margin:0; } h2 { font-size:1rem; margin:0 0 .5rem; }
section { background:var(--panel); border:1px solid var(--line); border-radius:12px; padding:1rem; overflow-wrap:anywhere; }
.sub { color:var(--muted); margin:0; font-size:.9rem; }
ul { margin:0; padding-left:0; list-style:none; display:grid; gap:.3rem; }
.ok::before { content:'✔ '; color:var(--ok); font-weight:700; } .bad::before { content:'✖ '; color:var(--bad); font-weight:700; }
.note { color:var(--muted); font-size:.85rem; }
table { border-collapse:collapse; width:100%; font-size:.9rem; } th, td { text-align:left; padding:.3rem .5rem; border-bottom:1px solid var(--line); vertical-align:top; }
th { color:var(--muted); font-weight:600; width:10rem; }
.swatch { display:inline-block; width:.9rem; height:.9rem; border-radius:3px; margin-right:.4rem; vertical-align:-2px; border:1px solid var(--line); }
.icons { display:flex; flex-wrap:wrap; gap:1rem; }
figure { margin:0; display:grid; justify-items:center; gap:.3rem; font-size:.8rem; color:var(--muted); text-align:center; }
figure img { width:72px; height:72px; background:repeating-conic-gradient(var(--line) 0 25%, transparent 0 50%) 0 0/12px 12px; border-radius:8px; }
figure img.maskable { border-radius:50%; }
code { font-size:.85rem; }
.grid { display:grid; gap:1rem; grid-template-columns: repeat(auto-fit, minmax(18rem, 1fr)); }
</style></head><body><main>
<header><h1>Install report · Basement chat</h1><p class="sub">Chromium ${escapeHtml(navigatorVersion())}, DevTools protocol <code>Page.getInstallabilityErrors</code> and <code>Page.getAppManifest</code> on ${escapeHtml(origin)}</p></header>
<div class="grid">
<section><h2>Installability</h2><ul>${checks.map((c) => `<li class="${c.ok ? 'ok' : 'bad'}">${escapeHtml(c.text)}</li>`).join('')}</ul>
${installabilityErrors.length ? `<p class="note">Reported by Chromium: ${installabilityErrors.map((e) => `<code>${escapeHtml(e.errorId)}</code>${expected.has(e.errorId) ? ' (this test browser runs an incognito profile, where Chromium never offers an install; not a problem of the app)' : ''}`).join(', ')}</p>` : ''}
${errors.length ? `<ul>${errors.map((e) => `<li class="bad">${escapeHtml(e.message)}</li>`).join('')}</ul>` : ''}</section>
<section><h2>Manifest</h2><p class="note"><code>${escapeHtml(url.replace(origin, ''))}</code></p><table>${fields.map((f) => row(f, manifest[f])).join('')}</table></section>
</div>
<section><h2>Icons</h2><div class="icons">${(manifest.icons ?? [])
		.map((i) => `<figure><img class="${i.purpose === 'maskable' ? 'maskable' : ''}" src="${escapeHtml(new URL(i.src, url).href)}" alt=""><figcaption>${escapeHtml(i.sizes)}<br>${escapeHtml(i.purpose ?? 'any')} · ${escapeHtml(i.type.replace('image/', ''))}</figcaption></figure>`)
		.join('')}</div></section>
</main></body></html>`;
}

let chromiumVersion = '';
function navigatorVersion(): string {
	return chromiumVersion;
}
test.beforeAll(({ browser }) => {
	chromiumVersion = browser.version();
});
