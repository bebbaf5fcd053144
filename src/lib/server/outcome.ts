/**
 * What a domain function returns when it cannot do what it was asked for a reason the caller
 * expects (an unknown user, a role that does not allow it, a taken id): a value, as Lucia's
 * `validateSessionToken` returns one, not an exception. Domain modules know nothing of HTTP; the
 * route turns a failure into its `{ error: { code, message } }` response (`unwrap` in api.ts picks
 * the status for the code).
 */
export type FailureCode =
	| 'invalid-platform-key'
	| 'invalid-sign-in-token'
	| 'not-found'
	| 'user-not-found'
	| 'not-a-member'
	| 'forbidden'
	| 'not-context-owner'
	| 'own-context'
	| 'conversation-closed'
	| 'foreign-attachment'
	| 'invalid-request'
	| 'too-many-members'
	| 'not-a-group'
	| 'not-closable'
	| 'message-empty'
	| 'message-too-long'
	| 'attachment-unknown'
	| 'id-conflict'
	| 'attachment-taken'
	| 'username-taken'
	| 'rate-limited'
	| 'upload-empty'
	| 'upload-interrupted'
	| 'upload-too-large'
	| 'quota-exceeded'
	| 'image-too-large'
	| 'image-unreadable'
	| 'not-an-image'
	| 'avatar-unreachable';

export interface Failure {
	ok: false;
	code: FailureCode;
	/** Said to the user as it is. */
	message: string;
	/** `rate-limited`: when trying again can succeed. */
	retryAfterMs?: number;
}

export type Outcome<T> = { ok: true; value: T } | Failure;

export function succeed<T>(value: T): { ok: true; value: T } {
	return { ok: true, value };
}

export function fail(code: FailureCode, message: string, retryAfterMs?: number): Failure {
	return retryAfterMs === undefined ? { ok: false, code, message } : { ok: false, code, message, retryAfterMs };
}
