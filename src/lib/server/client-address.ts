import type { RequestEvent } from '@sveltejs/kit';

/**
 * Who the per-address limits count a request against: the socket's address, or behind a trusted
 * reverse proxy the first X-Forwarded-For entry (anyone can send that header, so it counts only when
 * the proxy is trusted to set it).
 */
export function clientAddress(event: RequestEvent, trustProxy: boolean): string {
	const forwarded = trustProxy ? event.request.headers.get('x-forwarded-for')?.split(',')[0]?.trim() : undefined;
	let address = forwarded;
	if (!address) {
		try {
			address = event.getClientAddress();
		} catch {
			address = 'unknown';
		}
	}
	return addressKey(address);
}

/**
 * One key per IPv4 address, and per /64 for IPv6: a single home or server is routinely given a whole
 * /64, so counting its addresses one by one would hand it 2^64 budgets.
 */
export function addressKey(address: string): string {
	const plain = address.replace(/%.*$/, '').replace(/^\[|\]$/g, '').toLowerCase();
	const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(plain);
	if (mapped?.[1]) return mapped[1];
	if (!plain.includes(':')) return plain;
	const [head = '', tail] = plain.split('::');
	const left = head ? head.split(':') : [];
	const right = tail ? tail.split(':') : [];
	const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
	return `${groups
		.slice(0, 4)
		.map((group) => (parseInt(group, 16) || 0).toString(16))
		.join(':')}::/64`;
}
