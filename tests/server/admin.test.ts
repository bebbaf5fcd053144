import { beforeAll, describe, expect, it } from 'vitest';
import { registerPlatform } from '../../src/lib/server/platforms.ts';
import { createSession, generateSessionToken } from '../../src/lib/server/session.ts';
import { api, connectDocument, createAccount, createConversation, type Account } from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';
import { userDocName } from '../../src/lib/shared/protocol.ts';
import type { AdminStats } from '../../src/lib/shared/api-types.ts';


describe('the admin view', () => {
	const server = useTestServer({ ADMIN_USERNAMES: ' chat_admin , someone_else ' });
	let admin: Account;
	let user: Account;

	beforeAll(async () => {
		admin = await createAccount(server.url, 'chat_admin');
		user = await createAccount(server.url);
	});


	it('[ADMIN-1] only the configured admins see the figures; a request cannot make itself admin', async () => {
		const refused = await api<{ error: { code: string } }>(server.url, '/api/admin/stats', { token: user.token });
		expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
		const forged = await api<{ error: { code: string } }>(server.url, '/api/admin/stats?admin=true', { token: user.token, headers: { 'x-admin': 'true' } });
		expect(forged.status).toBe(403);
		expect((await api(server.url, '/api/admin/stats')).status).toBe(401);
		expect((await api<{ user: { admin?: boolean } }>(server.url, '/api/me', { token: admin.token })).body.user.admin).toBe(true);
		expect((await api<{ user: { admin?: boolean } }>(server.url, '/api/me', { token: user.token })).body.user.admin).toBeUndefined();
	});

	it('[PLATFORM-3] the support inbox is for a platform’s staff only: others get 403, no session 401', async () => {
		const refused = await api<{ error: { code: string } }>(server.url, '/api/staff/inbox', { token: user.token });
		expect([refused.status, refused.body.error.code]).toEqual([403, 'forbidden']);
		expect((await api(server.url, '/api/staff/inbox')).status).toBe(401);
	});

	it('[ADMIN-1] conversations by status, messages per day, users online, and staff’s median first response on support conversations', async () => {
		const group = await createConversation(server.url, user, [admin], 'Club');
		await api(server.url, `/api/conversations/${group}/messages`, { token: user.token, body: { body: 'one' } });
		await api(server.url, `/api/conversations/${group}/messages`, { token: admin.token, body: { body: 'two' } });
		await api(server.url, `/api/conversations/${group}`, { method: 'PATCH', token: user.token, body: { status: 'closed' } });
		// A support conversation answered by staff, and one waiting.
		const platform = registerPlatform(server.app.core.db, 'market', 'Market');
		const basic = { authorization: `Basic ${Buffer.from(`market:${platform.secret}`).toString('base64')}` };
		await api(server.url, '/api/platform/users/sam', { method: 'PUT', headers: basic, body: { displayName: 'Sam', staff: true } });
		await api(server.url, '/api/platform/contexts/booking/1', { method: 'PUT', headers: basic, body: { title: 'Booking 1', owner: 'sam', audience: 'support' } });
		const [first, second] = [await createAccount(server.url), await createAccount(server.url)];
		const answered = await api<{ conversation: { id: string } }>(server.url, '/api/contexts/booking/1/conversations?platform=market', { token: first.token, body: { message: { body: 'help' } } });
		await api(server.url, '/api/contexts/booking/1/conversations?platform=market', { token: second.token, body: { message: { body: 'help me too' } } });
		const sam = server.app.core.db.$client.prepare("select id from users where username = 'market_sam'").get() as { id: string };
		// Platform users have no password: a bearer token for Sam, made as the login route makes one.
		const samToken = generateSessionToken();
		createSession(server.app.core.db, samToken, sam.id, 'bearer', 1);
		await new Promise((resolve) => setTimeout(resolve, 30));
		await api(server.url, `/api/conversations/${answered.body.conversation.id}/messages`, { token: samToken, body: { body: 'on it' } });
		const online = connectDocument(server.wsUrl, userDocName(user.id), user.token);
		await online.synced;

		const stats = (await api<AdminStats>(server.url, '/api/admin/stats', { token: admin.token })).body;
		expect(stats.conversations).toEqual(expect.arrayContaining([{ kind: 'group', status: 'closed', count: 1 }, { kind: 'context', status: 'open', count: 2 }]));
		const today = new Date().toISOString().slice(0, 10);
		expect(stats.messagesPerDay).toEqual([{ day: today, count: 5 }]);
		expect(stats.usersOnline).toBe(1);
		expect(stats.supportAnswered).toBe(1);
		expect(stats.supportWaiting).toBe(1);
		expect(stats.medianFirstResponseMs).toBeGreaterThanOrEqual(30);
		online.destroy();
	});
});
