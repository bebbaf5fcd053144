import sharp from 'sharp';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, UnsecuredJWT } from 'jose';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import { registerPlatform } from '../../src/lib/server/platforms.ts';
import type { ContextDto, ConversationDto, ConversationSummary, MessageDto, PublicUser } from '../../src/lib/shared/api-types.ts';
import { api, createAccount, spawnServer, tempDataDir, waitFor, type Account } from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

type ErrorBody = { error: { code: string } };
type Start = { conversation: ConversationDto; message?: MessageDto };

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const nowS = () => Math.floor(Date.now() / 1000);

interface TokenClaims {
	iss?: string;
	sub?: string;
	aud?: string;
	jti?: string;
	/** Epoch seconds; `null`: no exp claim. Default: 5 minutes ahead. */
	exp?: number | null;
	name?: string;
	alg?: 'HS256' | 'HS512';
	secret?: string;
	/** Raw claims on top (a sub or jti that is not a string); use with `omit`. */
	raw?: Record<string, unknown>;
}

describe('host platforms (PLATFORM-1 to PLATFORM-4)', () => {
	const server = useTestServer({ FETCH_PRIVATE_ADDRESSES: 'true' });
	let marketSecret: string;
	let otherSecret: string;
	let market: string;
	let local: Account;

	/** A token the market (or `claims.iss`) signs, HS256 with its secret unless told otherwise. */
	async function token(claims: TokenClaims = {}, omit: Array<'sub' | 'jti'> = []): Promise<string> {
		const payload: Record<string, unknown> = {};
		if (claims.name !== undefined) payload.name = claims.name;
		Object.assign(payload, claims.raw);
		const jwt = new SignJWT(payload)
			.setProtectedHeader({ alg: claims.alg ?? 'HS256' })
			.setIssuer(claims.iss ?? 'market')
			.setAudience(claims.aud ?? 'basement-chat')
			.setIssuedAt();
		if (!omit.includes('sub')) jwt.setSubject(claims.sub ?? 'alice');
		if (!omit.includes('jti')) jwt.setJti(claims.jti ?? randomUUID());
		if (claims.exp !== null) jwt.setExpirationTime(claims.exp ?? nowS() + 300);
		return jwt.sign(new TextEncoder().encode(claims.secret ?? marketSecret));
	}

	/** Opens a sign-in link (no redirect following): the status, where it goes, the session cookie it sets, its error. */
	async function signIn(jwt: string, next = '/', cookie?: string): Promise<{ status: number; location: string | null; cookie: string | null; code: string | null }> {
		const response = await fetch(`${server.url}/api/platform/sign-in?${new URLSearchParams({ token: jwt, next })}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
		const set = response.headers.getSetCookie().find((c) => c.startsWith('session=') && !c.startsWith('session=;'));
		const text = await response.text();
		const code = response.status >= 400 && text ? (JSON.parse(text) as ErrorBody).error.code : null;
		return { status: response.status, location: response.headers.get('location'), cookie: set ? set.split(';')[0]! : null, code };
	}

	/** A browser session for one of the market's users, through a fresh sign-in link. */
	async function sessionFor(sub: string, name?: string): Promise<string> {
		const result = await signIn(await token({ sub, name }));
		expect(result.status).toBe(303);
		return result.cookie!;
	}

	/** A same-origin request with a session cookie, as the chat's own pages make. */
	function as<T>(cookie: string, path: string, options: { method?: string; body?: unknown } = {}) {
		return api<T>(server.url, path, { ...options, headers: { cookie, origin: server.url } });
	}

	function platformPut<T>(path: string, body: unknown, authorization: string | null = market) {
		return api<T>(server.url, `/api/platform${path}`, { method: 'PUT', body, headers: authorization === null ? {} : { authorization } });
	}

	beforeAll(async () => {
		// Photos come from a local server in these tests (ATTACH-1); private addresses are refused by default (checked below).
		marketSecret = registerPlatform(server.app.core.db, 'market', 'Campus market').secret;
		otherSecret = registerPlatform(server.app.core.db, 'other', 'Other site').secret;
		market = basic('market', marketSecret);
		local = await createAccount(server.url);
	});


	it('[PLATFORM-1] the platform API takes Basic <id>:<secret> only: no header, a wrong or another platform’s secret, an unknown platform, a malformed header, a user’s session are 401', async () => {
		const body = { displayName: 'Alice' };
		const refused: Array<[string, string | null]> = [
			['no header', null],
			['wrong secret', basic('market', 'x'.repeat(marketSecret.length))],
			['another platform’s secret', basic('market', otherSecret)],
			['the secret with something after it', basic('market', `${marketSecret}:x`)],
			['unknown platform', basic('nowhere', marketSecret)],
			['no secret', `Basic ${Buffer.from('market').toString('base64')}`],
			['empty secret', basic('market', '')],
			['not base64', 'Basic !!!not-base64!!!'],
			['the secret alone', `Bearer ${marketSecret}`]
		];
		for (const [what, authorization] of refused) {
			const response = await platformPut<ErrorBody>('/users/alice', body, authorization);
			expect([what, response.status, response.body?.error.code]).toEqual([what, 401, authorization?.startsWith('Bearer') ? 'invalid-token' : 'invalid-platform-key']);
		}
		// A signed-in user (a bearer token or a cookie) is no platform.
		const bearer = await api<ErrorBody>(server.url, '/api/platform/users/alice', { method: 'PUT', token: local.token, body });
		expect([bearer.status, bearer.body.error.code]).toEqual([401, 'invalid-platform-key']);
		const contextAsUser = await api<ErrorBody>(server.url, '/api/platform/contexts/post/x', { method: 'PUT', token: local.token, body: { title: 'x', owner: 'alice' } });
		expect([contextAsUser.status, contextAsUser.body.error.code]).toEqual([401, 'invalid-platform-key']);
		const login = await fetch(`${server.url}/api/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', origin: server.url }, body: JSON.stringify({ username: local.username, password: 'correct horse battery' }) });
		const cookie = login.headers.getSetCookie()[0]!.split(';')[0]!;
		expect((await as<{ user: PublicUser }>(cookie, '/api/me')).body.user.id).toBe(local.id);
		const byCookie = await as<ErrorBody>(cookie, '/api/platform/users/alice', { method: 'PUT', body });
		expect([byCookie.status, byCookie.body.error.code]).toEqual([401, 'invalid-platform-key']);
		// Nothing was created by the refused calls.
		expect(server.app.core.db.$client.prepare("select count(*) as n from users where platform_id is not null").get()).toEqual({ n: 0 });
		// The right key works.
		const created = await platformPut<{ user: PublicUser }>('/users/alice', body);
		expect(created.status).toBe(201);
	});

	it('[PLATFORM-4] a platform registered with its origins may frame the chat’s pages (frame-ancestors), and bad origins are refused', async () => {
		registerPlatform(server.app.core.db, 'framer', 'Framer', ['https://framer.example/some/page', 'http://localhost:4000']);
		// The origins are read again within a few seconds (the command runs in another process).
		await waitFor(async () => ((await fetch(`${server.url}/login`)).headers.get('content-security-policy') ?? '').includes('https://framer.example'), 8000, 'the new frame-ancestors');
		const policy = (await fetch(`${server.url}/login`)).headers.get('content-security-policy') ?? '';
		expect(policy).toMatch(/frame-ancestors [^;]*https:\/\/framer\.example/);
		expect(policy).toMatch(/frame-ancestors [^;]*http:\/\/localhost:4000/);
		expect(() => registerPlatform(server.app.core.db, 'badorigin', 'x', ['javascript:alert(1)'])).toThrow(/origin/);
		expect(() => registerPlatform(server.app.core.db, 'badorigin', 'x', ['not a url'])).toThrow(/origin/);
	});

	it('[PLATFORM-1] a user’s photo comes from the platform’s URL through the upload pipeline: fetched once per URL, a square thumbnail, an unreachable one a clear error', async () => {
		const photo = await sharp({ create: { width: 300, height: 200, channels: 3, background: '#38c' } }).jpeg().toBuffer();
		let fetched = 0;
		const photos = createServer((request, response) => {
			if (request.url !== '/me.jpg') {
				response.writeHead(404);
				response.end();
				return;
			}
			fetched += 1;
			response.writeHead(200, { 'content-type': 'image/jpeg' });
			response.end(photo);
		});
		await new Promise<void>((resolve) => photos.listen(0, '127.0.0.1', resolve));
		const base = `http://127.0.0.1:${(photos.address() as AddressInfo).port}`;
		try {
			const put = (body: unknown) => api<{ user: { avatar: string | null }; error?: { code: string } }>(server.url, '/api/platform/users/pic', { method: 'PUT', headers: { authorization: basic('market', marketSecret) }, body });
			const first = await put({ displayName: 'Pic', avatarUrl: `${base}/me.jpg` });
			expect(first.status).toBe(201);
			expect(first.body.user.avatar).toMatch(/^[0-9A-Z]{26}$/);
			const viewer = await createAccount(server.url);
			const thumbnail = await fetch(`${server.url}/api/uploads/${first.body.user.avatar}/thumbnail`, { headers: { authorization: `Bearer ${viewer.token}` } });
			const meta = await sharp(Buffer.from(await thumbnail.arrayBuffer())).metadata();
			expect([thumbnail.status, meta.width, meta.height]).toEqual([200, 256, 256]);
			// The same URL again: not fetched again.
			expect((await put({ displayName: 'Pic', avatarUrl: `${base}/me.jpg` })).body.user.avatar).toBe(first.body.user.avatar);
			expect(fetched).toBe(1);
			const unreachable = await put({ displayName: 'Pic', avatarUrl: `${base}/gone.jpg` });
			expect([unreachable.status, unreachable.body.error?.code]).toEqual([400, 'avatar-unreachable']);
			const removed = await put({ displayName: 'Pic', avatarUrl: null });
			expect(removed.body.user.avatar).toBeNull();
			const notHttp = await put({ displayName: 'Pic', avatarUrl: 'file:///etc/passwd' });
			expect(notHttp.status).toBe(400);
			// By default a platform cannot make the chat fetch from this machine or a private network
			// (a server of its own, in its own process: the runtime is one per process).
			const strictData = tempDataDir();
			const registered = await new Promise<string>((resolve) => {
				const child = spawn(process.execPath, ['--import', 'tsx', 'server/platform-cli.ts', 'add', 'market'], { cwd: ROOT, env: { ...process.env, DATA_DIR: strictData.dir }, stdio: ['ignore', 'pipe', 'inherit'] });
				let out = '';
				child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
				child.once('close', () => resolve(out));
			});
			const secret = /secret: (\S+)/.exec(registered)![1]!;
			const strict = await spawnServer(strictData.dir);
			try {
				for (const url of [`${base}/me.jpg`, 'http://localhost:1/me.jpg', 'http://169.254.169.254/latest/meta-data', 'http://[::1]/me.jpg', 'http://10.1.2.3/me.jpg']) {
					const refused = await api<ErrorBody>(strict.url, '/api/platform/users/pic', { method: 'PUT', headers: { authorization: basic('market', secret) }, body: { displayName: 'Pic', avatarUrl: url } });
					expect([url, refused.status, refused.body.error.code]).toEqual([url, 400, 'avatar-unreachable']);
				}
				expect(fetched).toBe(1);
			} finally {
				await strict.kill('SIGTERM');
				strictData.remove();
			}
		} finally {
			photos.close();
		}
	});

	it('[PLATFORM-1] users are upserted by the platform’s own id (201 then 200), named <platform>_<id>, with no password; bad ids and bodies are 400', async () => {
		const first = await platformPut<{ user: PublicUser }>('/users/bob', { displayName: 'Bob' });
		expect(first.status).toBe(201);
		expect(first.body.user).toMatchObject({ id: expect.any(String), username: 'market_bob', displayName: 'Bob', avatar: null });
		const again = await platformPut<{ user: PublicUser }>('/users/bob', { displayName: '  Bob B.  ', staff: false });
		expect(again.status).toBe(200);
		expect(again.body.user).toMatchObject({ id: first.body.user.id, username: 'market_bob', displayName: 'Bob B.' });
		// The same id on another platform is another person.
		const elsewhere = await platformPut<{ user: PublicUser }>('/users/bob', { displayName: 'Other Bob' }, basic('other', otherSecret));
		expect(elsewhere.status).toBe(201);
		expect(elsewhere.body.user.username).toBe('other_bob');
		expect(elsewhere.body.user.id).not.toBe(first.body.user.id);
		// Ids are cleaned into the username rule; two that clean alike get two usernames.
		const odd = await platformPut<{ user: PublicUser }>(`/users/${encodeURIComponent('U-42.x')}`, { displayName: 'Odd' });
		expect([odd.status, odd.body.user.username]).toEqual([201, 'market_u_42_x']);
		const twin = await platformPut<{ user: PublicUser }>('/users/u_42_x', { displayName: 'Twin' });
		expect(twin.status).toBe(201);
		expect(twin.body.user.username).toMatch(/^market_u_42_x_[a-z0-9]{6}$/);
		expect(twin.body.user.id).not.toBe(odd.body.user.id);
		const oddAgain = await platformPut<{ user: PublicUser }>(`/users/${encodeURIComponent('U-42.x')}`, { displayName: 'Odd' });
		expect([oddAgain.status, oddAgain.body.user.id]).toEqual([200, odd.body.user.id]);

		// No password works for them: they sign in through the platform only.
		for (const password of ['', 'correct horse battery', 'x']) {
			const login = await api<ErrorBody>(server.url, '/api/auth/login', { body: { username: 'market_bob', password } });
			expect([login.status, login.body.error.code]).toEqual([401, 'invalid-credentials']);
			const bearer = await api<ErrorBody>(server.url, '/api/auth/tokens', { body: { username: 'market_bob', password } });
			expect([bearer.status, bearer.body.error.code]).toEqual([401, 'invalid-credentials']);
		}
		// Nor can someone sign up as them.
		const signup = await api(server.url, '/api/auth/signup', { body: { username: 'market_bob', password: 'correct horse battery' } });
		expect(signup.status).not.toBe(201);

		const badBodies: unknown[] = [{}, { displayName: '' }, { displayName: '   ' }, { displayName: 'x'.repeat(500) }, { displayName: 'B', staff: 'yes' }, { displayName: 'B', admin: true }, [], 'not json'];
		for (const body of badBodies) {
			const response = await platformPut<ErrorBody>('/users/carl', body);
			expect([JSON.stringify(body), response.status]).toEqual([JSON.stringify(body), 400]);
		}
		for (const id of ['a%20b', 'x'.repeat(201), '%C3%A9']) {
			const response = await platformPut<ErrorBody>(`/users/${id}`, { displayName: 'Bad id' });
			expect([id, response.status, response.body.error.code]).toEqual([id, 400, 'invalid-request']);
		}
		expect(server.app.core.db.$client.prepare("select count(*) as n from users where external_id = 'carl'").get()).toEqual({ n: 0 });
	});

	it('[PLATFORM-1] contexts: the platform creates and updates its own for its users; namespaces never meet (another platform or a user writing the same id makes their own), a user cannot write into a platform’s, an owner it has not created 404, bad input 400', async () => {
		const alice = (await platformPut<{ user: PublicUser }>('/users/alice', { displayName: 'Alice' })).body.user;
		const bob = (await platformPut<{ user: PublicUser }>('/users/bob', { displayName: 'Bob' })).body.user;
		const path = `/contexts/post/${encodeURIComponent('market/123')}`;
		const created = await platformPut<{ context: ContextDto }>(path, { title: 'Road bike', url: 'https://market.example/p/123', imageUrl: 'https://market.example/p/123.jpg', owner: 'alice' });
		expect(created.status).toBe(201);
		expect(created.body.context).toMatchObject({ kind: 'post', externalId: 'market/123', title: 'Road bike', url: 'https://market.example/p/123', imageUrl: 'https://market.example/p/123.jpg', ownerId: alice.id });
		const updated = await platformPut<{ context: ContextDto }>(path, { title: 'Road bike, 54 cm', owner: 'alice' });
		expect(updated.status).toBe(200);
		expect(updated.body.context).toMatchObject({ kind: 'post', externalId: 'market/123', title: 'Road bike, 54 cm', url: null, imageUrl: null, ownerId: alice.id });
		// The platform may hand it to another of its users.
		const handed = await platformPut<{ context: ContextDto }>(path, { title: 'Road bike, 54 cm', owner: 'bob' });
		expect([handed.status, handed.body.context.ownerId]).toEqual([200, bob.id]);
		await platformPut(path, { title: 'Road bike, 54 cm', owner: 'alice' });
		const seen = await api<{ context: ContextDto }>(server.url, `/api/contexts${path.slice('/contexts'.length)}?platform=market`, { token: local.token });
		expect(seen.body.context).toMatchObject({ title: 'Road bike, 54 cm', ownerId: alice.id });

		// An owner the platform has not created (or that only another platform has) is 404.
		const unknownOwner = await platformPut<ErrorBody>('/contexts/post/market-9', { title: 'x', owner: 'nobody' });
		expect([unknownOwner.status, unknownOwner.body.error.code]).toEqual([404, 'user-not-found']);
		await platformPut('/users/zed', { displayName: 'Zed' }, basic('other', otherSecret));
		const foreignOwner = await platformPut<ErrorBody>('/contexts/post/market-9', { title: 'x', owner: 'zed' });
		expect([foreignOwner.status, foreignOwner.body.error.code]).toEqual([404, 'user-not-found']);
		const localOwner = await platformPut<ErrorBody>('/contexts/post/market-9', { title: 'x', owner: local.username });
		expect([localOwner.status, localOwner.body.error.code]).toEqual([404, 'user-not-found']);

		// Namespaces never meet: another platform writing the same (kind, id) makes its own context,
		// a user writing it makes their own, and the market's stays as it was (CTX-1).
		const otherPlatform = await platformPut<{ context: ContextDto }>(path, { title: 'Other site’s post', owner: 'zed' }, basic('other', otherSecret));
		expect([otherPlatform.status, otherPlatform.body.context.platform]).toEqual([201, 'other']);
		const byUser = await api<{ context: ContextDto }>(server.url, `/api/contexts${path.slice('/contexts'.length)}`, { method: 'PUT', token: local.token, body: { title: 'Mine now' } });
		expect([byUser.status, byUser.body.context.platform]).toEqual([201, null]);
		// A user cannot write into a platform's namespace, not even the context's owner signed in through the platform.
		const intoPlatform = await api<ErrorBody>(server.url, `/api/contexts${path.slice('/contexts'.length)}?platform=market`, { method: 'PUT', token: local.token, body: { title: 'Mine now' } });
		expect([intoPlatform.status, intoPlatform.body.error.code]).toEqual([403, 'not-context-owner']);
		const aliceCookie = await sessionFor('alice');
		const byOwner = await as<ErrorBody>(aliceCookie, `/api/contexts${path.slice('/contexts'.length)}?platform=market`, { method: 'PUT', body: { title: 'Mine, renamed by me' } });
		expect([byOwner.status, byOwner.body.error.code]).toEqual([403, 'not-context-owner']);
		const after = await api<{ context: ContextDto }>(server.url, `/api/contexts${path.slice('/contexts'.length)}?platform=market`, { token: local.token });
		expect(after.body.context).toMatchObject({ title: 'Road bike, 54 cm', ownerId: alice.id, platform: 'market' });
		// Someone else's own context is theirs.
		const theirs = await api<ErrorBody>(server.url, `/api/contexts${path.slice('/contexts'.length)}`, { method: 'PUT', token: (await createAccount(server.url)).token, body: { title: 'Taken over' } });
		expect([theirs.status, theirs.body.error.code]).toEqual([403, 'not-context-owner']);
		const badPlatform = await api<ErrorBody>(server.url, `/api/contexts${path.slice('/contexts'.length)}?platform=Not_A_Platform`, { token: local.token });
		expect([badPlatform.status, badPlatform.body.error.code]).toEqual([400, 'invalid-context']);

		const badBodies: unknown[] = [
			{ owner: 'alice' },
			{ title: 'x' },
			{ title: '', owner: 'alice' },
			{ title: 'x', owner: 'has space' },
			{ title: 'x', owner: 'alice', audience: 'everyone' },
			{ title: 'x', owner: 'alice', url: 'javascript:alert(1)' },
			{ title: 'x', owner: 'alice', imageUrl: 'data:image/png;base64,AAAA' },
			{ title: 'x', owner: 'alice', extra: 1 }
		];
		for (const body of badBodies) {
			const response = await platformPut<ErrorBody>('/contexts/post/market-10', body);
			expect([JSON.stringify(body), response.status, response.body.error.code]).toEqual([JSON.stringify(body), 400, 'invalid-request']);
		}
		for (const bad of ['Post!/x', 'post/a%20b', `post/${'x'.repeat(201)}`]) {
			const response = await platformPut<ErrorBody>(`/contexts/${bad}`, { title: 'x', owner: 'alice' });
			expect([bad, response.status, response.body.error.code]).toEqual([bad, 400, 'invalid-context']);
		}
		const missing = await api(server.url, '/api/contexts/post/market-10?platform=market', { token: local.token });
		expect(missing.status).toBe(404);
	});

	it('[PLATFORM-2] a signed link becomes a cookie session for /api/me and goes on to next; the first one creates the user from name; a replay is refused unless it is the same user’s session', async () => {
		const jwt = await token({ sub: 'dana', name: '  Dana D.  ' });
		const first = await signIn(jwt, '/contact/post/market%2F123?x=1');
		expect(first).toMatchObject({ status: 303, location: '/contact/post/market%2F123?x=1' });
		expect(first.cookie).toMatch(/^session=.+/);
		const me = await as<{ user: PublicUser }>(first.cookie!, '/api/me');
		expect(me.status).toBe(200);
		expect(me.body.user).toMatchObject({ username: 'market_dana', displayName: 'Dana D.' });
		// The platform's API sees the same user.
		const upsert = await platformPut<{ user: PublicUser }>('/users/dana', { displayName: 'Dana' });
		expect([upsert.status, upsert.body.user.id]).toEqual([200, me.body.user.id]);
		// The session is a real one: it reaches other endpoints.
		const list = await as<{ conversations: ConversationSummary[] }>(first.cookie!, '/api/conversations');
		expect(list.status).toBe(200);

		// The same link again: without a session, or with someone else's, refused; with Dana's own, it just goes on.
		const bare = await signIn(jwt, '/x');
		expect([bare.status, bare.code, bare.cookie]).toEqual([401, 'invalid-sign-in-token', null]);
		const erin = await sessionFor('erin', 'Erin');
		const other = await signIn(jwt, '/x', erin);
		expect([other.status, other.code]).toEqual([409, 'signed-in-as-someone-else']);
		expect((await as<{ user: PublicUser }>(erin, '/api/me')).body.user.username).toBe('market_erin');
		const same = await signIn(jwt, '/again', first.cookie!);
		expect([same.status, same.location]).toEqual([303, '/again']);
		expect((await as<{ user: PublicUser }>(first.cookie!, '/api/me')).body.user.id).toBe(me.body.user.id);

		// A later name does not rename an existing user (the platform's API does that); no name is fine for an existing one.
		const existing = await signIn(await token({ sub: 'dana', name: 'Someone else' }));
		expect(existing.status).toBe(303);
		expect((await as<{ user: PublicUser }>(existing.cookie!, '/api/me')).body.user).toMatchObject({ id: me.body.user.id, displayName: 'Dana' });
		const noName = await signIn(await token({ sub: 'dana' }));
		expect(noName.status).toBe(303);

		// A link never switches the account of a browser signed in as someone else (a link sent by
		// another user must not sign the victim in as them): 409, Erin stays Erin, and the token is not spent.
		const fresh = await token({ sub: 'dana' });
		const switched = await signIn(fresh, '/', erin);
		expect([switched.status, switched.code]).toEqual([409, 'signed-in-as-someone-else']);
		// At most Erin's own session cookie comes back (refreshed, as on every request).
		expect([null, erin]).toContain(switched.cookie);
		expect((await as<{ user: PublicUser }>(erin, '/api/me')).body.user.username).toBe('market_erin');
		expect((await signIn(fresh, '/')).status).toBe(303);
	});

	it('[PLATFORM-2] every bad token is 401 invalid-sign-in-token: signature, alg, aud, iss, unknown platform, expiry, lifetime, sub, jti, unknown user without a name', async () => {
		await platformPut('/users/alice', { displayName: 'Alice' });
		const [h, p] = (await token()).split('.');
		const cases: Array<[string, string]> = [
			['wrong secret', await token({ secret: 'not-the-secret-at-all-not-the-secret-at-all' })],
			['another platform’s secret', await token({ secret: otherSecret })],
			['HS512 with the right secret', await token({ alg: 'HS512' })],
			['alg none', new UnsecuredJWT({ sub: 'alice', jti: randomUUID(), name: 'Alice' }).setIssuer('market').setAudience('basement-chat').setIssuedAt().setExpirationTime('5m').encode()],
			['tampered payload', `${h}.${Buffer.from(JSON.stringify({ iss: 'market', aud: 'basement-chat', sub: 'bob', jti: randomUUID(), exp: nowS() + 300 })).toString('base64url')}.${(await token()).split('.')[2]}`],
			['no signature', `${h}.${p}.`],
			['wrong aud', await token({ aud: 'another-chat' })],
			['iss of another platform, signed by the market', await token({ iss: 'other' })],
			['unknown platform', await token({ iss: 'nowhere' })],
			['expired', await token({ exp: nowS() - 120 })],
			['no exp', await token({ exp: null })],
			['lives too long', await token({ exp: nowS() + 11 * 60 })],
			['lives a day', await token({ exp: nowS() + 86_400 })],
			['no sub', await token({}, ['sub'])],
			['no jti', await token({}, ['jti'])],
			['empty sub', await token({ sub: '' })],
			['sub too long', await token({ sub: 'x'.repeat(201), name: 'Long' })],
			['sub a number', await token({ name: 'Number', raw: { sub: 42 } }, ['sub'])],
			['sub an object', await token({ name: 'Object', raw: { sub: { id: 'alice' } } }, ['sub'])],
			['sub a list', await token({ raw: { sub: ['alice'] } }, ['sub'])],
			['jti an object', await token({ raw: { jti: { a: 1 } } }, ['jti'])],
			['jti a number', await token({ raw: { jti: 7 } }, ['jti'])],
			['jti empty', await token({ jti: '' })],
			['jti too long', await token({ jti: 'j'.repeat(201) })],
			['unknown user, no name', await token({ sub: 'ghost' })],
			['unknown user, blank name', await token({ sub: 'ghost', name: '   ' })],
			['user of another platform only', await token({ sub: 'zed2' })],
			['malformed', 'not.a.jwt'],
			['garbage', 'garbage']
		];
		await platformPut('/users/zed2', { displayName: 'Zed' }, basic('other', otherSecret));
		const countUsers = () => server.app.core.db.$client.prepare('select count(*) as n from users').get();
		const before = countUsers();
		for (const [what, jwt] of cases) {
			const result = await signIn(jwt);
			expect([what, result.status, result.code, result.cookie]).toEqual([what, 401, 'invalid-sign-in-token', null]);
		}
		// Nobody was created by them.
		expect(countUsers()).toEqual(before);
		// The edges: a token for another platform's user, signed by that platform, works there; 9 minutes is fine.
		expect((await signIn(await token({ iss: 'other', sub: 'zed2', secret: otherSecret }))).status).toBe(303);
		expect((await signIn(await token({ exp: nowS() + 9 * 60 }))).status).toBe(303);
		// No token at all is a bad request.
		const empty = await fetch(`${server.url}/api/platform/sign-in?next=/`, { redirect: 'manual' });
		expect(empty.status).toBe(400);
	});

	it('[PLATFORM-2] next must be a path of this app (400, and the token is not spent); each jti works once even across users', async () => {
		const jwt = await token({ sub: 'alice' });
		for (const next of ['//evil.example/x', 'https://evil.example/', 'evil.example', '/\\evil.example', '\\\\evil.example', '/\t/evil.example', '/\n/evil.example', ' /x', 'javascript:alert(1)']) {
			const result = await signIn(jwt, next);
			expect([JSON.stringify(next), result.status, result.code, result.cookie]).toEqual([JSON.stringify(next), 400, 'invalid-request', null]);
		}
		// Still unused: it works once, with a good next.
		const good = await signIn(jwt, '/c/123');
		expect([good.status, good.location]).toEqual([303, '/c/123']);
		const noNext = await signIn(await token({ sub: 'alice' }));
		expect([noNext.status, noNext.location]).toEqual([303, '/']);
		// A jti is spent for the platform whatever the token says next time.
		const jti = randomUUID();
		expect((await signIn(await token({ sub: 'alice', jti }))).status).toBe(303);
		const reused = await signIn(await token({ sub: 'bob', jti }));
		expect([reused.status, reused.code]).toEqual([401, 'invalid-sign-in-token']);
		// The same jti from another platform is that platform's own.
		await platformPut('/users/yan', { displayName: 'Yan' }, basic('other', otherSecret));
		expect((await signIn(await token({ iss: 'other', sub: 'yan', jti, secret: otherSecret }))).status).toBe(303);
		// Replays at once are refused all but once.
		const racing = await token({ sub: 'alice' });
		const results = await Promise.all([1, 2, 3, 4].map(() => signIn(racing)));
		expect(results.map((r) => r.status).sort()).toEqual([303, 401, 401, 401]);
	});

	it('[PLATFORM-3] a support context’s conversation has its owner, the customer and every staff member of its platform; an owner context’s does not', async () => {
		const desk = (await platformPut<{ user: PublicUser }>('/users/desk', { displayName: 'Bookings desk' })).body.user;
		const sam = (await platformPut<{ user: PublicUser }>('/users/sam', { displayName: 'Sam', staff: true })).body.user;
		const tess = (await platformPut<{ user: PublicUser }>('/users/tess', { displayName: 'Tess', staff: true })).body.user;
		const foreignStaff = (await platformPut<{ user: PublicUser }>('/users/olga', { displayName: 'Olga', staff: true }, basic('other', otherSecret))).body.user;
		const booking = await platformPut<{ context: ContextDto }>('/contexts/booking/8841', { title: 'Booking 8841', owner: 'desk', audience: 'support' });
		expect([booking.status, booking.body.context.ownerId]).toEqual([201, desk.id]);

		const carol = await sessionFor('carol', 'Carol');
		const carolId = (await as<{ user: PublicUser }>(carol, '/api/me')).body.user.id;
		const start = await as<Start>(carol, '/api/contexts/booking/8841/conversations?platform=market', { method: 'POST', body: { message: { id: ulid(), body: 'My bus was cancelled' } } });
		expect(start.status).toBe(201);
		expect(start.body.conversation).toMatchObject({ kind: 'context', status: 'open', title: 'Booking 8841', context: { kind: 'booking', externalId: '8841', ownerId: desk.id } });
		const roles = (c: ConversationDto) => c.members.map((m) => [m.id, m.role]).sort();
		expect(roles(start.body.conversation)).toEqual([[desk.id, 'owner'], [carolId, 'member'], [sam.id, 'staff'], [tess.id, 'staff']].sort());
		expect(start.body.conversation.members.map((m) => m.id)).not.toContain(foreignStaff.id);
		// A customer with a chat account of their own (a bearer token) gets the staff too.
		const bearer = await api<Start>(server.url, '/api/contexts/booking/8841/conversations?platform=market', { token: local.token, body: {} });
		expect(bearer.status).toBe(201);
		expect(roles(bearer.body.conversation)).toEqual([[desk.id, 'owner'], [local.id, 'member'], [sam.id, 'staff'], [tess.id, 'staff']].sort());

		// Staff see it and answer it.
		const samCookie = await sessionFor('sam');
		const samList = await as<{ conversations: ConversationSummary[] }>(samCookie, '/api/conversations');
		expect(samList.body.conversations.map((c) => c.id)).toEqual(expect.arrayContaining([start.body.conversation.id, bearer.body.conversation.id]));
		const reply = await as<{ message: MessageDto }>(samCookie, `/api/conversations/${start.body.conversation.id}/messages`, { method: 'POST', body: { id: ulid(), body: 'Rebooked you on the 14:00' } });
		expect(reply.status).toBe(201);
		const history = await as<{ messages: MessageDto[] }>(carol, `/api/conversations/${start.body.conversation.id}/messages`);
		expect(history.body.messages.map((m) => [m.author.id, m.body])).toEqual([
			[carolId, 'My bus was cancelled'],
			[sam.id, 'Rebooked you on the 14:00']
		]);

		// A post (audience owner, the default) is between its owner and the buyer only, staff or not.
		await platformPut('/users/seller', { displayName: 'Seller' });
		await platformPut('/contexts/post/market-77', { title: 'Desk lamp', owner: 'seller' });
		const post = await as<Start>(carol, '/api/contexts/post/market-77/conversations?platform=market', { method: 'POST', body: {} });
		expect(post.body.conversation.members.map((m) => m.role).sort()).toEqual(['member', 'owner']);
		// Staff see no conversation that is not theirs.
		const samAfter = await as<{ conversations: ConversationSummary[] }>(samCookie, '/api/conversations');
		expect(samAfter.body.conversations.map((c) => c.id)).not.toContain(post.body.conversation.id);
		const peek = await as<ErrorBody>(samCookie, `/api/conversations/${post.body.conversation.id}/messages`);
		expect([peek.status, peek.body.error.code]).toEqual([403, 'forbidden']);
	});

	it('[PLATFORM-3] a user who becomes staff joins every open support conversation of the platform, once, with a staff-joined line; staff close and reopen, the customer cannot', async () => {
		const carol = await sessionFor('carol', 'Carol');
		const convos = await as<{ conversations: ConversationSummary[] }>(carol, '/api/contexts/booking/8841/conversations?platform=market');
		const open = convos.body.conversations[0]!.id;
		// A second booking whose conversation is closed before the new agent arrives.
		await platformPut('/contexts/booking/9000', { title: 'Booking 9000', owner: 'desk', audience: 'support' });
		const closedStart = await as<Start>(carol, '/api/contexts/booking/9000/conversations?platform=market', { method: 'POST', body: {} });
		const closed = closedStart.body.conversation.id;
		const samCookie = await sessionFor('sam');
		const close = await as<{ conversation: ConversationDto }>(samCookie, `/api/conversations/${closed}`, { method: 'PATCH', body: { status: 'closed' } });
		expect([close.status, close.body.conversation.status]).toEqual([200, 'closed']);
		// Another platform's support conversation.
		await platformPut('/users/ogden', { displayName: 'Ogden' }, basic('other', otherSecret));
		await platformPut('/contexts/booking/other-1', { title: 'Other booking', owner: 'ogden', audience: 'support' }, basic('other', otherSecret));
		const foreign = (await api<Start>(server.url, '/api/contexts/booking/other-1/conversations?platform=other', { token: local.token, body: {} })).body.conversation.id;
		const post = (await as<{ conversations: ConversationSummary[] }>(carol, '/api/contexts/post/market-77/conversations?platform=market')).body.conversations[0]!.id;

		const uma = await platformPut<{ user: PublicUser }>('/users/uma', { displayName: 'Uma', staff: true });
		expect(uma.status).toBe(201);
		const umaId = uma.body.user.id;
		const umaCookie = await sessionFor('uma');
		/** A member's role in one of Carol's conversations (undefined: not a member). */
		const roleOf = async (conversationId: string, userId: string) =>
			(await as<{ conversation: ConversationDto }>(carol, `/api/conversations/${conversationId}`)).body.conversation.members.find((m) => m.id === userId)?.role;
		// Every open support conversation of the market (Carol's and the bearer customer's), not the closed one, another platform's, or a post's.
		const umaList = (await as<{ conversations: ConversationSummary[] }>(umaCookie, '/api/conversations')).body.conversations.map((c) => c.id);
		const bearerConvo = (await api<{ conversations: ConversationSummary[] }>(server.url, '/api/contexts/booking/8841/conversations?platform=market', { token: local.token })).body.conversations[0]!.id;
		expect(umaList.sort()).toEqual([open, bearerConvo].sort());
		expect(await roleOf(open, umaId)).toBe('staff');
		expect(await roleOf(closed, umaId)).toBeUndefined();
		expect(await roleOf(post, umaId)).toBeUndefined();
		expect((await api<{ conversation: ConversationDto }>(server.url, `/api/conversations/${foreign}`, { token: local.token })).body.conversation.members.map((m) => m.id)).not.toContain(umaId);
		// The timeline says so, with Uma as its author.
		const staffLines = async (id: string, cookie: string) => (await as<{ messages: MessageDto[] }>(cookie, `/api/conversations/${id}/messages`)).body.messages.filter((m) => m.event?.type === 'staff-joined');
		await waitFor(async () => (await staffLines(open, carol)).length > 0, 5000, 'the staff-joined line');
		expect((await staffLines(open, carol)).map((m) => [m.author.id, m.event])).toEqual([[umaId, { type: 'staff-joined' }]]);
		expect((await staffLines(closed, carol)).length).toBe(0);

		// An existing user promoted to staff joins too; upserting staff again adds nobody twice.
		const vic = await platformPut<{ user: PublicUser }>('/users/vic', { displayName: 'Vic' });
		expect(await roleOf(open, vic.body.user.id)).toBeUndefined();
		const promoted = await platformPut<{ user: PublicUser }>('/users/vic', { displayName: 'Vic', staff: true });
		expect(promoted.status).toBe(200);
		expect(await roleOf(open, vic.body.user.id)).toBe('staff');
		await platformPut('/users/uma', { displayName: 'Uma U.', staff: true });
		await platformPut('/users/uma', { displayName: 'Uma U.' });
		await waitFor(async () => (await staffLines(open, carol)).length === 2, 5000, 'Vic’s staff-joined line');
		expect((await staffLines(open, carol)).map((m) => m.author.id)).toEqual([umaId, vic.body.user.id]);
		const members = (await as<{ conversation: ConversationDto }>(carol, `/api/conversations/${open}`)).body.conversation.members;
		expect(members.filter((m) => m.id === umaId)).toHaveLength(1);

		// The customer can neither close nor reopen; staff (Uma, who joined later) can, and the customer then cannot write.
		const carolCloses = await as<ErrorBody>(carol, `/api/conversations/${open}`, { method: 'PATCH', body: { status: 'closed' } });
		expect([carolCloses.status, carolCloses.body.error.code]).toEqual([403, 'forbidden']);
		const umaCloses = await as<{ conversation: ConversationDto }>(umaCookie, `/api/conversations/${open}`, { method: 'PATCH', body: { status: 'closed' } });
		expect([umaCloses.status, umaCloses.body.conversation.status]).toEqual([200, 'closed']);
		const write = await as<ErrorBody>(carol, `/api/conversations/${open}/messages`, { method: 'POST', body: { id: ulid(), body: 'hello?' } });
		expect([write.status, write.body.error.code]).toEqual([403, 'conversation-closed']);
		const carolReopens = await as<ErrorBody>(carol, `/api/conversations/${open}`, { method: 'PATCH', body: { status: 'open' } });
		expect([carolReopens.status, carolReopens.body.error.code]).toEqual([403, 'forbidden']);
		const samReopens = await as<{ conversation: ConversationDto }>(samCookie, `/api/conversations/${closed}`, { method: 'PATCH', body: { status: 'open' } });
		expect([samReopens.status, samReopens.body.conversation.status]).toEqual([200, 'open']);
		const umaReopens = await as<{ conversation: ConversationDto }>(umaCookie, `/api/conversations/${open}`, { method: 'PATCH', body: { status: 'open' } });
		expect(umaReopens.body.conversation.status).toBe('open');
		const lines = (await as<{ messages: MessageDto[] }>(carol, `/api/conversations/${open}/messages`)).body.messages;
		expect(lines.slice(-2).map((m) => [m.event?.type, m.author.id])).toEqual([
			['closed', umaId],
			['reopened', umaId]
		]);
		// A post's conversation (buyer and seller) is not staff's to close.
		const notTheirs = await as<ErrorBody>(umaCookie, `/api/conversations/${post}`, { method: 'PATCH', body: { status: 'closed' } });
		expect([notTheirs.status, notTheirs.body.error.code]).toEqual([403, 'forbidden']);
	});

	it('[PLATFORM-3] a staff member who stops being staff leaves the support conversations at once', async () => {
		await platformPut('/users/desk2', { displayName: 'Desk', staff: true });
		await platformPut('/users/vic', { displayName: 'Vic', staff: true });
		await platformPut('/contexts/booking/7001', { title: 'Booking 7001', owner: 'desk2', audience: 'support' });
		const customer = await sessionFor('cust7001', 'Customer');
		const start = await as<Start>(customer, '/api/contexts/booking/7001/conversations?platform=market', { method: 'POST', body: { message: { id: ulid(), body: 'Where is my bus?' } } });
		const id = start.body.conversation.id;
		const vic = await sessionFor('vic');
		expect((await as(vic, `/api/conversations/${id}`)).status).toBe(200);
		await platformPut('/users/vic', { displayName: 'Vic', staff: false });
		expect((await as(vic, `/api/conversations/${id}`)).status).toBe(403);
		const members = (await as<{ conversation: ConversationDto }>(customer, `/api/conversations/${id}`)).body.conversation.members.map((m) => m.displayName);
		expect(members).not.toContain('Vic');
	});

	it('[PLATFORM-4] npm run platform: add prints the secret once and it authenticates; list never shows secrets; bad ids exit 1; remove revokes', async () => {
		const cli = (...args: string[]) =>
			new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
				const child = spawn(process.execPath, ['--import', 'tsx', 'server/platform-cli.ts', ...args], { cwd: ROOT, env: { ...process.env, DATA_DIR: server.dataDir }, stdio: ['ignore', 'pipe', 'pipe'] });
				let stdout = '';
				let stderr = '';
				child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
				child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
				child.once('close', (code) => resolve({ code, stdout, stderr }));
			});
		const added = await cli('add', 'shop', '--name', 'Corner shop');
		expect(added.code).toBe(0);
		const secret = /secret: (\S+)/.exec(added.stdout)?.[1];
		expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
		// The running server takes the new platform at once.
		const shop = basic('shop', secret!);
		const user = await platformPut<{ user: PublicUser }>('/users/kim', { displayName: 'Kim' }, shop);
		expect([user.status, user.body.user.username]).toEqual([201, 'shop_kim']);

		const [list, invalid, short, duplicate, usage] = await Promise.all([cli('list'), cli('add', 'Bad_Id'), cli('add', 'x'), cli('add', 'shop'), cli()]);
		expect(list.code).toBe(0);
		const rows = list.stdout.trim().split('\n').map((line) => line.split('\t').slice(0, 2));
		expect(rows).toEqual(expect.arrayContaining([['market', 'Campus market'], ['other', 'Other site'], ['shop', 'Corner shop']]));
		for (const hidden of [secret!, marketSecret, otherSecret]) expect(list.stdout + list.stderr).not.toContain(hidden);
		expect(invalid.code).toBe(1);
		expect(invalid.stdout).not.toContain('secret');
		expect(short.code).toBe(1);
		expect(duplicate.code).toBe(1);
		expect(duplicate.stdout).not.toContain('secret');
		expect(usage.code).toBe(2);
		// The refused adds registered nothing.
		const after = await cli('list');
		expect(after.stdout.trim().split('\n').map((line) => line.split('\t')[0]).sort()).toEqual(list.stdout.trim().split('\n').map((line) => line.split('\t')[0]).sort());
		// A second add did not change the secret.
		expect((await platformPut('/users/kim', { displayName: 'Kim' }, shop)).status).toBe(200);

		const removed = await cli('remove', 'shop');
		expect([removed.code, removed.stdout.trim()]).toEqual([0, 'platform shop removed.']);
		const refused = await platformPut<ErrorBody>('/users/kim', { displayName: 'Kim' }, shop);
		expect([refused.status, refused.body.error.code]).toEqual([401, 'invalid-platform-key']);
		expect((await signIn(await token({ iss: 'shop', sub: 'kim', secret: secret! }))).code).toBe('invalid-sign-in-token');
		const again = await cli('remove', 'shop');
		expect(again.stdout.trim()).toBe('no platform shop.');
	});
});
