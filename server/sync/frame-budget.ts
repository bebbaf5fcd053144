import type { Connection } from '@hocuspocus/server';
import type { RateCheck, RateSpec } from '../../src/lib/server/rate-limit.ts';
import { TokenBuckets } from '../../src/lib/server/rate-limit.ts';
import { encodeStateless, PROTOCOL_VERSION } from '../../src/lib/shared/protocol.ts';

/**
 * Each connection's budget of typing, receipt and awareness frames. A frame over it is dropped
 * (they are all superseded by the next one) and the connection is told when to send again.
 */
export class FrameBudget {
	readonly #buckets: TokenBuckets;
	readonly #keys = new WeakMap<Connection, string>();
	#next = 0;

	constructor(spec: RateSpec) {
		this.#buckets = new TokenBuckets(spec);
	}

	/** Takes one frame from the connection's budget; false (and a `rate-limited` notice) when there is none. */
	take(connection: Connection): boolean {
		let key = this.#keys.get(connection);
		if (key === undefined) this.#keys.set(connection, (key = String(this.#next++)));
		const check: RateCheck = this.#buckets.take(key);
		if (check.ok) return true;
		connection.sendStateless(encodeStateless({ type: 'rate-limited', v: PROTOCOL_VERSION, retryAfterMs: check.retryAfterMs }));
		return false;
	}
}
