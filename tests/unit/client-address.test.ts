import { describe, expect, it } from 'vitest';
import { addressKey } from '../../src/lib/server/client-address.ts';

describe('addressKey', () => {
	it('keeps IPv4 addresses, also when mapped into IPv6', () => {
		expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
		expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
		expect(addressKey('::FFFF:127.0.0.1')).toBe('127.0.0.1');
	});

	it('counts an IPv6 address by its /64', () => {
		expect(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
		expect(addressKey('2001:0db8:0001:0002::1')).toBe('2001:db8:1:2::/64');
		expect(addressKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
		expect(addressKey('[2001:db8:1:2::5]')).toBe('2001:db8:1:2::/64');
		expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
		expect(addressKey('::1')).toBe('0:0:0:0::/64');
	});
});
