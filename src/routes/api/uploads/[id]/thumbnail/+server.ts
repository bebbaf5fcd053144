import type { RequestHandler } from './$types';
import { api } from '$lib/server/api';
import { serveUpload } from '$lib/server/upload-response';

/** An image's thumbnail (WebP, at most 480 px a side; 256 px square for a profile photo). */
export const GET: RequestHandler = api((event) => serveUpload(event, 'thumbnail'));
