import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../server/config.ts';

describe('configuration', () => {
	it('has working defaults', () => {
		const config = loadConfig({});
		expect(config).toMatchObject({ port: 3000, synchronous: 'FULL', documentLingerMs: 30_000 });
		expect(config.limits.messages).toEqual({ capacity: 120, windowMs: 60_000 });
		expect(config.epochLimits).toEqual({ messages: 150, bytes: 32 * 1024, quietMs: 1000 });
	});

	it('[EPOCH-1] takes the epoch limits: messages, bytes, and the quiet wait (0 to end at once)', () => {
		expect(loadConfig({ EPOCH_MESSAGES: '8', EPOCH_BYTES: '8192', EPOCH_QUIET_MS: '0' }).epochLimits).toEqual({ messages: 8, bytes: 8192, quietMs: 0 });
	});

	it('[ATTACH-1] takes the upload cap and quota in bytes (defaults 25 MB and 1 GB), refusing nonsense', () => {
		expect(loadConfig({}).uploads).toEqual({ maxBytes: 25_000_000, quotaBytes: 1_000_000_000, fetchPrivate: false });
		expect(loadConfig({ UPLOAD_MAX_BYTES: '200000', UPLOAD_QUOTA_BYTES: '5000000' }).uploads).toEqual({ maxBytes: 200_000, quotaBytes: 5_000_000, fetchPrivate: false });
		for (const [name, value] of [['UPLOAD_MAX_BYTES', '0'], ['UPLOAD_MAX_BYTES', 'big'], ['UPLOAD_QUOTA_BYTES', '-1']]) {
			expect(() => loadConfig({ [name!]: value }), `${name}=${value}`).toThrow(new RegExp(name!));
		}
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
		// An epoch of 1 message or 100 bytes would end after every commit.
		for (const [name, value] of [['EPOCH_MESSAGES', '1'], ['EPOCH_MESSAGES', 'many'], ['EPOCH_BYTES', '100'], ['EPOCH_QUIET_MS', '-5']]) {
			expect(() => loadConfig({ [name!]: value }), `${name}=${value}`).toThrow(new RegExp(name!));
		}
	});
});
