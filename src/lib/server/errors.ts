import { json } from '@sveltejs/kit';
import { ApiError } from '../shared/api-error.ts';

export { ApiError };

export function errorResponse(status: number, code: string, message: string, headers?: HeadersInit): Response {
	return json({ error: { code, message } }, { status, headers });
}

export const unauthenticated = () => new ApiError(401, 'unauthenticated', 'Log in or send a bearer token.');
export const notFound = (what: string) => new ApiError(404, 'not-found', `${what} not found.`);

/** 429 with a Retry-After header in whole seconds, and a message that says how long to wait. */
export class RateLimitedError extends ApiError {
	readonly retryAfterSeconds: number;

	constructor(retryAfterMs: number, what: string) {
		const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
		super(429, 'rate-limited', `${what}. Try again in ${formatWait(seconds)}.`);
		this.retryAfterSeconds = seconds;
	}
}

function formatWait(seconds: number): string {
	const [amount, unit] = seconds < 60 ? [seconds, 'second'] : seconds < 3600 ? [Math.ceil(seconds / 60), 'minute'] : [Math.ceil(seconds / 3600), 'hour'];
	return `${amount} ${unit}${amount === 1 ? '' : 's'}`;
}
