/** Refills `capacity` tokens per `windowMs`, evenly; a bucket never holds more than `capacity`. */
export interface RateSpec {
	capacity: number;
	windowMs: number;
}

export type RateCheck = { ok: true } | { ok: false; retryAfterMs: number };

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const RATE = /^(\d+)\/(\d*)(s|m|h|d)$/;

/** "10/15m", "5/h", "120/m", "30/10s", "100/1d": how many, per how long. */
export function parseRateSpec(text: string): RateSpec {
	const match = RATE.exec(text.trim());
	const capacity = Number(match?.[1]);
	const windows = match?.[2] ? Number(match[2]) : 1;
	if (!match || !Number.isSafeInteger(capacity) || capacity < 1 || !Number.isSafeInteger(windows) || windows < 1) {
		throw new Error(`"${text}" is not a rate: write <count>/<period> with a count of at least 1, like 10/15m, 5/h, 120/m, 30/10s or 100/1d`);
	}
	return { capacity, windowMs: windows * UNIT_MS[match[3] as keyof typeof UNIT_MS] };
}

interface Bucket {
	tokens: number;
	at: number;
}

/**
 * One token bucket per key (a username, an address, a user id), in memory. A key without a bucket
 * has a full one, so buckets that have filled up again are dropped, and at most `maxKeys` are kept:
 * past that, the least recently used goes first.
 */
export class TokenBuckets {
	readonly #capacity: number;
	readonly #perMs: number;
	readonly #windowMs: number;
	readonly #now: () => number;
	readonly #maxKeys: number;
	// Insertion order is use order: every touch re-inserts, so the first key is the least recently used.
	readonly #buckets = new Map<string, Bucket>();
	#sweptAt = -Infinity;

	constructor(spec: RateSpec, options: { now?: () => number; maxKeys?: number } = {}) {
		this.#capacity = spec.capacity;
		this.#perMs = spec.capacity / spec.windowMs;
		this.#windowMs = spec.windowMs;
		this.#now = options.now ?? Date.now;
		this.#maxKeys = Math.max(1, options.maxKeys ?? 50_000);
	}

	/** Keys currently holding a bucket that is not full (for tests and monitoring). */
	get size(): number {
		return this.#buckets.size;
	}

	/**
	 * Takes `cost` tokens for `key`. Succeeds when the bucket holds at least min(cost, capacity) tokens,
	 * then subtracts the whole cost (the bucket may go negative: a large honest burst passes once, then
	 * the key waits).
	 */
	take(key: string, cost = 1): RateCheck {
		const now = this.#now();
		// Once per window, forget the buckets that have filled up again, so idle keys cost no memory.
		if (now - this.#sweptAt >= this.#windowMs) this.#sweep(now);
		const tokens = this.#tokens(key, now);
		const verdict = this.#verdict(tokens, cost);
		if (verdict.ok && cost > 0) this.#store(key, tokens - cost, now);
		return verdict;
	}

	/** Same check without taking. */
	check(key: string, cost = 1): RateCheck {
		return this.#verdict(this.#tokens(key, this.#now()), cost);
	}

	/** Puts tokens back (e.g. a successful login forgives its attempt). */
	refund(key: string, cost = 1): void {
		if (!this.#buckets.has(key) || cost <= 0) return;
		const now = this.#now();
		this.#store(key, this.#tokens(key, now) + cost, now);
	}

	#tokens(key: string, now: number): number {
		const bucket = this.#buckets.get(key);
		if (!bucket) return this.#capacity;
		// A clock that steps back refills nothing rather than draining.
		return Math.min(this.#capacity, bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs);
	}

	#verdict(tokens: number, cost: number): RateCheck {
		const needed = Math.min(cost, this.#capacity);
		if (tokens >= needed) return { ok: true };
		return { ok: false, retryAfterMs: Math.ceil((needed - tokens) / this.#perMs) };
	}

	#store(key: string, tokens: number, now: number): void {
		this.#buckets.delete(key);
		if (tokens >= this.#capacity) return;
		if (this.#buckets.size >= this.#maxKeys) this.#makeRoom(now);
		this.#buckets.set(key, { tokens, at: now });
	}

	/** Makes room for one more key: the buckets that are full again go, else the least recently used. */
	#makeRoom(now: number): void {
		// A sweep walks every key; under a flood of new keys, sweep at most once per refilled token.
		if (now - this.#sweptAt >= 1 / this.#perMs) this.#sweep(now);
		while (this.#buckets.size >= this.#maxKeys) {
			const oldest = this.#buckets.keys().next().value;
			if (oldest === undefined) break;
			this.#buckets.delete(oldest);
		}
	}

	#sweep(now: number): void {
		this.#sweptAt = now;
		for (const [key, bucket] of this.#buckets) {
			if (bucket.tokens + Math.max(0, now - bucket.at) * this.#perMs >= this.#capacity) this.#buckets.delete(key);
		}
	}
}
