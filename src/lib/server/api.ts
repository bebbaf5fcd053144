import type { RequestEvent } from '@sveltejs/kit';
import type { z } from 'zod';
import type { User } from './db/schema.ts';
import { ApiError, errorResponse, RateLimitedError, unauthenticated } from './errors.ts';
import { reportFailure } from './failure.ts';

type Handler<E extends RequestEvent> = (event: E) => Promise<Response> | Response;

/** Wraps an endpoint so expected failures become `{ error: { code, message } }` responses. */
export function api<E extends RequestEvent>(handler: Handler<E>): Handler<E> {
	return async (event) => {
		try {
			return await handler(event);
		} catch (error) {
			if (error instanceof RateLimitedError) {
				return errorResponse(error.status, error.code, error.message, { 'retry-after': String(error.retryAfterSeconds) });
			}
			if (error instanceof ApiError) return errorResponse(error.status, error.code, error.message);
			reportFailure(`${event.request.method} ${event.url.pathname} failed`, error);
			return errorResponse(500, 'internal', 'Something went wrong on the server.');
		}
	};
}

/** Parses a JSON body against a schema; wrong content type, bad JSON and bad shapes are 4xx. */
export async function readJson<S extends z.ZodType>(event: RequestEvent, schema: S): Promise<z.infer<S>> {
	const type = event.request.headers.get('content-type') ?? '';
	if (!type.toLowerCase().startsWith('application/json')) {
		throw new ApiError(415, 'unsupported-media-type', 'Send the body as application/json.');
	}
	let raw: unknown;
	try {
		raw = await event.request.json();
	} catch {
		throw new ApiError(400, 'invalid-json', 'The body is not valid JSON.');
	}
	const parsed = schema.safeParse(raw);
	if (!parsed.success) {
		const issue = parsed.error.issues[0];
		const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
		throw new ApiError(400, 'invalid-request', `${where}${issue?.message ?? 'invalid body'}`);
	}
	return parsed.data;
}

export function requireUser(event: RequestEvent): User {
	if (!event.locals.user) throw unauthenticated();
	return event.locals.user;
}
