import { errorResponse } from '$lib/server/errors';
import type { RequestHandler } from './$types';

export const fallback: RequestHandler = ({ request, url }) =>
	errorResponse(404, 'not-found', `No API route for ${request.method} ${url.pathname}.`);
