import { TokenBuckets, type RateCheck, type RateSpec } from './rate-limit.ts';

/** The abuse limits (LIMIT_* in server/config.ts). The HTTP routes use the buckets below; the sync server the rest. */
export interface RateLimits {
	/** Failed login or token attempts per username. */
	loginAccount: RateSpec;
	/** Failed login or token attempts per client address. */
	loginIp: RateSpec;
	/** Accounts created per client address. */
	signupIp: RateSpec;
	/** Groups created per user. */
	groupsCreated: RateSpec;
	/** People added to conversations per user, each person counted (groups, member adds, new direct chats). */
	membersAdded: RateSpec;
	/** People searches per user. */
	peopleSearch: RateSpec;
	/** Messages sent per user, over REST and the socket. */
	messages: RateSpec;
	/** Typing and receipt frames per connection. */
	stateless: RateSpec;
	/** Open sync sockets per user. */
	socketsPerUser: number;
}

/** The buckets the HTTP routes draw on; one set per running server. */
export interface Limiters {
	loginAccount: TokenBuckets;
	loginIp: TokenBuckets;
	signupIp: TokenBuckets;
	groupsCreated: TokenBuckets;
	membersAdded: TokenBuckets;
	peopleSearch: TokenBuckets;
	messages: TokenBuckets;
}

export function createLimiters(limits: RateLimits, now?: () => number): Limiters {
	const buckets = (spec: RateSpec) => new TokenBuckets(spec, { now });
	return {
		loginAccount: buckets(limits.loginAccount),
		loginIp: buckets(limits.loginIp),
		signupIp: buckets(limits.signupIp),
		groupsCreated: buckets(limits.groupsCreated),
		membersAdded: buckets(limits.membersAdded),
		peopleSearch: buckets(limits.peopleSearch),
		messages: buckets(limits.messages)
	};
}

/** `cost` tokens of one key in one set of buckets. */
export interface Charge {
	buckets: TokenBuckets;
	key: string;
	cost: number;
}

/** Whether every charge could be taken now; when not, the longest wait among the short ones. */
export function checkAll(charges: Charge[]): RateCheck {
	let retryAfterMs = 0;
	for (const { buckets, key, cost } of charges) {
		const check = buckets.check(key, cost);
		if (!check.ok) retryAfterMs = Math.max(retryAfterMs, check.retryAfterMs);
	}
	return retryAfterMs > 0 ? { ok: false, retryAfterMs } : { ok: true };
}

/** Takes every charge, or none of them when one is short (so a refused request costs nothing). */
export function takeAll(charges: Charge[]): RateCheck {
	const check = checkAll(charges);
	if (check.ok) for (const { buckets, key, cost } of charges) buckets.take(key, cost);
	return check;
}

export function refundAll(charges: Charge[]): void {
	for (const { buckets, key, cost } of charges) buckets.refund(key, cost);
}
