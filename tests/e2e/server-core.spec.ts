import { expect, test } from '@playwright/test';
import { ulid } from 'ulid';
import { serveApp } from './helpers.ts';
import { api, createAccount } from '../utils/server.ts';

const app = serveApp();

/** One Hocuspocus auth frame (empty token: the browser is known by its cookie), then the server's reply type. */
async function authenticateInBrowser(page: import('@playwright/test').Page, docName: string): Promise<string> {
	return page.evaluate(async (name) => {
		const socket = new WebSocket(`${location.origin.replace('http', 'ws')}/sync`);
		socket.binaryType = 'arraybuffer';
		const text = new TextEncoder().encode(name);
		const frame = new Uint8Array([text.length, ...text, 2, 0, 0]);
		return new Promise<string>((resolve) => {
			socket.onopen = () => socket.send(frame);
			socket.onmessage = (event) => {
				const bytes = new Uint8Array(event.data as ArrayBuffer);
				const offset = 1 + bytes[0]!;
				// Auth message (2): subtype 2 = authenticated, 0 = permission denied with a reason.
				if (bytes[offset] === 2) resolve(bytes[offset + 1] === 2 ? 'authenticated' : new TextDecoder().decode(bytes.slice(offset + 3)));
				socket.close();
			};
			socket.onclose = () => resolve('closed');
		});
	}, docName);
}

test('[ACCESS-1] a browser session cookie authenticates the sync socket for members only', async ({ page }) => {
	const bob = await createAccount(app.url);
	const outsider = await createAccount(app.url);
	await page.goto(app.url);
	await expect(page.getByRole('heading', { name: 'Basement chat' })).toBeVisible();

	const username = `alice_${Date.now() % 100000}`;
	const signup = await page.evaluate(async (name) => {
		const response = await fetch('/api/auth/signup', {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ username: name, password: 'correct horse battery' })
		});
		return response.status;
	}, username);
	expect(signup).toBe(201);
	const cookies = await page.context().cookies();
	expect(cookies.find((c) => c.name === 'session')).toMatchObject({ httpOnly: true, sameSite: 'Lax' });

	const created = await page.evaluate(async (member) => {
		const response = await fetch('/api/conversations', {
			method: 'POST',
			headers: { 'content-type': 'application/json' },
			body: JSON.stringify({ kind: 'direct', members: [member] })
		});
		return ((await response.json()) as { conversation: { id: string } }).conversation.id;
	}, bob.username);

	expect(await authenticateInBrowser(page, `conversation:${created}`)).toBe('authenticated');
	const foreign = await api<{ conversation: { id: string } }>(app.url, '/api/conversations', {
		token: outsider.token,
		body: { kind: 'direct', members: [bob.username] }
	});
	expect(await authenticateInBrowser(page, `conversation:${foreign.body.conversation.id}`)).toBe('not-a-member');
	expect(await authenticateInBrowser(page, `conversation:${ulid()}`)).toBe('conversation-not-found');
});
