import { json } from '@sveltejs/kit';

/** An expected failure of an API call, answered as `{ error: { code, message } }`. */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string
	) {
		super(message);
		this.name = 'ApiError';
	}
}

export function errorResponse(status: number, code: string, message: string, headers?: HeadersInit): Response {
	return json({ error: { code, message } }, { status, headers });
}

export const unauthenticated = () => new ApiError(401, 'unauthenticated', 'Log in or send a bearer token.');
export const notFound = (what: string) => new ApiError(404, 'not-found', `${what} not found.`);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
