import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { RequestEvent } from '@sveltejs/kit';
import { requireUser } from './api.ts';
import { prepareMembershipCheck } from './conversations.ts';
import { perDatabase } from './db/per-database.ts';
import { ApiError, notFound } from './errors.ts';
import { getRuntime } from './runtime.ts';
import type { Variant } from './uploads.ts';
import { IMAGE_TYPES } from '../shared/files.ts';

const membershipCheck = perDatabase((db) => ({ isMember: prepareMembershipCheck(db) }));

/** `Content-Disposition` with the name in both the plain and the RFC 5987 form. */
function disposition(kind: 'inline' | 'attachment', name: string): string {
	const plain = name.replace(/[^\x20-\x7e]|["\\%]/g, '_');
	return `${kind}; filename="${plain}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

/**
 * One upload's bytes (or its thumbnail) for a reader ATTACH-3 allows, checked on every request
 * (a revalidation answers 304 only after the same check): nosniff, no script, and anything but
 * the re-encoded images as a download.
 */
export async function serveUpload(event: RequestEvent, variant: Variant): Promise<Response> {
	const user = requireUser(event);
	const { db, uploads } = getRuntime();
	const id = event.params.id ?? '';
	const row = uploads.find(id);
	if (!row) throw notFound('Upload');
	const access = uploads.access(row, user.id, membershipCheck(db).isMember);
	if (access === 'not-found') throw notFound('Upload');
	if (access === 'not-a-member') throw new ApiError(403, 'not-a-member', 'You are not a member of the conversation this file was sent in.');
	if (variant === 'thumbnail' && row.width === null) throw new ApiError(404, 'not-found', 'Only images have a thumbnail.');
	const path = uploads.path(row.id, variant);
	const etag = `"${row.id}-${variant}${row.avatar ? '-a' : ''}"`;
	const headers: Record<string, string> = {
		etag,
		// Each request asks again, so a removed member's browser cannot keep reading from its cache by revalidating.
		'cache-control': 'private, no-cache',
		'x-content-type-options': 'nosniff',
		'content-security-policy': "default-src 'none'; sandbox",
		'cross-origin-resource-policy': 'same-origin'
	};
	if (event.request.headers.get('if-none-match') === etag) return new Response(null, { status: 304, headers });
	let size: number;
	try {
		size = (await stat(path)).size;
	} catch {
		throw notFound('Upload');
	}
	const inline = variant === 'thumbnail' || IMAGE_TYPES.has(row.type);
	const name = variant === 'thumbnail' ? row.name.replace(/\.[^.]*$/, '') + '.webp' : row.name;
	headers['content-type'] = variant === 'thumbnail' ? 'image/webp' : inline ? row.type : 'application/octet-stream';
	headers['content-length'] = String(size);
	headers['content-disposition'] = disposition(inline ? 'inline' : 'attachment', name);
	const body = event.request.method === 'HEAD' ? null : (Readable.toWeb(createReadStream(path)) as ReadableStream<Uint8Array>);
	return new Response(body, { headers });
}
