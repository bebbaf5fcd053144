import type { Db } from './db/index.ts';
import type { User } from './db/schema.ts';
import { takeAll, refundAll, type Charge, type Limiters } from './limiters.ts';
import { authenticateUser } from './users.ts';

export type LoginAttempt =
	| { ok: true; user: User }
	| { ok: false; reason: 'rate-limited'; retryAfterMs: number }
	| { ok: false; reason: 'invalid-credentials' };

/**
 * Checks a username and password under the login limits, per username and per client address. The
 * attempt is paid for before the password is looked at, so guesses running in parallel are counted
 * and a right guess is refused too once the limit is reached; a success gives the tokens back, so
 * only failures add up.
 */
export async function attemptLogin(
	db: Db,
	limiters: Limiters,
	input: { username: string; password: string },
	address: string
): Promise<LoginAttempt> {
	const charges: Charge[] = [
		{ buckets: limiters.loginAccount, key: input.username, cost: 1 },
		{ buckets: limiters.loginIp, key: address, cost: 1 }
	];
	const taken = takeAll(charges);
	if (!taken.ok) return { ok: false, reason: 'rate-limited', retryAfterMs: taken.retryAfterMs };
	const user = await authenticateUser(db, input.username, input.password);
	if (!user) return { ok: false, reason: 'invalid-credentials' };
	refundAll(charges);
	return { ok: true, user };
}
