import { isRedirect, type RequestEvent } from '@sveltejs/kit';
import type { z } from 'zod';
import type { User } from './db/schema.ts';
import { ApiError, errorResponse, RateLimitedError, unauthenticated } from './errors.ts';
import { reportFailure } from './failure.ts';
import type { FailureCode, Outcome } from './outcome.ts';

type Handler<E extends RequestEvent> = (event: E) => Promise<Response> | Response;

/** Wraps an endpoint so expected failures become `{ error: { code, message } }` responses. */
export function api<E extends RequestEvent>(handler: Handler<E>): Handler<E> {
	return async (event) => {
		try {
			return await handler(event);
		} catch (error) {
			// SvelteKit's own control flow (a redirect after a sign-in link) passes through.
			if (isRedirect(error)) throw error;
			if (error instanceof RateLimitedError) {
				return errorResponse(error.status, error.code, error.message, { 'retry-after': String(error.retryAfterSeconds) });
			}
			// A body refused before it was all read: answer, then close the connection instead of reading the rest.
			if (error instanceof ApiError) return errorResponse(error.status, error.code, error.message, error.status === 413 ? { connection: 'close' } : undefined);
			reportFailure(`${event.request.method} ${event.url.pathname} failed`, error);
			return errorResponse(500, 'internal', 'Something went wrong on the server.');
		}
	};
}

/** Largest JSON body any endpoint reads (uploads stream their own, larger bodies). */
export const JSON_BODY_MAX = 1024 * 1024;

/** The body as text, refused (413) as soon as it passes `max` bytes, whatever Content-Length said. */
async function readLimitedText(request: Request, max: number): Promise<string> {
	const tooLarge = () => new ApiError(413, 'body-too-large', `The body is larger than ${max} bytes.`);
	if (Number(request.headers.get('content-length') ?? 0) > max) throw tooLarge();
	if (!request.body) return '';
	const reader = request.body.getReader();
	const chunks: Uint8Array[] = [];
	let size = 0;
	for (;;) {
		let chunk: ReadableStreamReadResult<Uint8Array>;
		try {
			chunk = await reader.read();
		} catch {
			throw new ApiError(400, 'invalid-json', 'The body could not be read.');
		}
		if (chunk.done) break;
		size += chunk.value.byteLength;
		if (size > max) {
			// Left unread, not cancelled: cancelling destroys the socket before the 413 is written.
			reader.releaseLock();
			throw tooLarge();
		}
		chunks.push(chunk.value);
	}
	return new TextDecoder().decode(Buffer.concat(chunks));
}

/** Parses a JSON body against a schema; wrong content type, bad JSON and bad shapes are 4xx. */
export async function readJson<S extends z.ZodType>(event: RequestEvent, schema: S): Promise<z.infer<S>> {
	const type = event.request.headers.get('content-type') ?? '';
	if (!type.toLowerCase().startsWith('application/json')) {
		throw new ApiError(415, 'unsupported-media-type', 'Send the body as application/json.');
	}
	const text = await readLimitedText(event.request, JSON_BODY_MAX);
	let raw: unknown;
	try {
		raw = JSON.parse(text);
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

/** The HTTP status of each expected failure a domain function returns (see outcome.ts). */
const FAILURE_STATUS: Record<FailureCode, number> = {
	'invalid-request': 400,
	'too-many-members': 400,
	'not-a-group': 400,
	'not-closable': 400,
	'message-empty': 400,
	'message-too-long': 400,
	'attachment-unknown': 400,
	'upload-empty': 400,
	'upload-interrupted': 400,
	'image-too-large': 400,
	'image-unreadable': 400,
	'not-an-image': 400,
	'avatar-unreachable': 400,
	'invalid-platform-key': 401,
	'invalid-sign-in-token': 401,
	forbidden: 403,
	'not-context-owner': 403,
	'own-context': 403,
	'conversation-closed': 403,
	'foreign-attachment': 403,
	'not-found': 404,
	'user-not-found': 404,
	'not-a-member': 404,
	'id-conflict': 409,
	'attachment-taken': 409,
	'username-taken': 409,
	// A body refused before it was all read: `api` closes the connection instead of reading the rest.
	'upload-too-large': 413,
	'quota-exceeded': 413,
	'rate-limited': 429
};

/** The value of a domain outcome; a failure becomes its `{ error }` response with the status of its code. */
export function unwrap<T>(outcome: Outcome<T>): T {
	if (outcome.ok) return outcome.value;
	const { code, message, retryAfterMs } = outcome;
	if (code === 'rate-limited') throw new RateLimitedError(retryAfterMs ?? 1000, message);
	throw new ApiError(FAILURE_STATUS[code], code, message);
}
