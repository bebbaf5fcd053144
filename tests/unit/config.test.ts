import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';

describe('configuration', () => {
	it('has working defaults', () => {
		const config = loadConfig({});
		expect(config).toMatchObject({ port: 3000, synchronous: 'FULL', documentLingerMs: 30_000 });
		expect(config.limits.messages).toEqual({ capacity: 120, windowMs: 60_000 });
	});

	it('[LIMIT-5] takes DOCUMENT_LINGER_MS in ms, 0 to unload at once', () => {
		expect(loadConfig({ DOCUMENT_LINGER_MS: '0' }).documentLingerMs).toBe(0);
		expect(loadConfig({ DOCUMENT_LINGER_MS: '5000' }).documentLingerMs).toBe(5000);
	});

	it('refuses a bad value with a message naming the variable', () => {
		for (const value of ['-1', 'soon', '1.5', '99999999']) {
			expect(() => loadConfig({ DOCUMENT_LINGER_MS: value }), value).toThrow(/DOCUMENT_LINGER_MS/);
		}
		expect(() => loadConfig({ LIMIT_MESSAGES: 'lots' })).toThrow(/LIMIT_MESSAGES: "lots" is not a rate/);
		expect(() => loadConfig({ SQLITE_SYNCHRONOUS: 'OFF' })).toThrow(/SQLITE_SYNCHRONOUS/);
	});
});
