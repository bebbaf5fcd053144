import { describe, expect, it } from 'vitest';
import { isAllowedOrigin, requestOrigin } from '../../src/lib/server/origin.ts';

describe('[ACCESS-4] isAllowedOrigin', () => {
	const own = new URL('https://chat.example:8443/api/conversations');

	it('[ACCESS-4] takes the request’s own origin, scheme and port included', () => {
		expect(isAllowedOrigin('https://chat.example:8443', own, [])).toBe(true);
		expect(isAllowedOrigin('http://chat.example:8443', own, [])).toBe(false);
		expect(isAllowedOrigin('https://chat.example', own, [])).toBe(false);
		expect(isAllowedOrigin('https://evil.example', own, [])).toBe(false);
		expect(isAllowedOrigin('null', own, [])).toBe(false);
	});

	it('[ACCESS-4] takes the allowed origins as they are written, scheme included', () => {
		const allowed = ['https://shop.example'];
		expect(isAllowedOrigin('https://shop.example', own, allowed)).toBe(true);
		expect(isAllowedOrigin('http://shop.example', own, allowed)).toBe(false);
		expect(isAllowedOrigin('https://shop.example', null, allowed)).toBe(true);
		expect(isAllowedOrigin('https://chat.example:8443', null, allowed)).toBe(false);
	});
});

describe('[ACCESS-4] requestOrigin', () => {
	const request = (headers: Record<string, string>, encrypted = false) => ({
		headers,
		socket: (encrypted ? { encrypted: true } : {}) as never
	});

	it('[ACCESS-4] is the Host with the stamped scheme, else the socket’s own', () => {
		expect(requestOrigin(request({ host: 'chat.example:3000', 'x-forwarded-proto': 'https' }))?.origin).toBe('https://chat.example:3000');
		expect(requestOrigin(request({ host: 'chat.example:3000', 'x-forwarded-proto': 'https, http' }))?.origin).toBe('https://chat.example:3000');
		expect(requestOrigin(request({ host: 'chat.example:3000' }))?.origin).toBe('http://chat.example:3000');
		expect(requestOrigin(request({ host: 'chat.example' }, true))?.origin).toBe('https://chat.example');
		expect(requestOrigin(request({}))).toBeNull();
		expect(requestOrigin(request({ host: 'bad host/' }))).toBeNull();
	});
});
