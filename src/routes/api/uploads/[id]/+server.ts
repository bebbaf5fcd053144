import type { RequestHandler } from './$types';
import { api } from '$lib/server/api';
import { serveUpload } from '$lib/server/upload-response';

/** The file (re-encoded without metadata, for images), for its owner or the members of the conversation it was sent in. */
export const GET: RequestHandler = api((event) => serveUpload(event, 'original'));
