/**
 * The web app in Chromium, for the scenarios that measure what a person sees: launched the way the
 * browser tests launch it (playwright.config.ts: Debian's Chromium where present, the same flags),
 * with a user signed up through the app's own API so the session cookie is the browser's.
 */
import { chromium, type Browser, type BrowserContext } from '@playwright/test';
import { existsSync } from 'node:fs';
import playwrightConfig from '../../playwright.config.ts';
import { api } from '../../tests/utils/server.ts';
import type { User } from './types.ts';

const PASSWORD = 'bench browser password';

/** The Chromium the browser tests use; null (with the reason) when there is none on this machine. */
export function findChromium(): { path: string } | { missing: string } {
	const path = playwrightConfig.use?.launchOptions?.executablePath ?? chromium.executablePath();
	return existsSync(path) ? { path } : { missing: `no Chromium at ${path} (npm run test:e2e installs one)` };
}

export function launchChromium(executablePath: string): Promise<Browser> {
	return chromium.launch({ ...playwrightConfig.use?.launchOptions, executablePath });
}

/**
 * Signs up `username` from the browser profile (the response sets the session cookie, as the
 * /signup form's does) and takes a bearer token too, for the bench's own REST calls as that user.
 */
export async function signUpInBrowser(context: BrowserContext, url: string, username: string): Promise<User> {
	const signup = await context.request.post(`${url}/api/auth/signup`, { data: { username, password: PASSWORD } });
	if (signup.status() !== 201) throw new Error(`signup failed: ${signup.status()} ${await signup.text()}`);
	const { user } = (await signup.json()) as { user: { id: string } };
	const token = await api<{ token: string }>(url, '/api/auth/tokens', { body: { username, password: PASSWORD } });
	if (token.status !== 201) throw new Error(`token failed: ${JSON.stringify(token.body)}`);
	return { id: user.id, username, token: token.body.token };
}
