import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, requireUser, unwrap } from '$lib/server/api';
import { ApiError } from '$lib/server/errors';
import { getRuntime } from '$lib/server/runtime';

/** My upload limits and what my files take now, so the app can refuse a file before sending it. */
export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const { uploads } = getRuntime();
	return json({ maxBytes: uploads.limits.maxBytes, quotaBytes: uploads.limits.quotaBytes, usedBytes: uploads.used(user.id) });
});

/**
 * Uploads one file: the request body is the file's bytes (any Content-Type; the server decides the
 * type from the content), `?name=` its file name. Answers 201 with the upload, mine until a message
 * of mine carries it (docs/api.md).
 */
export const POST: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { request, url } = event;
	if (!request.headers.get('content-type')) throw new ApiError(415, 'unsupported-media-type', 'Send the file as the body, with a Content-Type (any, e.g. application/octet-stream).');
	const length = request.headers.get('content-length');
	// A 413 closes the connection rather than read the rest of the body (`api`).
	const upload = unwrap(await getRuntime().uploads.receive(user.id, request.body, length === null ? null : Number(length), url.searchParams.get('name')));
	return json({ upload }, { status: 201 });
});
