/**
 * An expected failure of an API call, as `{ error: { code, message } }` carries it. The server
 * throws it from routes; the browser client throws it from calls (status 0: no network).
 */
export class ApiError extends Error {
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
