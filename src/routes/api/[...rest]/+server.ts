import { errorResponse } from '$lib/server/errors';

export const fallback = ({ request, url }: { request: Request; url: URL }) =>
	errorResponse(404, 'not-found', `No API route for ${request.method} ${url.pathname}.`);
