import { describe, expect, it } from 'vitest';
import { api, unwrap } from '../../src/lib/server/api.ts';
import { fail, succeed, type FailureCode } from '../../src/lib/server/outcome.ts';

/** What a client sees for a failure a domain function returned, through the same wrapper every route uses. */
async function answer(code: FailureCode, retryAfterMs?: number) {
	const handler = api(() => unwrap(fail(code, `because ${code}`, retryAfterMs)));
	const response = await handler({ request: new Request('http://x/'), url: new URL('http://x/') } as never);
	return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() };
}

describe('domain outcomes become responses in the route', () => {
	it('a success is its value', () => {
		expect(unwrap(succeed({ id: 'a' }))).toEqual({ id: 'a' });
	});

	it.each([
		['invalid-request', 400],
		['message-too-long', 400],
		['forbidden', 403],
		['own-context', 403],
		['not-found', 404],
		['user-not-found', 404],
		['id-conflict', 409],
		['username-taken', 409]
	] as const)('%s is %i with its code and message', async (code, status) => {
		const { status: got, body } = await answer(code);
		expect(got).toBe(status);
		expect(body).toEqual({ error: { code, message: `because ${code}` } });
	});

	it('rate-limited is 429 with Retry-After in whole seconds', async () => {
		const { status, retryAfter, body } = await answer('rate-limited', 2100);
		expect(status).toBe(429);
		expect(retryAfter).toBe('3');
		expect(body.error.code).toBe('rate-limited');
		expect(body.error.message).toMatch(/^because rate-limited\. Try again in 3 seconds\.$/);
	});
});
