import { json } from '@sveltejs/kit';
import { ApiError } from '../shared/api-error.ts';

export { ApiError };

export function errorResponse(status: number, code: string, message: string, headers?: HeadersInit): Response {
	return json({ error: { code, message } }, { status, headers });
}

export const unauthenticated = () => new ApiError(401, 'unauthenticated', 'Log in or send a bearer token.');
export const notFound = (what: string) => new ApiError(404, 'not-found', `${what} not found.`);
export const forbidden = (message: string) => new ApiError(403, 'forbidden', message);
