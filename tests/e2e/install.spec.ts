import { expect, test } from '@playwright/test';
import { mkdirSync, writeFileSync } from 'node:fs';
import { serveApp, signUp } from './helpers.ts';

const app = serveApp();

test('[OFFLINE-2] the app is installable: a manifest with icons and theme colours, and Chromium reports no installability errors', async ({ browser }) => {
	const person = await signUp(browser, app.url, 'installer');
	const { page } = person;
	const href = await page.locator('link[rel="manifest"]').getAttribute('href');
	expect(href).toBe('/manifest.webmanifest');
	const manifest = await (await page.request.get(href!)).json();
	expect(manifest).toMatchObject({ name: 'Basement chat', display: 'standalone', start_url: '/', theme_color: expect.any(String) });
	for (const icon of manifest.icons as Array<{ src: string; type: string; sizes: string }>) {
		const response = await page.request.get(icon.src);
		expect(response.status(), icon.src).toBe(200);
		expect(response.headers()['content-type']).toContain(icon.type);
	}
	expect((manifest.icons as Array<{ sizes: string }>).some((icon) => icon.sizes === '512x512')).toBe(true);
	const cdp = await person.context.newCDPSession(page);
	const { installabilityErrors } = (await cdp.send('Page.getInstallabilityErrors')) as { installabilityErrors: unknown[] };
	const report = { manifestUrl: href, manifest, installabilityErrors };
	mkdirSync('test-results/screenshots', { recursive: true });
	writeFileSync('test-results/screenshots/manifest-report.json', JSON.stringify(report, null, '\t'));
	// Playwright's contexts are incognito profiles, where Chromium never offers an install; every other check must pass.
	expect((installabilityErrors as Array<{ errorId: string }>).filter((e) => e.errorId !== 'in-incognito')).toEqual([]);
	await person.context.close();
});
