import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import { getUserByUsername } from '../../src/lib/server/users.ts';
import { CloseReason, userDocName } from '../../src/lib/shared/protocol.ts';
import { api, connectDocument, createAccount, uniqueName, waitFor, type Account, type TestServer } from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

type ErrorBody = { error: { code: string; message: string } };
const PASSWORD = 'correct horse battery';

/**
 * One server per describe block, with these LIMIT_* (and other) settings over relaxed ones. The
 * runtime the routes read is process-wide, so a describe block never starts a second one.
 */
function serve(env: Record<string, string>): { readonly server: TestServer } {
	return { server: useTestServer(env) };
}

/** A 429 in the API's error shape, with a Retry-After of whole seconds. */
function expectRateLimited(response: { status: number; body: unknown; headers: Headers }): number {
	expect(response.status).toBe(429);
	const { error } = response.body as ErrorBody;
	expect(error.code).toBe('rate-limited');
	expect(error.message).toMatch(/Try again in \d+ (second|minute|hour)s?\.$/);
	const retryAfter = response.headers.get('retry-after') ?? '';
	expect(retryAfter).toMatch(/^[1-9]\d*$/);
	return Number(retryAfter);
}

const login = (server: TestServer, username: string, password: string, headers: Record<string, string> = {}) =>
	api<ErrorBody>(server.url, '/api/auth/login', { body: { username, password }, headers });

const tokens = (server: TestServer, username: string, password: string, headers: Record<string, string> = {}) =>
	api<ErrorBody>(server.url, '/api/auth/tokens', { body: { username, password }, headers });

describe('[ABUSE-1] login and token attempts', () => {
	const ctx = serve({ LIMIT_LOGIN_ACCOUNT: '3/15m', LIMIT_LOGIN_IP: '100/15m' });

	it('[ABUSE-1] failed attempts on one account are limited; then even the right password is refused, with no session', async () => {
		const { server } = ctx;
		const victim = await createAccount(server.url);
		for (let i = 0; i < 3; i++) expect((await login(server, victim.username, `wrong password ${i}`)).status).toBe(401);
		const right = await login(server, victim.username, PASSWORD);
		const seconds = expectRateLimited(right);
		// One of three tokens per 15 minutes comes back after 5 minutes.
		expect(seconds).toBeGreaterThan(240);
		expect(seconds).toBeLessThanOrEqual(300);
		expect((right.body as ErrorBody).error.message).toMatch(/^Too many login attempts\. Try again in 5 minutes\.$/);
		expect(right.headers.get('set-cookie')).toBeNull();
		// The token endpoint shares the account's budget.
		expectRateLimited(await tokens(server, victim.username, PASSWORD));
		// Another account from the same address is not affected.
		const other = await createAccount(server.url);
		expect((await login(server, other.username, PASSWORD)).status).toBe(200);
	});

	it('[ABUSE-1] a successful login gives its attempt back, so only failures add up', async () => {
		const { server } = ctx;
		const user = await createAccount(server.url);
		expect((await login(server, user.username, 'wrong password')).status).toBe(401);
		expect((await tokens(server, user.username, 'wrong password')).status).toBe(401);
		for (let i = 0; i < 5; i++) expect((await login(server, user.username, PASSWORD)).status).toBe(200);
		expect((await tokens(server, user.username, PASSWORD)).status).toBe(201);
		expect((await login(server, user.username, 'wrong password')).status).toBe(401);
		expectRateLimited(await login(server, user.username, PASSWORD));
	});

	it('[ABUSE-1] unknown usernames are limited like real ones', async () => {
		const { server } = ctx;
		const ghost = uniqueName('ghost');
		for (let i = 0; i < 3; i++) expect((await tokens(server, ghost, 'whatever pw')).status).toBe(401);
		expectRateLimited(await tokens(server, ghost, 'whatever pw'));
	});
});

describe('[ABUSE-1] attempts per address', () => {
	const ctx = serve({ LIMIT_LOGIN_ACCOUNT: '100/15m', LIMIT_LOGIN_IP: '3/15m', TRUST_PROXY: 'true' });

	it('[ABUSE-1] failures spread over many accounts from one address are limited per address', async () => {
		const { server } = ctx;
		const from = (ip: string) => ({ 'x-forwarded-for': `${ip}, 10.0.0.1` });
		const accounts = [await createAccount(server.url), await createAccount(server.url), await createAccount(server.url)];
		for (const account of accounts) expect((await login(server, account.username, 'wrong password', from('203.0.113.9'))).status).toBe(401);
		expectRateLimited(await login(server, accounts[0]!.username, PASSWORD, from('203.0.113.9')));
		expectRateLimited(await tokens(server, accounts[1]!.username, PASSWORD, from('203.0.113.9')));
		// The same people from elsewhere are let in; an IPv6 client counts by its /64.
		expect((await login(server, accounts[0]!.username, PASSWORD, from('203.0.113.10'))).status).toBe(200);
		for (let i = 0; i < 3; i++) expect((await login(server, accounts[2]!.username, 'wrong', from(`2001:db8:1:2::${i + 1}`))).status).toBe(401);
		expectRateLimited(await login(server, accounts[2]!.username, PASSWORD, from('2001:db8:1:2:ffff::9')));
		expect((await login(server, accounts[2]!.username, PASSWORD, from('2001:db8:1:3::1'))).status).toBe(200);
	});
});

describe('[ABUSE-1] X-Forwarded-For without a trusted proxy', () => {
	const ctx = serve({ LIMIT_LOGIN_ACCOUNT: '100/15m', LIMIT_LOGIN_IP: '2/15m' });

	it('[ABUSE-1] is ignored: the socket address counts, so a forged header escapes nothing', async () => {
		const { server } = ctx;
		const account = await createAccount(server.url);
		for (const ip of ['198.51.100.1', '198.51.100.2']) {
			expect((await login(server, account.username, 'wrong password', { 'x-forwarded-for': ip })).status).toBe(401);
		}
		expectRateLimited(await login(server, account.username, PASSWORD, { 'x-forwarded-for': '198.51.100.3' }));
	});
});

describe('[ABUSE-1] sign-ups per address', () => {
	const ctx = serve({ LIMIT_SIGNUP_IP: '2/h' });

	it('[ABUSE-1] accounts created from one address are limited, and a refused sign-up creates nothing', async () => {
		const { server } = ctx;
		const first = uniqueName();
		expect((await api(server.url, '/api/auth/signup', { body: { username: first, password: PASSWORD } })).status).toBe(201);
		// Refused sign-ups (a taken name, a bad body) cost nothing.
		expect((await api(server.url, '/api/auth/signup', { body: { username: first, password: PASSWORD } })).status).toBe(409);
		expect((await api(server.url, '/api/auth/signup', { body: { username: 'x', password: PASSWORD } })).status).toBe(400);
		expect((await api(server.url, '/api/auth/signup', { body: { username: uniqueName(), password: PASSWORD } })).status).toBe(201);
		const refused = uniqueName();
		const response = await api(server.url, '/api/auth/signup', { body: { username: refused, password: PASSWORD } });
		const seconds = expectRateLimited(response);
		expect(seconds).toBeGreaterThan(1700);
		expect(seconds).toBeLessThanOrEqual(1800);
		expect(response.headers.get('set-cookie')).toBeNull();
		expect(getUserByUsername(server.app.core.db, refused)).toBeUndefined();
	});
});

describe('[ABUSE-1] groups and members per user', () => {
	const ctx = serve({ LIMIT_GROUPS_CREATED: '2/m', LIMIT_MEMBERS_ADDED: '4/m' });
	let people: Account[];
	beforeAll(async () => {
		people = [];
		for (let i = 0; i < 6; i++) people.push(await createAccount(ctx.server.url));
	});

	const conversationsOf = async (account: Account) =>
		(await api<{ conversations: Array<{ id: string; kind: string; members: unknown[] }> }>(ctx.server.url, '/api/conversations', { token: account.token })).body
			.conversations;

	it('[ABUSE-1] groups created per user are limited, and a refused one is not created', async () => {
		const { server } = ctx;
		const [owner, friend] = [people[0]!, people[1]!];
		for (const title of ['One', 'Two']) {
			const created = await api(server.url, '/api/conversations', { token: owner.token, body: { kind: 'group', title, members: [friend.username] } });
			expect(created.status).toBe(201);
		}
		const refused = await api<ErrorBody>(server.url, '/api/conversations', {
			token: owner.token,
			body: { kind: 'group', title: 'Three', members: [friend.username] }
		});
		expectRateLimited(refused);
		expect(refused.body.error.message).toMatch(/^Too many new groups\./);
		expect((await conversationsOf(owner)).length).toBe(2);
		// Someone else's budget is their own.
		expect((await api(server.url, '/api/conversations', { token: friend.token, body: { kind: 'group', title: 'Mine', members: [owner.username] } })).status).toBe(201);
	});

	it('[ABUSE-1] people added are counted one by one: at creation, by adds and by new direct chats', async () => {
		const { server } = ctx;
		const [owner, a, b, c, d] = [people[2]!, people[3]!, people[4]!, people[5]!, people[0]!];
		// 2 of 4: a group with two others (duplicates and the owner's own name are not counted).
		const group = await api<{ conversation: { id: string } }>(server.url, '/api/conversations', {
			token: owner.token,
			body: { kind: 'group', title: 'Crowd', members: [a.username, b.username, a.username, owner.username] }
		});
		expect(group.status).toBe(201);
		const id = group.body.conversation.id;
		// 3 of 4: a new direct conversation; opening it again is free.
		expect((await api(server.url, '/api/conversations', { token: owner.token, body: { kind: 'direct', members: [c.username] } })).status).toBe(201);
		expect((await api(server.url, '/api/conversations', { token: owner.token, body: { kind: 'direct', members: [c.username] } })).status).toBe(200);
		// Listing people who are members already adds nobody and costs nothing.
		expect((await api(server.url, `/api/conversations/${id}/members`, { token: owner.token, body: { members: [a.username] } })).status).toBe(200);
		// Two more people need two tokens; one is left, so nobody is added.
		const refused = await api<ErrorBody>(server.url, `/api/conversations/${id}/members`, { token: owner.token, body: { members: [c.username, d.username] } });
		expectRateLimited(refused);
		expect(refused.body.error.message).toMatch(/^Too many people added to conversations\./);
		const members = async () => (await conversationsOf(owner)).find((conversation) => conversation.id === id)!.members.length;
		expect(await members()).toBe(3);
		// 4 of 4: one person fits.
		expect((await api(server.url, `/api/conversations/${id}/members`, { token: owner.token, body: { members: [c.username] } })).status).toBe(200);
		expect(await members()).toBe(4);
		expectRateLimited(await api(server.url, '/api/conversations', { token: owner.token, body: { kind: 'direct', members: [d.username] } }));
		expect((await conversationsOf(d)).some((conversation) => conversation.kind === 'direct')).toBe(false);
	});
});

describe('[ABUSE-1] messages sent over REST per user', () => {
	const ctx = serve({ LIMIT_MESSAGES: '3/m' });

	it('[ABUSE-1] new messages are limited; retries of a stored id are answered and not charged', async () => {
		const { server } = ctx;
		const [alice, bob] = [await createAccount(server.url), await createAccount(server.url)];
		const created = await api<{ conversation: { id: string } }>(server.url, '/api/conversations', {
			token: alice.token,
			body: { kind: 'direct', members: [bob.username] }
		});
		const path = `/api/conversations/${created.body.conversation.id}/messages`;
		const send = (id: string, body = 'hello') => api<ErrorBody>(server.url, path, { token: alice.token, body: { id, body } });
		const first = ulid();
		expect((await send(first)).status).toBe(201);
		for (let i = 0; i < 5; i++) expect((await send(first)).status).toBe(200);
		expect((await send(ulid())).status).toBe(201);
		expect((await send(ulid())).status).toBe(201);
		const refused = await send(ulid());
		expect(expectRateLimited(refused)).toBeLessThanOrEqual(20);
		expect(refused.body.error.message).toMatch(/^You are sending messages too fast\./);
		// Still answered while limited: the retry stores nothing new.
		expect((await send(first)).status).toBe(200);
		const history = await api<{ messages: unknown[] }>(server.url, path, { token: alice.token });
		expect(history.body.messages).toHaveLength(3);
		// Bob's budget is his own.
		expect((await api(server.url, path, { token: bob.token, body: { body: 'hi' } })).status).toBe(201);
	});
});

describe('[ABUSE-2] display names', () => {
	const ctx = serve({});

	it('[ABUSE-2] invisible, zero-width, bidi-control and control characters are refused with invalid-input', async () => {
		const { server } = ctx;
		const hidden = ['ad\u200Bmin', 'Bob\u200E', 'evil\u202Egnp.exe', '\u2066Alice\u2069', 'Al\uFEFFice', 'line\u0007bell', 'new\nline', 'blank\u3164'];
		for (const displayName of hidden) {
			const username = uniqueName();
			const response = await api<ErrorBody>(server.url, '/api/auth/signup', { body: { username, password: PASSWORD, displayName } });
			expect([response.status, response.body.error.code], JSON.stringify(displayName)).toEqual([400, 'invalid-input']);
			expect(response.body.error.message).toBe('Display names cannot contain invisible characters or characters that change the direction of text.');
			expect(getUserByUsername(server.app.core.db, username)).toBeUndefined();
		}
	});

	it('[ABUSE-2] letters of any script, accents and emoji (joined ones too) are fine', async () => {
		const { server } = ctx;
		for (const displayName of ['Zoë Ångström', 'محمد', '李雷', 'Ana 🌵', '👩‍💻 dev', '❤️']) {
			const response = await api<{ user: { displayName: string } }>(server.url, '/api/auth/signup', {
				body: { username: uniqueName(), password: PASSWORD, displayName }
			});
			expect([response.status, response.body.user.displayName]).toEqual([201, displayName]);
		}
	});
});

describe('[SEC-1] security headers', () => {
	const ctx = serve({});

	it('[SEC-1] a page carries a CSP whose nonce is on its inline script, and the other headers', async () => {
		const { server } = ctx;
		const response = await fetch(`${server.url}/login`);
		expect(response.status).toBe(200);
		const csp = response.headers.get('content-security-policy') ?? '';
		const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
		const host = new URL(server.url).host;
		expect(directives.get('default-src')).toEqual(["'self'"]);
		expect(directives.get('connect-src')).toEqual(["'self'", `ws://${host}`]);
		expect(directives.get('img-src')).toEqual(["'self'", 'data:', 'blob:']);
		expect(directives.get('object-src')).toEqual(["'none'"]);
		expect(directives.get('base-uri')).toEqual(["'self'"]);
		expect(directives.get('form-action')).toEqual(["'self'"]);
		expect(directives.get('frame-ancestors')).toEqual(["'none'"]);
		const scriptSrc = directives.get('script-src') ?? [];
		expect(scriptSrc).not.toContain("'unsafe-inline'");
		const nonce = /^'nonce-(.+)'$/.exec(scriptSrc.find((s) => s.startsWith("'nonce-")) ?? '')?.[1];
		expect(nonce).toBeTruthy();
		const html = await response.text();
		const inline = [...html.matchAll(/<script([^>]*)>/g)].map((m) => m[1]!).filter((attrs) => !attrs.includes('src='));
		expect(inline.length).toBeGreaterThan(0);
		for (const attrs of inline) expect(attrs).toContain(`nonce="${nonce}"`);
		expect(response.headers.get('x-content-type-options')).toBe('nosniff');
		expect(response.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
		expect(response.headers.get('x-frame-options')).toBe('DENY');
	});

	it('[SEC-1] API responses, errors included, and static files carry them too', async () => {
		const { server } = ctx;
		for (const [path, status] of [['/api/me', 401], ['/api/nothing', 404], ['/api/auth/signup', 415]] as const) {
			const response = await fetch(server.url + path, { method: path === '/api/auth/signup' ? 'POST' : 'GET' });
			expect(response.status, path).toBe(status);
			expect(response.headers.get('content-type')).toMatch(/^application\/json/);
			expect(response.headers.get('content-security-policy')).toBe("default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
			expect(response.headers.get('x-content-type-options')).toBe('nosniff');
			expect(response.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
			expect(response.headers.get('x-frame-options')).toBe('DENY');
		}
		const icon = await fetch(`${server.url}/favicon.svg`);
		expect(icon.status).toBe(200);
		expect(icon.headers.get('x-content-type-options')).toBe('nosniff');
		expect(icon.headers.get('referrer-policy')).toBe('strict-origin-when-cross-origin');
	});
});

describe('[SEC-1] security headers with ALLOWED_ORIGINS', () => {
	const ctx = serve({ ALLOWED_ORIGINS: 'https://shop.example, https://portal.example' });

	it('[SEC-1] pages may be framed by the allowed origins only', async () => {
		const response = await fetch(`${ctx.server.url}/`);
		const csp = response.headers.get('content-security-policy') ?? '';
		expect(csp).toContain('frame-ancestors https://shop.example https://portal.example');
		expect(csp).not.toContain("frame-ancestors 'none'");
		// X-Frame-Options cannot list origins; frame-ancestors speaks for it.
		expect(response.headers.get('x-frame-options')).toBeNull();
	});
});

async function cookieAndPeer(server: TestServer): Promise<{ cookie: string; peer: Account }> {
	const user = await createAccount(server.url);
	const peer = await createAccount(server.url);
	const response = await login(server, user.username, PASSWORD);
	return { cookie: (response.headers.get('set-cookie') ?? '').split(';')[0]!, peer };
}

const createDirect = (server: TestServer, cookie: string, peer: Account, headers: Record<string, string>) =>
	api<ErrorBody>(server.url, '/api/conversations', { body: { kind: 'direct', members: [peer.username] }, headers: { cookie, ...headers } });

describe('[ACCESS-4] the Origin check compares schemes', () => {
	const ctx = serve({ ALLOWED_ORIGINS: 'https://portal.example' });

	it('[ACCESS-4] an https Origin on the same host is foreign to the http app, and an http one to an allowed https origin', async () => {
		const { server } = ctx;
		const { cookie, peer } = await cookieAndPeer(server);
		const host = new URL(server.url).host;
		const other = await createDirect(server, cookie, peer, { origin: `https://${host}` });
		expect([other.status, other.body.error?.code]).toEqual([403, 'cross-site-request']);
		expect((await createDirect(server, cookie, peer, { origin: 'http://portal.example' })).status).toBe(403);
		expect((await createDirect(server, cookie, peer, { origin: 'https://portal.example' })).status).toBe(201);
		expect((await createDirect(server, cookie, peer, { origin: `http://${host}` })).status).toBe(200);
	});
});

describe('[ACCESS-4] the Origin check behind a proxy', () => {
	const ctx = serve({ TRUST_PROXY: 'true' });

	it('[ACCESS-4] behind a trusted TLS proxy the app is https, so an http Origin is foreign', async () => {
		const { server } = ctx;
		const { cookie, peer } = await cookieAndPeer(server);
		const host = new URL(server.url).host;
		const plain = await createDirect(server, cookie, peer, { origin: `http://${host}`, 'x-forwarded-proto': 'https' });
		expect([plain.status, plain.body.error?.code]).toEqual([403, 'cross-site-request']);
		expect((await createDirect(server, cookie, peer, { origin: `https://${host}`, 'x-forwarded-proto': 'https' })).status).toBe(201);
	});
});

describe('[ACCESS-3] a session replaced at login', () => {
	const ctx = serve({});

	it('[ACCESS-3] a socket opened with the old cookie session closes with session-ended when the same browser logs in again', async () => {
		const { server } = ctx;
		const user = await createAccount(server.url);
		const first = await login(server, user.username, PASSWORD);
		const oldCookie = (first.headers.get('set-cookie') ?? '').split(';')[0]!;
		const oldToken = oldCookie.split('=')[1]!;
		const stale = connectDocument(server.wsUrl, userDocName(user.id), oldToken);
		const bystander = connectDocument(server.wsUrl, userDocName(user.id), user.token);
		await Promise.all([stale.synced, bystander.synced]);
		const again = await login(server, user.username, PASSWORD, { cookie: oldCookie });
		expect(again.status).toBe(200);
		await waitFor(() => stale.refusals.includes(CloseReason.SessionEnded), 2000, 'the old session’s socket to close');
		expect(bystander.refusals).toEqual([]);
		expect((await api(server.url, '/api/me', { headers: { cookie: oldCookie } })).status).toBe(401);
		stale.destroy();
		bystander.destroy();
	});
});
