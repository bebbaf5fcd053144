/**
 * An expected failure of an API call, as `{ error: { code, message } }` carries it. The server
 * throws it from routes; the browser client throws it from calls (status 0: no network).
 */
const BRAND = Symbol.for('basement-chat.api-error');

export class ApiError extends Error {
	readonly [BRAND] = true;

	/**
	 * The server's modules exist twice (the web app's bundle, and the process that starts it): an
	 * ApiError from either copy is one. Subclasses keep the ordinary check.
	 */
	static [Symbol.hasInstance](value: unknown): boolean {
		if (this !== ApiError) return Function.prototype[Symbol.hasInstance].call(this, value);
		return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
	}

	constructor(
		readonly status: number,
		readonly code: string,
		message: string
	) {
		super(message);
		this.name = 'ApiError';
	}

	get offline(): boolean {
		return this.status === 0;
	}
}
