import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { editMessage, messageOf, messagesMap, sequenceOf } from '../../src/lib/shared/conversation-doc.ts';
import type { ConversationDto, MessageDto, PublicUser } from '../../src/lib/shared/api-types.ts';
import { CloseReason, RefusalCode, type AttachmentRef, type StoredMessageValue } from '../../src/lib/shared/protocol.ts';
import {
	api,
	connectClient,
	createAccount,
	createConversation,
	startTestServer,
	tempDataDir,
	waitFor,
	type Account,
	type SyncClient,
	type TestServer
} from '../utils/server.ts';

/** Small limits keep the size tests fast: files up to 200 KB, 500 KB per user. */
const MAX_BYTES = 200_000;
const QUOTA_BYTES = 500_000;

type ErrorBody = { error: { code: string; message: string } };
type UploadAnswer = { upload: AttachmentRef } & Partial<ErrorBody>;

interface Downloaded {
	status: number;
	headers: Headers;
	bytes: Buffer;
	/** The error code of a JSON error answer. */
	code: string | undefined;
}

/** Random pixels: every encoding of them is unlike any other file's bytes. */
function noisyPng(width: number, height: number): Promise<Buffer> {
	return sharp(randomBytes(width * height * 3), { raw: { width, height, channels: 3 } }).png().toBuffer();
}

function solid(width: number, height: number, background = '#3a7ca5'): ReturnType<typeof sharp> {
	return sharp({ create: { width, height, channels: 3, background } });
}

/**
 * ATTACH-4: the browser must not sniff the type, and the file runs nothing even when opened on its
 * own: the policy allows nothing by default and sandboxes the document (no allow-* tokens).
 */
function expectLockedDown(headers: Headers): void {
	expect(headers.get('x-content-type-options')).toBe('nosniff');
	expect(headers.get('cross-origin-resource-policy')).toBe('same-origin');
	const policy = headers.get('content-security-policy') ?? '';
	const directives = new Map(
		policy
			.split(';')
			.map((directive) => directive.trim().split(/\s+/))
			.filter(([name]) => name)
			.map(([name, ...values]) => [name!.toLowerCase(), values])
	);
	expect(directives.get('default-src'), policy).toEqual(["'none'"]);
	expect(directives.get('sandbox'), policy).toEqual([]);
	for (const loosened of ['script-src', 'script-src-elem', 'script-src-attr', 'style-src', 'object-src', 'frame-src', 'child-src', 'worker-src']) {
		expect(directives.has(loosened), policy).toBe(false);
	}
	expect(policy).not.toMatch(/unsafe|allow-/);
}

/** A few bytes from the middle of `bytes`: found in a file only if that file holds them. */
function chunkOf(bytes: Buffer, length = 64): Buffer {
	const start = Math.floor(bytes.length / 2);
	return Buffer.from(bytes.subarray(start, start + length));
}

/** A request body sent in chunks with no Content-Length (Transfer-Encoding: chunked). */
function chunkedBody(total: number, chunk = 16 * 1024): ReadableStream<Uint8Array> {
	let sent = 0;
	return new ReadableStream<Uint8Array>({
		pull(controller) {
			if (sent >= total) {
				controller.close();
				return;
			}
			const n = Math.min(chunk, total - sent);
			sent += n;
			controller.enqueue(new Uint8Array(randomBytes(n)));
		}
	});
}

/** A valid grayscale PNG of one bit per pixel, all black, built by hand (sharp would have to hold every pixel). */
function pngOf(width: number, height: number): Buffer {
	const crcTable = Array.from({ length: 256 }, (_, n) => {
		let c = n;
		for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
		return c >>> 0;
	});
	const crc = (bytes: Buffer) => {
		let c = 0xffffffff;
		for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
		return (c ^ 0xffffffff) >>> 0;
	};
	const chunk = (type: string, body: Buffer) => {
		const typed = Buffer.concat([Buffer.from(type, 'latin1'), body]);
		const length = Buffer.alloc(4);
		length.writeUInt32BE(body.length);
		const sum = Buffer.alloc(4);
		sum.writeUInt32BE(crc(typed));
		return Buffer.concat([length, typed, sum]);
	};
	const header = Buffer.alloc(13);
	header.writeUInt32BE(width, 0);
	header.writeUInt32BE(height, 4);
	header[8] = 1; // bit depth
	header[9] = 0; // grayscale
	// Each row: filter byte 0, then width bits of zero.
	const rows = Buffer.alloc((1 + Math.ceil(width / 8)) * height);
	return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header), chunk('IDAT', deflateSync(rows, { level: 9 })), chunk('IEND', Buffer.alloc(0))]);
}

describe('uploads and attachments', () => {
	const data = tempDataDir();
	const uploadsDir = join(data.dir, 'uploads');
	let server: TestServer;
	let ana: Account;
	let ben: Account;
	/** Signed in, in no conversation with ana and ben. */
	let cal: Account;
	/** ana and ben. */
	let pair: string;
	const open: SyncClient[] = [];

	async function post(account: Account | null, body: Uint8Array | ReadableStream<Uint8Array>, name: string | null, headers: Record<string, string> = { 'content-type': 'application/octet-stream' }) {
		const query = name === null ? '' : `?name=${encodeURIComponent(name)}`;
		const response = await fetch(`${server.url}/api/uploads${query}`, {
			method: 'POST',
			headers: { ...(account ? { authorization: `Bearer ${account.token}` } : {}), ...headers },
			// A streamed body goes chunked (no Content-Length); bytes go with their length.
			...(body instanceof ReadableStream ? { body, duplex: 'half' } : { body: Uint8Array.from(body) })
		} as RequestInit);
		const text = await response.text();
		return { status: response.status, body: (text ? JSON.parse(text) : null) as UploadAnswer };
	}

	async function uploaded(account: Account, bytes: Uint8Array, name: string): Promise<AttachmentRef> {
		const response = await post(account, bytes, name);
		expect(response.status, JSON.stringify(response.body)).toBe(201);
		return response.body.upload;
	}

	async function refusedUpload(account: Account, body: Uint8Array | ReadableStream<Uint8Array>, name = 'file.bin'): Promise<[number, string | undefined]> {
		const response = await post(account, body, name);
		return [response.status, response.body?.error?.code];
	}

	async function download(account: Account | null, id: string, variant: 'original' | 'thumbnail' = 'original', headers: Record<string, string> = {}): Promise<Downloaded> {
		const response = await fetch(`${server.url}/api/uploads/${id}${variant === 'thumbnail' ? '/thumbnail' : ''}`, {
			headers: { ...(account ? { authorization: `Bearer ${account.token}` } : {}), ...headers }
		});
		const bytes = Buffer.from(await response.arrayBuffer());
		const json = response.headers.get('content-type')?.startsWith('application/json') ? (JSON.parse(bytes.toString()) as Partial<ErrorBody>) : undefined;
		return { status: response.status, headers: response.headers, bytes, code: json?.error?.code };
	}

	async function usage(account: Account): Promise<{ maxBytes: number; quotaBytes: number; usedBytes: number }> {
		const response = await api<{ maxBytes: number; quotaBytes: number; usedBytes: number }>(server.url, '/api/uploads', { token: account.token });
		expect(response.status).toBe(200);
		return response.body;
	}

	/** Every file under `dir`, as paths relative to it. */
	function filesUnder(dir: string): string[] {
		return readdirSync(dir, { recursive: true, withFileTypes: true })
			.filter((entry) => entry.isFile())
			.map((entry) => join(entry.parentPath, entry.name).slice(dir.length + 1))
			.sort();
	}

	/** The files in DATA_DIR (database, WAL, uploads, anything else) that contain `needle`. */
	function filesHolding(needle: Buffer): string[] {
		return filesUnder(data.dir).filter((file) => readFileSync(join(data.dir, file)).includes(needle));
	}

	async function client(account: Account, conversationId: string): Promise<SyncClient> {
		const c = connectClient(server.wsUrl, conversationId, account.token, new Y.Doc());
		open.push(c);
		await c.synced;
		return c;
	}

	function messageValue(account: Account, attachments: unknown, body = ''): StoredMessageValue {
		return { author: account.id, body, createdAt: Date.now(), attachments: attachments as AttachmentRef[] };
	}

	/** Writes a message carrying `attachments` and waits for its acknowledgement. */
	async function send(account: Account, conversationId: string, attachments: AttachmentRef[], body = '', id = ulid()): Promise<string> {
		const c = await client(account, conversationId);
		messagesMap(c.doc).set(id, messageValue(account, attachments, body));
		await waitFor(() => sequenceOf(c.doc, id) !== undefined || c.rejected.length > 0, 5000, 'the acknowledgement');
		expect(c.rejected).toEqual([]);
		return id;
	}

	/** Makes a write on a fresh device and returns the server's refusal of it (the document is then closed). */
	async function refused(account: Account, conversationId: string, write: (doc: Y.Doc) => void): Promise<{ code: string; messageIds: string[] }> {
		const c = await client(account, conversationId);
		write(c.doc);
		await waitFor(() => c.rejected.length > 0, 5000, 'the refusal');
		await waitFor(() => c.refusals.includes(CloseReason.UpdateRefused), 5000, 'the document closed');
		return c.rejected[0]!;
	}

	async function history(account: Account, conversationId: string): Promise<MessageDto[]> {
		const response = await api<{ messages: MessageDto[] }>(server.url, `/api/conversations/${conversationId}/messages?limit=200`, { token: account.token });
		expect(response.status).toBe(200);
		return response.body.messages;
	}

	async function stored(account: Account, conversationId: string, id: string): Promise<MessageDto | undefined> {
		return (await history(account, conversationId)).find((m) => m.id === id);
	}

	/** The upload's row: where it is attached, whether it is a profile photo. */
	const row = (id: string) => server.app.core.uploads.find(id);

	beforeAll(async () => {
		server = await startTestServer(data.dir, { UPLOAD_MAX_BYTES: String(MAX_BYTES), UPLOAD_QUOTA_BYTES: String(QUOTA_BYTES) });
		ana = await createAccount(server.url);
		ben = await createAccount(server.url);
		cal = await createAccount(server.url);
		pair = await createConversation(server.url, ana, [ben], 'Lab partners');
	});

	afterAll(async () => {
		for (const c of open) c.destroy();
		await server.close();
		data.remove();
	});

	// ---------------------------------------------------------------------------------------------
	// ATTACH-1: what is accepted, and as what

	it('[ATTACH-1] the type comes from the content: a PNG named .exe is image/png, HTML named .png is application/octet-stream and only downloads', async () => {
		const png = await solid(64, 48).png().toBuffer();
		const image = await uploaded(ana, png, 'holiday.exe');
		expect(image).toMatchObject({ id: expect.stringMatching(/^[0-9A-HJKMNP-TV-Z]{26}$/), name: 'holiday.exe', type: 'image/png', width: 64, height: 48 });
		const shown = await download(ana, image.id);
		expect(shown.status).toBe(200);
		expect(shown.headers.get('content-type')).toBe('image/png');
		expect(shown.headers.get('content-disposition')).toMatch(/^inline;/);

		const html = Buffer.from('<!doctype html><html><body><script>fetch("/api/me").then(r => r.text()).then(alert)</script></body></html>');
		const page = await uploaded(ana, html, 'cat.png');
		expect(page).toEqual({ id: expect.any(String), name: 'cat.png', type: 'application/octet-stream', size: html.length });
		const served = await download(ana, page.id);
		expect(served.status).toBe(200);
		expect(served.bytes.equals(html)).toBe(true);
		expect(served.headers.get('content-type')).toBe('application/octet-stream');
		expect(served.headers.get('content-disposition')).toBe(`attachment; filename="cat.png"; filename*=UTF-8''cat.png`);
		expectLockedDown(served.headers);
		// Not an image: no thumbnail.
		expect((await download(ana, page.id, 'thumbnail')).status).toBe(404);
		// The request's own Content-Type counts for nothing either.
		const claimed = await post(ana, html, 'page.html', { 'content-type': 'image/png' });
		expect([claimed.status, claimed.body.upload?.type]).toEqual([201, 'application/octet-stream']);
	});

	it('[ATTACH-1] an SVG with a script is never image/svg+xml: it is stored and served as a download of application/octet-stream', async () => {
		const script = '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><script>alert(document.cookie)</script><rect width="10" height="10"/></svg>';
		for (const svg of [script, `<?xml version="1.0" encoding="UTF-8"?>\n${script}`]) {
			const bytes = Buffer.from(svg);
			const upload = await uploaded(ana, bytes, 'logo.svg');
			expect(upload.type).not.toMatch(/svg/);
			expect(upload.width).toBeUndefined();
			const served = await download(ana, upload.id);
			expect(served.status).toBe(200);
			expect(served.bytes.equals(bytes)).toBe(true);
			expect(served.headers.get('content-type')).toBe('application/octet-stream');
			expect(served.headers.get('content-disposition')).toMatch(/^attachment; filename="logo.svg"/);
			expectLockedDown(served.headers);
			expect((await download(ana, upload.id, 'thumbnail')).status).toBe(404);
		}
	});

	it('[ATTACH-1] an empty body is upload-empty, a truncated PNG or JPEG is image-unreadable, and neither leaves a file or takes quota', async () => {
		const owner = await createAccount(server.url);
		const before = filesUnder(uploadsDir);
		expect(await refusedUpload(owner, new Uint8Array(0))).toEqual([400, 'upload-empty']);
		const png = await noisyPng(120, 90);
		const jpeg = await sharp(randomBytes(120 * 90 * 3), { raw: { width: 120, height: 90, channels: 3 } }).jpeg().toBuffer();
		expect(await refusedUpload(owner, png.subarray(0, Math.floor(png.length / 2)), 'cut.png')).toEqual([400, 'image-unreadable']);
		expect(await refusedUpload(owner, png.subarray(0, png.length - 20), 'cut.png')).toEqual([400, 'image-unreadable']);
		expect(await refusedUpload(owner, jpeg.subarray(0, Math.floor(jpeg.length / 2)), 'cut.jpg')).toEqual([400, 'image-unreadable']);
		// Whole, but damaged inside its image data (the chunks still say PNG).
		const damaged = Buffer.from(png);
		damaged.fill(0, 100, 400);
		expect(await refusedUpload(owner, damaged, 'damaged.png')).toEqual([400, 'image-unreadable']);
		expect(filesUnder(uploadsDir)).toEqual(before);
		expect((await usage(owner)).usedBytes).toBe(0);
		// Without a Content-Type the body is not read at all; without a session nothing is.
		expect((await post(owner, png, 'x.png', {})).status).toBe(415);
		expect((await post(null, png, 'x.png')).status).toBe(401);
		expect(filesUnder(uploadsDir)).toEqual(before);
	});

	it('[ATTACH-1] a body over the cap is refused 413 upload-too-large, declared in Content-Length or streamed in chunks, and nothing of it stays on disk', async () => {
		const owner = await createAccount(server.url);
		expect(await usage(owner)).toEqual({ maxBytes: MAX_BYTES, quotaBytes: QUOTA_BYTES, usedBytes: 0 });
		const before = filesUnder(uploadsDir);
		// Declared: refused from the header.
		expect(await refusedUpload(owner, randomBytes(MAX_BYTES + 1))).toEqual([413, 'upload-too-large']);
		expect(await refusedUpload(owner, randomBytes(MAX_BYTES * 3))).toEqual([413, 'upload-too-large']);
		// Streamed without a length: counted as it arrives and cut off once past the cap.
		expect(await refusedUpload(owner, chunkedBody(MAX_BYTES + 1))).toEqual([413, 'upload-too-large']);
		expect(await refusedUpload(owner, chunkedBody(MAX_BYTES * 3))).toEqual([413, 'upload-too-large']);
		// A body that would never end is cut off too.
		expect(await refusedUpload(owner, chunkedBody(Number.MAX_SAFE_INTEGER))).toEqual([413, 'upload-too-large']);
		expect(filesUnder(uploadsDir)).toEqual(before);
		expect(filesUnder(join(uploadsDir, 'tmp'))).toEqual([]);
		expect((await usage(owner)).usedBytes).toBe(0);
		// Exactly the cap is fine, either way.
		const streamed = await post(owner, chunkedBody(MAX_BYTES), 'exact.bin');
		expect([streamed.status, streamed.body.upload?.size]).toEqual([201, MAX_BYTES]);
		const declared = await uploaded(owner, randomBytes(MAX_BYTES), 'exact-too.bin');
		expect(declared.size).toBe(MAX_BYTES);
		expect(filesUnder(join(uploadsDir, 'tmp'))).toEqual([]);
	});

	it('[ATTACH-1] an upload cut off mid-body (the client goes away while the server writes it) leaves no file and takes no quota; the next upload is stored', async () => {
		const owner = await createAccount(server.url);
		const before = filesUnder(uploadsDir);
		const { hostname, port } = new URL(server.url);
		const socket = connect(Number(port), hostname);
		const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
		socket.on('error', () => {});
		socket.write(
			`POST /api/uploads?name=cut.bin HTTP/1.1\r\nhost: ${hostname}\r\nauthorization: Bearer ${owner.token}\r\n` +
				`content-type: application/octet-stream\r\ncontent-length: ${MAX_BYTES}\r\n\r\n`
		);
		socket.write(randomBytes(Math.floor(MAX_BYTES / 3)));
		// The server is storing it: its temporary file exists, and the rest of the body never comes.
		await waitFor(() => filesUnder(join(uploadsDir, 'tmp')).length === 1, 5000, 'the upload’s temporary file');
		socket.destroy();
		await closed;
		await waitFor(() => filesUnder(join(uploadsDir, 'tmp')).length === 0, 5000, 'the cut-off upload’s temporary file to go');
		expect(filesUnder(uploadsDir)).toEqual(before);
		expect((await usage(owner)).usedBytes).toBe(0);
		const next = await uploaded(owner, randomBytes(1000), 'after.bin');
		expect(next.size).toBe(1000);
	});

	it('[ATTACH-1] a user’s files stop at the quota: 413 quota-exceeded, declared or streamed, and the room left is usable', async () => {
		const owner = await createAccount(server.url);
		await uploaded(owner, randomBytes(190_000), 'one.bin');
		await uploaded(owner, randomBytes(190_000), 'two.bin');
		expect((await usage(owner)).usedBytes).toBe(380_000);
		const before = filesUnder(uploadsDir);
		expect(await refusedUpload(owner, randomBytes(190_000))).toEqual([413, 'quota-exceeded']);
		expect(await refusedUpload(owner, chunkedBody(190_000))).toEqual([413, 'quota-exceeded']);
		expect(filesUnder(uploadsDir)).toEqual(before);
		expect((await usage(owner)).usedBytes).toBe(380_000);
		// What is left still fits, to the byte; then nothing does.
		await uploaded(owner, randomBytes(QUOTA_BYTES - 380_000), 'rest.bin');
		expect((await usage(owner)).usedBytes).toBe(QUOTA_BYTES);
		expect(await refusedUpload(owner, randomBytes(1))).toEqual([413, 'quota-exceeded']);
		// Someone else's room is their own.
		expect((await post(ben, randomBytes(190_000), 'mine.bin')).status).toBe(201);
	});

	it('[ATTACH-1] uploads sent at the same time cannot pass the quota together', async () => {
		const owner = await createAccount(server.url);
		await uploaded(owner, randomBytes(190_000), 'one.bin');
		await uploaded(owner, randomBytes(190_000), 'two.bin');
		// 120 KB left: each of these fits alone, only one of them fits.
		const answers = await Promise.all([0, 1, 2].map((i) => post(owner, randomBytes(100_000), `parallel-${i}.bin`)));
		expect(answers.map((a) => a.status).sort()).toEqual([201, 413, 413]);
		expect(answers.filter((a) => a.status === 413).map((a) => a.body.error?.code)).toEqual(['quota-exceeded', 'quota-exceeded']);
		expect((await usage(owner)).usedBytes).toBe(480_000);
		// The refused ones left nothing behind.
		const mine = new Set(answers.filter((a) => a.status === 201).map((a) => a.body.upload.id));
		expect(filesUnder(join(uploadsDir, 'tmp'))).toEqual([]);
		for (const id of new Set(filesUnder(uploadsDir).map((file) => file.slice(0, 26)))) if (!mine.has(id)) expect(row(id), id).toBeDefined();
	});

	it('[ATTACH-1] an image of more pixels than the server decodes is refused from its header, before any decoding', async () => {
		// A 10000×6000 one-bit PNG: 60 megapixels in a few kilobytes (a decompression bomb).
		const bomb = pngOf(10_000, 6_000);
		expect(bomb.length).toBeLessThan(MAX_BYTES);
		const before = new Set(filesUnder(data.dir));
		const response = await post(ana, bomb, 'panorama.png');
		expect([response.status, response.body.error?.code]).toEqual([400, 'image-too-large']);
		expect(filesUnder(join(data.dir, 'uploads')).filter((file) => !before.has(join('uploads', file)))).toEqual([]);
	});

	it('[ATTACH-1] a file name is only a label: path segments and control characters are dropped, and the bytes land under DATA_DIR/uploads named by the id', async () => {
		const owner = await createAccount(server.url);
		const before = new Set(filesUnder(data.dir));
		const cases: Array<[string | null, string]> = [
			['../../etc/passwd', 'passwd'],
			['..\\..\\windows\\win.ini', 'win.ini'],
			['/var/lib/chat/uploads/other', 'other'],
			['..', 'file'],
			['uploads/../', 'file'],
			[null, 'file'],
			['re\u202eport\u0000\u0007 final.txt', 'report final.txt'],
			['notes\r\nSet-Cookie: session=stolen.txt', 'notesSet-Cookie: session=stolen.txt'],
			[`${'a'.repeat(300)}.pdf`, `${'a'.repeat(116)}.pdf`]
		];
		const ids: string[] = [];
		for (const [name, cleaned] of cases) {
			const bytes = randomBytes(100);
			const response = await post(owner, bytes, name);
			expect(response.status).toBe(201);
			expect(response.body.upload.name).toBe(cleaned);
			ids.push(response.body.upload.id);
			expect(readFileSync(join(uploadsDir, response.body.upload.id)).equals(bytes)).toBe(true);
		}
		// The only new files are the uploads themselves, each named by its id, in DATA_DIR/uploads.
		const added = filesUnder(data.dir).filter((file) => !before.has(file));
		expect(added.sort()).toEqual(ids.map((id) => join('uploads', id)).sort());
		expect(existsSync(join(data.dir, 'etc'))).toBe(false);
		expect(existsSync(join(uploadsDir, 'etc'))).toBe(false);
		// Offered for download under the cleaned name, quoted safely.
		const served = await download(owner, ids[0]!);
		expect(served.headers.get('content-disposition')).toBe(`attachment; filename="passwd"; filename*=UTF-8''passwd`);
		const unicode = await uploaded(owner, randomBytes(10), 'résumé "final" 100%.txt');
		expect((await download(owner, unicode.id)).headers.get('content-disposition')).toBe(
			`attachment; filename="r_sum_ _final_ 100_.txt"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22%20100%25.txt`
		);
	});

	// ---------------------------------------------------------------------------------------------
	// ATTACH-4: images are re-encoded, without their metadata

	it('[ATTACH-4] an image’s EXIF is stripped: the marker is in no byte served, original or thumbnail', async () => {
		const marker = `exif-marker-${ulid()}`;
		const exif = { IFD0: { ImageDescription: marker, Artist: `${marker}-artist`, Copyright: `${marker}-copyright` }, IFD2: { UserComment: `${marker}-comment` } };
		for (const [format, type] of [
			['jpeg', 'image/jpeg'],
			['png', 'image/png'],
			['webp', 'image/webp']
		] as const) {
			const input = await solid(320, 240, '#c0392b').withExif(exif)[format]().toBuffer();
			expect(input.includes(Buffer.from(marker)), `the ${format} sent carries the marker`).toBe(true);
			const upload = await uploaded(ana, input, `photo.${format}`);
			expect(upload).toMatchObject({ type, width: 320, height: 240 });
			for (const variant of ['original', 'thumbnail'] as const) {
				const served = await download(ana, upload.id, variant);
				expect(served.status).toBe(200);
				expect(served.bytes.includes(Buffer.from(marker)), `${format} ${variant}`).toBe(false);
				expect((await sharp(served.bytes).metadata()).exif).toBeUndefined();
			}
			expect(readFileSync(join(uploadsDir, upload.id)).includes(Buffer.from(marker))).toBe(false);
			expect(upload.size).toBe(readFileSync(join(uploadsDir, upload.id)).length);
		}
	});

	it('[ATTACH-4] dimensions are as displayed after EXIF orientation, and the thumbnail is WebP at most 480 px a side', async () => {
		// Stored 640×400 with "rotate 90°": shown 400×640.
		const rotated = await solid(640, 400).jpeg().withMetadata({ orientation: 6 }).toBuffer();
		expect((await sharp(rotated).metadata()).orientation).toBe(6);
		const upload = await uploaded(ana, rotated, 'portrait.jpg');
		expect(upload).toMatchObject({ type: 'image/jpeg', width: 400, height: 640 });
		const original = await sharp((await download(ana, upload.id)).bytes).metadata();
		expect([original.format, original.width, original.height, original.orientation ?? 1]).toEqual(['jpeg', 400, 640, 1]);
		const thumbnail = await download(ana, upload.id, 'thumbnail');
		expect(thumbnail.headers.get('content-type')).toBe('image/webp');
		const small = await sharp(thumbnail.bytes).metadata();
		expect([small.format, small.width, small.height]).toEqual(['webp', 300, 480]);

		const wide = await uploaded(ana, await solid(1200, 300).png().toBuffer(), 'banner.png');
		expect(wide).toMatchObject({ width: 1200, height: 300 });
		const wideThumb = await sharp((await download(ana, wide.id, 'thumbnail')).bytes).metadata();
		expect([wideThumb.width, wideThumb.height]).toEqual([480, 120]);
		// A small image is not enlarged.
		const icon = await uploaded(ana, await solid(40, 30).png().toBuffer(), 'icon.png');
		const iconThumb = await sharp((await download(ana, icon.id, 'thumbnail')).bytes).metadata();
		expect([iconThumb.width, iconThumb.height]).toEqual([40, 30]);
		// An animated GIF's height is one frame's, and it stays animated.
		const frames = await sharp([await solid(50, 120, 'red').png().toBuffer(), await solid(50, 120, 'blue').png().toBuffer()], { join: { animated: true } })
			.gif()
			.toBuffer();
		const animated = await uploaded(ana, frames, 'blink.gif');
		expect(animated).toMatchObject({ type: 'image/gif', width: 50, height: 120 });
		const servedGif = await sharp((await download(ana, animated.id)).bytes, { animated: true }).metadata();
		expect([servedGif.format, servedGif.pages, servedGif.pageHeight]).toEqual(['gif', 2, 120]);
		const gifThumb = await sharp((await download(ana, animated.id, 'thumbnail')).bytes).metadata();
		expect([gifThumb.width, gifThumb.height]).toEqual([50, 120]);
	});

	it('[ATTACH-4] served with nosniff and a sandboxing CSP; only re-encoded images inline, under their own type', async () => {
		const image = await uploaded(ana, await solid(80, 60).jpeg().toBuffer(), 'été.jpg');
		const served = await download(ana, image.id);
		expect(Object.fromEntries(['content-type', 'content-disposition', 'cache-control'].map((h) => [h, served.headers.get(h)]))).toEqual({
			'content-type': 'image/jpeg',
			'content-disposition': `inline; filename="_t_.jpg"; filename*=UTF-8''%C3%A9t%C3%A9.jpg`,
			'cache-control': 'private, no-cache'
		});
		expectLockedDown(served.headers);
		expect(served.headers.get('etag')).toBeTruthy();
		const thumbnail = await download(ana, image.id, 'thumbnail');
		expect(thumbnail.headers.get('content-type')).toBe('image/webp');
		expect(thumbnail.headers.get('content-disposition')).toMatch(/^inline; filename="_t_.webp"/);
		expectLockedDown(thumbnail.headers);
		expect(thumbnail.headers.get('etag')).not.toBe(served.headers.get('etag'));
		// A PDF, a text file, a zip: downloads.
		for (const [bytes, name] of [
			[Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n'), 'notes.pdf'],
			[Buffer.from('plain words\n'), 'notes.txt']
		] as const) {
			const file = await uploaded(ana, bytes, name);
			const got = await download(ana, file.id);
			expect(got.headers.get('content-type')).toBe('application/octet-stream');
			expect(got.headers.get('content-disposition')).toMatch(/^attachment;/);
			expectLockedDown(got.headers);
		}
	});

	// ---------------------------------------------------------------------------------------------
	// ATTACH-2: what a message may carry

	it('[ATTACH-2] a message carries its author’s uploads as they were answered; a file may go without a caption; the history lists them', async () => {
		const photo = await uploaded(ana, await solid(200, 100).png().toBuffer(), 'board.png');
		const notes = await uploaded(ana, Buffer.from('lecture notes'), 'notes.txt');
		const bare = await send(ana, pair, [photo]);
		const captioned = await send(ana, pair, [notes, await uploaded(ana, randomBytes(50), 'data.bin')], 'for Friday');
		const first = await stored(ben, pair, bare);
		expect(first).toMatchObject({ body: '', attachments: [photo] });
		expect((await stored(ben, pair, captioned))?.body).toBe('for Friday');
		expect((await stored(ben, pair, captioned))?.attachments.map((a) => a.name)).toEqual(['notes.txt', 'data.bin']);
		expect(row(photo.id)).toMatchObject({ conversationId: pair, messageId: bare });
		// Ben's device gets the message as sent.
		const b = await client(ben, pair);
		await waitFor(() => messageOf(b.doc, bare) !== undefined, 5000, 'the message at ben');
		expect(messageOf(b.doc, bare)?.attachments).toEqual([photo]);
		// A message with neither caption nor file is still empty.
		const empty = ulid();
		expect((await refused(ana, pair, (doc) => messagesMap(doc).set(empty, { author: ana.id, body: '', createdAt: Date.now() }))).code).toBe(RefusalCode.MessageEmpty);
	});

	it('[ATTACH-2] someone else’s upload is refused foreign-attachment, even described exactly', async () => {
		const hers = await uploaded(ana, Buffer.from('ana’s draft'), 'draft.txt');
		const id = ulid();
		expect(await refused(ben, pair, (doc) => messagesMap(doc).set(id, messageValue(ben, [hers], 'look what I found')))).toEqual(
			expect.objectContaining({ code: RefusalCode.ForeignAttachment, messageIds: [id] })
		);
		expect(await stored(ana, pair, id)).toBeUndefined();
		expect(row(hers.id)).toMatchObject({ messageId: null, conversationId: null });
		// Ben still cannot read it; ana can still send it.
		expect((await download(ben, hers.id)).status).toBe(404);
		await send(ana, pair, [hers]);
		expect((await download(ben, hers.id)).status).toBe(200);
	});

	it('[ATTACH-2] an id no upload has is refused attachment-unknown', async () => {
		const id = ulid();
		const ghost: AttachmentRef = { id: ulid(), name: 'ghost.txt', type: 'text/plain', size: 5 };
		expect(await refused(ana, pair, (doc) => messagesMap(doc).set(id, messageValue(ana, [ghost])))).toEqual(
			expect.objectContaining({ code: RefusalCode.AttachmentUnknown, messageIds: [id] })
		);
		expect(await stored(ana, pair, id)).toBeUndefined();
	});

	it('[ATTACH-2] an upload goes in one message only: attachment-taken in one update, in a later update, and in another conversation', async () => {
		// Two messages of one update.
		const twice = await uploaded(ana, randomBytes(64), 'twice.bin');
		const [one, two] = [ulid(), ulid()];
		const inOne = await refused(ana, pair, (doc) =>
			doc.transact(() => {
				messagesMap(doc).set(one, messageValue(ana, [twice], 'first'));
				messagesMap(doc).set(two, messageValue(ana, [twice], 'second'));
			})
		);
		expect(inOne.code).toBe(RefusalCode.AttachmentTaken);
		expect([one, two]).toEqual(expect.arrayContaining(inOne.messageIds));
		expect(await stored(ana, pair, one)).toBeUndefined();
		expect(await stored(ana, pair, two)).toBeUndefined();
		expect(row(twice.id)?.messageId).toBeNull();
		// The same file twice in one message is a malformed list.
		const doubled = ulid();
		expect((await refused(ana, pair, (doc) => messagesMap(doc).set(doubled, messageValue(ana, [twice, twice])))).code).toBe(RefusalCode.InvalidMessage);

		// One update after the other.
		const first = await send(ana, pair, [twice], 'first');
		const again = ulid();
		expect(await refused(ana, pair, (doc) => messagesMap(doc).set(again, messageValue(ana, [twice], 'again')))).toEqual(
			expect.objectContaining({ code: RefusalCode.AttachmentTaken, messageIds: [again] })
		);
		// In another conversation of ana's.
		const other = await createConversation(server.url, ana, [cal], 'Elsewhere');
		const elsewhere = ulid();
		expect(await refused(ana, other, (doc) => messagesMap(doc).set(elsewhere, messageValue(ana, [twice], 'forwarded')))).toEqual(
			expect.objectContaining({ code: RefusalCode.AttachmentTaken, messageIds: [elsewhere] })
		);
		expect(await stored(ana, pair, again)).toBeUndefined();
		expect(await stored(ana, other, elsewhere)).toBeUndefined();
		expect(row(twice.id)).toMatchObject({ conversationId: pair, messageId: first });
		// The other conversation's members never see it.
		expect((await download(cal, twice.id)).status).toBe(403);

		// Two devices of ana's at the same moment: one message gets it.
		const raced = await uploaded(ana, randomBytes(64), 'raced.bin');
		const devices = await Promise.all([client(ana, pair), client(ana, pair)]);
		const racing = devices.map(() => ulid());
		devices.forEach((device, i) => messagesMap(device.doc).set(racing[i]!, messageValue(ana, [raced], `device ${i}`)));
		await waitFor(() => devices.every((device, i) => sequenceOf(device.doc, racing[i]!) !== undefined || device.rejected.length > 0), 5000, 'both answered');
		expect(devices.flatMap((device) => device.rejected.map((r) => r.code))).toEqual([RefusalCode.AttachmentTaken]);
		const winner = racing.find((id, i) => sequenceOf(devices[i]!.doc, id) !== undefined)!;
		expect(row(raced.id)).toMatchObject({ conversationId: pair, messageId: winner });
		expect((await history(ana, pair)).filter((m) => racing.includes(m.id)).map((m) => m.id)).toEqual([winner]);

		// Attached first in another conversation, then here.
		const roaming = await uploaded(ana, randomBytes(64), 'roaming.bin');
		await send(ana, other, [roaming]);
		const here = ulid();
		expect((await refused(ana, pair, (doc) => messagesMap(doc).set(here, messageValue(ana, [roaming])))).code).toBe(RefusalCode.AttachmentTaken);
		expect((await download(ben, roaming.id)).status).toBe(403);
	});

	it('[ATTACH-2] an attachment is described exactly as its upload: a wrong size, type, name or dimensions, extra fields or a malformed list are invalid-message', async () => {
		const image = await uploaded(ana, await solid(90, 70).png().toBuffer(), 'chart.png');
		const { width: _w, height: _h, ...withoutSize } = image;
		const variants: unknown[] = [
			[{ ...image, size: image.size + 1 }],
			[{ ...image, size: 1 }],
			[{ ...image, type: 'text/html' }],
			[{ ...image, type: 'image/svg+xml' }],
			[{ ...image, name: 'other.png' }],
			[{ ...image, width: image.width! + 1 }],
			[{ ...image, width: image.height, height: image.width }],
			[withoutSize],
			[{ ...image, url: 'https://example.com/evil.png' }],
			[{ ...image, id: 'not-an-upload-id' }],
			[image.id],
			[],
			image,
			'chart.png',
			Array.from({ length: 11 }, () => image)
		];
		for (const attachments of variants) {
			const id = ulid();
			const refusal = await refused(ana, pair, (doc) => messagesMap(doc).set(id, messageValue(ana, attachments, 'see chart')));
			expect(refusal, JSON.stringify(attachments).slice(0, 120)).toEqual(expect.objectContaining({ code: RefusalCode.InvalidMessage, messageIds: [id] }));
			expect(await stored(ana, pair, id)).toBeUndefined();
		}
		expect(row(image.id)?.messageId).toBeNull();
		// Described right, it goes.
		await send(ana, pair, [image], 'see chart');
	});

	it('[ATTACH-2] an edit keeps the files: a new caption is accepted, dropping, swapping or adding files is invalid-message', async () => {
		const kept = await uploaded(ana, randomBytes(80), 'kept.bin');
		const spare = await uploaded(ana, randomBytes(80), 'spare.bin');
		const id = await send(ana, pair, [kept], 'first caption');
		const a = await client(ana, pair);
		await waitFor(() => messageOf(a.doc, id) !== undefined, 5000, 'the message');
		const { createdAt } = messageOf(a.doc, id)!;
		const edit = (attachments: AttachmentRef[] | undefined, body: string): StoredMessageValue => ({
			author: ana.id,
			body,
			createdAt,
			editedAt: Date.now(),
			...(attachments ? { attachments } : {})
		});
		for (const attachments of [undefined, [], [spare], [kept, spare], [spare, kept], [{ ...kept, name: 'renamed.bin' }], [{ ...kept, size: kept.size + 1 }]]) {
			const refusal = await refused(ana, pair, (doc) => messagesMap(doc).set(id, edit(attachments, 'changed files')));
			expect(refusal, JSON.stringify(attachments?.map((r) => r.name))).toEqual(expect.objectContaining({ code: RefusalCode.InvalidMessage, messageIds: [id] }));
		}
		expect(await stored(ben, pair, id)).toMatchObject({ body: 'first caption', attachments: [kept], editedAt: null });
		expect(row(spare.id)?.messageId).toBeNull();
		// The caption changes, the files stay (the app's own edit keeps them).
		expect(editMessage(a.doc, id, 'second caption')).toBe(true);
		await waitFor(async () => (await stored(ben, pair, id))?.body === 'second caption', 5000, 'the edit');
		expect(await stored(ben, pair, id)).toMatchObject({ attachments: [kept], editedAt: expect.any(Number) });
		expect(a.rejected).toEqual([]);
		// Even to no caption at all.
		messagesMap(a.doc).set(id, edit([kept], ''));
		await waitFor(async () => (await stored(ben, pair, id))?.body === '', 5000, 'the second edit');
		expect(row(kept.id)).toMatchObject({ conversationId: pair, messageId: id });
	});

	it('[ATTACH-2] a tombstone carries no attachments', async () => {
		const file = await uploaded(ana, randomBytes(80), 'tomb.bin');
		const id = await send(ana, pair, [file], 'soon gone');
		const createdAt = (await stored(ana, pair, id))!.createdAt;
		const refusal = await refused(ana, pair, (doc) => messagesMap(doc).set(id, { author: ana.id, body: '', createdAt, deletedAt: Date.now(), attachments: [file] }));
		expect(refusal).toEqual(expect.objectContaining({ code: RefusalCode.InvalidMessage, messageIds: [id] }));
		expect(await stored(ana, pair, id)).toMatchObject({ deletedAt: null, attachments: [file] });
		expect((await download(ben, file.id)).status).toBe(200);
	});

	it('[ATTACH-2] a REST send names upload ids and is checked the same way; a retry of the same id stores it once', async () => {
		const path = `/api/conversations/${pair}/messages`;
		const photo = await uploaded(ana, await solid(30, 20).png().toBuffer(), 'rest.png');
		const id = ulid();
		const sent = await api<{ message: MessageDto }>(server.url, path, { token: ana.token, body: { id, body: '', attachments: [photo.id] } });
		expect(sent.status).toBe(201);
		expect(sent.body.message).toMatchObject({ id, body: '', attachments: [photo] });
		const retry = await api<{ message: MessageDto }>(server.url, path, { token: ana.token, body: { id, body: '', attachments: [photo.id] } });
		expect([retry.status, retry.body.message.attachments]).toEqual([200, [photo]]);
		expect((await history(ben, pair)).filter((m) => m.id === id)).toHaveLength(1);
		expect((await download(ben, photo.id)).status).toBe(200);
		// Ben's devices get it in the document too.
		const b = await client(ben, pair);
		await waitFor(() => messageOf(b.doc, id) !== undefined, 5000, 'the REST message at ben');
		expect(messageOf(b.doc, id)?.attachments).toEqual([photo]);

		const refusals: Array<[unknown, number, string]> = [
			[{ body: 'again', attachments: [photo.id] }, 409, 'attachment-taken'],
			[{ body: 'unknown', attachments: [ulid()] }, 400, 'attachment-unknown']
		];
		const hers = await uploaded(ana, randomBytes(30), 'hers.bin');
		const benSends = await api<ErrorBody>(server.url, path, { token: ben.token, body: { body: 'found it', attachments: [hers.id] } });
		expect([benSends.status, benSends.body.error.code]).toEqual([403, 'foreign-attachment']);
		for (const [body, status, code] of refusals) {
			const refused = await api<ErrorBody>(server.url, path, { token: ana.token, body: body as object });
			expect([refused.status, refused.body.error.code]).toEqual([status, code]);
		}
		for (const attachments of [[], [hers.id, hers.id], ['not-an-id'], Array.from({ length: 11 }, () => ulid())]) {
			expect((await api(server.url, path, { token: ana.token, body: { body: 'x', attachments } })).status).toBe(400);
		}
		expect(row(hers.id)?.messageId).toBeNull();
		// Without files, an empty body is still empty.
		expect((await api<ErrorBody>(server.url, path, { token: ana.token, body: { body: ' ' } })).body.error.code).toBe('message-empty');
		// Several sends of one file at once: one message gets it.
		const contested = await uploaded(ana, randomBytes(30), 'contested.bin');
		const answers = await Promise.all([0, 1, 2].map(() => api<ErrorBody>(server.url, path, { token: ana.token, body: { body: '', attachments: [contested.id] } })));
		expect(answers.map((a) => a.status).sort()).toEqual([201, 409, 409]);
	});

	// ---------------------------------------------------------------------------------------------
	// ATTACH-3: who reads a file

	it('[ATTACH-3] an unattached upload is its owner’s alone: anyone else gets 404, original and thumbnail', async () => {
		const image = await uploaded(ana, await solid(60, 60).png().toBuffer(), 'private.png');
		for (const variant of ['original', 'thumbnail'] as const) {
			expect((await download(ana, image.id, variant)).status).toBe(200);
			for (const other of [ben, cal]) {
				const got = await download(other, image.id, variant);
				expect([got.status, got.code]).toEqual([404, 'not-found']);
				expect(got.bytes.includes(Buffer.from('PNG'))).toBe(false);
			}
			expect((await download(null, image.id, variant)).status).toBe(401);
		}
	});

	it('[ATTACH-3] once sent, the conversation’s members read it and nobody else does: 403 not-a-member, and a revalidation is checked before any 304', async () => {
		const image = await uploaded(ana, await noisyPng(64, 64), 'shared.png');
		const mine = await download(ana, image.id);
		const etag = mine.headers.get('etag')!;
		expect((await download(ben, image.id, 'original', { 'if-none-match': etag })).status).toBe(404);
		await send(ana, pair, [image], 'the plot');
		const seen = await download(ben, image.id);
		expect(seen.status).toBe(200);
		expect(seen.bytes.equals(mine.bytes)).toBe(true);
		expect(seen.headers.get('etag')).toBe(etag);
		expect((await download(ben, image.id, 'thumbnail')).status).toBe(200);
		for (const variant of ['original', 'thumbnail'] as const) {
			const outsider = await download(cal, image.id, variant);
			expect([outsider.status, outsider.code]).toEqual([403, 'not-a-member']);
			expect(outsider.bytes.equals(mine.bytes)).toBe(false);
		}
		// A cached copy revalidates to 304 for a member only.
		const thumbTag = (await download(ana, image.id, 'thumbnail')).headers.get('etag')!;
		expect((await download(ben, image.id, 'original', { 'if-none-match': etag })).status).toBe(304);
		expect((await download(ben, image.id, 'thumbnail', { 'if-none-match': thumbTag })).status).toBe(304);
		expect((await download(cal, image.id, 'original', { 'if-none-match': etag })).status).toBe(403);
		expect((await download(cal, image.id, 'thumbnail', { 'if-none-match': thumbTag })).status).toBe(403);
		expect((await download(null, image.id, 'original', { 'if-none-match': etag })).status).toBe(401);
		// HEAD asks the same question.
		const head = (account: Account) => fetch(`${server.url}/api/uploads/${image.id}`, { method: 'HEAD', headers: { authorization: `Bearer ${account.token}` } }).then((r) => r.status);
		expect(await head(ben)).toBe(200);
		expect(await head(cal)).toBe(403);
	});

	it('[ATTACH-3] a member removed from the group loses the group’s files at once, cached copy or not', async () => {
		const dan = await createAccount(server.url);
		const group = await createConversation(server.url, ana, [ben, dan], 'Study group');
		const file = await uploaded(ana, randomBytes(300), 'answers.bin');
		const image = await uploaded(ana, await solid(50, 50).png().toBuffer(), 'answers.png');
		await send(ana, group, [file, image], 'answers');
		const cached = await download(dan, image.id);
		expect(cached.status).toBe(200);
		expect((await download(dan, file.id)).status).toBe(200);
		const removal = await api(server.url, `/api/conversations/${group}/members/${dan.username}`, { method: 'DELETE', token: ana.token });
		expect(removal.status).toBe(204);
		for (const id of [file.id, image.id]) {
			const got = await download(dan, id);
			expect([got.status, got.code]).toEqual([403, 'not-a-member']);
			expect((await download(ben, id)).status).toBe(200);
		}
		expect((await download(dan, image.id, 'thumbnail')).status).toBe(403);
		expect((await download(dan, image.id, 'original', { 'if-none-match': cached.headers.get('etag')! })).status).toBe(403);
		// A member who sent a file and then left loses it too; those who stay keep it.
		const his = await uploaded(ben, randomBytes(200), 'his.bin');
		await send(ben, group, [his], 'mine');
		expect((await api(server.url, `/api/conversations/${group}/members/${ben.username}`, { method: 'DELETE', token: ben.token })).status).toBe(204);
		const left = await download(ben, his.id);
		expect([left.status, left.code]).toEqual([403, 'not-a-member']);
		expect((await download(ana, his.id)).status).toBe(200);
	});

	// ---------------------------------------------------------------------------------------------
	// ERASE-5: deleting a message erases its files

	it('[ERASE-5] deleting a message for everyone erases its files: no attachments in the history, no rows, 404, and their bytes in no file under DATA_DIR', async () => {
		const secretName = `exam-answers-${ulid()}.png`;
		const image = await uploaded(ana, await noisyPng(160, 120), secretName);
		const file = await uploaded(ana, randomBytes(4000), `ledger-${ulid()}.bin`);
		const keep = await uploaded(ana, await noisyPng(40, 40), 'keep.png');
		const keptId = await send(ana, pair, [keep], 'stays');
		const original = (await download(ana, image.id)).bytes;
		const thumbnail = (await download(ana, image.id, 'thumbnail')).bytes;
		const raw = (await download(ana, file.id)).bytes;
		expect(raw.equals(readFileSync(join(uploadsDir, file.id)))).toBe(true);
		const id = ulid();
		const a = await client(ana, pair);
		messagesMap(a.doc).set(id, messageValue(ana, [image, file], 'do not share'));
		await waitFor(() => sequenceOf(a.doc, id) !== undefined, 5000, 'the acknowledgement');
		const chunks = [chunkOf(original), chunkOf(thumbnail, 32), chunkOf(raw)];
		const usedBefore = (await usage(ana)).usedBytes;
		for (const chunk of chunks) expect(filesHolding(chunk).length).toBeGreaterThan(0);
		expect((await download(ben, image.id)).status).toBe(200);

		const { createdAt } = messageOf(a.doc, id)!;
		messagesMap(a.doc).set(id, { author: ana.id, body: '', createdAt, deletedAt: Date.now() });
		await waitFor(async () => (await stored(ben, pair, id))?.deletedAt != null, 5000, 'the deletion');
		expect(await stored(ben, pair, id)).toMatchObject({ body: '', attachments: [] });
		expect(row(image.id)).toBeUndefined();
		expect(row(file.id)).toBeUndefined();
		for (const reader of [ana, ben]) {
			expect((await download(reader, image.id)).status).toBe(404);
			expect((await download(reader, image.id, 'thumbnail')).status).toBe(404);
			expect((await download(reader, file.id)).status).toBe(404);
		}
		// The room they took is free again.
		expect((await usage(ana)).usedBytes).toBe(usedBefore - image.size - file.size);
		// The files go after the commit, and the log is folded (ERASE-2): nothing of them stays on disk.
		const gone = () => chunks.every((chunk) => filesHolding(chunk).length === 0) && filesHolding(Buffer.from(secretName)).length === 0;
		await waitFor(gone, 15_000, 'the files and their names gone from disk').catch(() => {});
		expect(chunks.map((chunk) => filesHolding(chunk))).toEqual([[], [], []]);
		expect(filesHolding(Buffer.from(secretName))).toEqual([]);
		expect(existsSync(join(uploadsDir, image.id))).toBe(false);
		expect(existsSync(join(uploadsDir, `${image.id}.thumb.webp`))).toBe(false);
		// Another message's file is untouched.
		expect((await download(ben, keep.id)).status).toBe(200);
		expect((await stored(ben, pair, keptId))?.attachments).toEqual([keep]);
		// A deleted message cannot be brought back with its files.
		const back = await refused(ana, pair, (doc) => messagesMap(doc).set(id, { author: ana.id, body: 'do not share', createdAt, attachments: [image, file] }));
		expect([RefusalCode.MessageDeleted, RefusalCode.AttachmentUnknown]).toContain(back.code);
	});

	// ---------------------------------------------------------------------------------------------
	// ATTACH-3: profile photos

	it('[ATTACH-3] a profile photo is a 256 px square any signed-in user may see; it shows in /api/me and among the conversation’s members', async () => {
		const photo = await uploaded(ana, await solid(600, 400, '#8e44ad').jpeg().toBuffer(), 'me.jpg');
		const set = await api<{ user: PublicUser }>(server.url, '/api/me/avatar', { method: 'PUT', token: ana.token, body: { uploadId: photo.id } });
		expect(set.status).toBe(200);
		expect(set.body.user).toMatchObject({ id: ana.id, avatar: photo.id });
		expect((await api<{ user: PublicUser }>(server.url, '/api/me', { token: ana.token })).body.user.avatar).toBe(photo.id);
		const conversation = await api<{ conversation: ConversationDto }>(server.url, `/api/conversations/${pair}`, { token: ben.token });
		expect(conversation.body.conversation.members.find((m) => m.id === ana.id)?.avatar).toBe(photo.id);
		expect(conversation.body.conversation.members.find((m) => m.id === ben.id)?.avatar).toBeNull();
		// Cal shares no conversation with ana, and still sees it.
		for (const reader of [ana, ben, cal]) {
			const square = await download(reader, photo.id, 'thumbnail');
			expect(square.status).toBe(200);
			expect(square.headers.get('content-type')).toBe('image/webp');
			const meta = await sharp(square.bytes).metadata();
			expect([meta.format, meta.width, meta.height]).toEqual(['webp', 256, 256]);
		}
		expect((await download(null, photo.id, 'thumbnail')).status).toBe(401);
		expect(row(photo.id)?.avatar).toBe(true);
	});

	it('[ATTACH-3] replacing the profile photo erases the old one’s files; removing it erases the current one', async () => {
		const owner = await createAccount(server.url);
		const first = await uploaded(owner, await solid(300, 300, '#16a085').png().toBuffer(), 'first.png');
		const second = await uploaded(owner, await solid(300, 200, '#d35400').png().toBuffer(), 'second.png');
		expect((await api(server.url, '/api/me/avatar', { method: 'PUT', token: owner.token, body: { uploadId: first.id } })).status).toBe(200);
		expect(existsSync(join(uploadsDir, `${first.id}.thumb.webp`))).toBe(true);
		const replaced = await api<{ user: PublicUser }>(server.url, '/api/me/avatar', { method: 'PUT', token: owner.token, body: { uploadId: second.id } });
		expect(replaced.body.user.avatar).toBe(second.id);
		expect(row(first.id)).toBeUndefined();
		expect(existsSync(join(uploadsDir, first.id))).toBe(false);
		expect(existsSync(join(uploadsDir, `${first.id}.thumb.webp`))).toBe(false);
		expect((await download(ben, first.id, 'thumbnail')).status).toBe(404);
		expect((await download(ben, second.id, 'thumbnail')).status).toBe(200);
		// Setting the same photo again changes nothing.
		expect((await api(server.url, '/api/me/avatar', { method: 'PUT', token: owner.token, body: { uploadId: second.id } })).status).toBe(200);
		expect((await download(ben, second.id, 'thumbnail')).status).toBe(200);

		const removed = await api<{ user: PublicUser }>(server.url, '/api/me/avatar', { method: 'DELETE', token: owner.token });
		expect([removed.status, removed.body.user.avatar]).toEqual([200, null]);
		expect((await api<{ user: PublicUser }>(server.url, '/api/me', { token: owner.token })).body.user.avatar).toBeNull();
		expect(row(second.id)).toBeUndefined();
		expect(existsSync(join(uploadsDir, second.id))).toBe(false);
		expect(existsSync(join(uploadsDir, `${second.id}.thumb.webp`))).toBe(false);
		expect((await download(ben, second.id, 'thumbnail')).status).toBe(404);
		expect((await usage(owner)).usedBytes).toBe(0);
	});

	it('[ATTACH-3] a profile photo is only an image of my own that no message carries: not-an-image, someone else’s 404, a sent file attachment-taken; a photo is no attachment', async () => {
		const owner = await createAccount(server.url);
		const text = await uploaded(owner, Buffer.from('not a face'), 'face.txt');
		const notImage = await api<ErrorBody>(server.url, '/api/me/avatar', { method: 'PUT', token: owner.token, body: { uploadId: text.id } });
		expect([notImage.status, notImage.body.error.code]).toEqual([400, 'not-an-image']);
		const hers = await uploaded(ana, await solid(40, 40).png().toBuffer(), 'hers.png');
		const foreign = await api<ErrorBody>(server.url, '/api/me/avatar', { method: 'PUT', token: owner.token, body: { uploadId: hers.id } });
		expect(foreign.status).toBe(404);
		expect(row(hers.id)?.avatar).toBe(false);
		const unknown = await api<ErrorBody>(server.url, '/api/me/avatar', { method: 'PUT', token: owner.token, body: { uploadId: ulid() } });
		expect(unknown.status).toBe(404);
		const malformed = await api<ErrorBody>(server.url, '/api/me/avatar', { method: 'PUT', token: owner.token, body: { uploadId: '../../etc/passwd' } });
		expect(malformed.status).toBe(400);
		// A file already sent stays the message's.
		const sent = await uploaded(ana, await solid(40, 40).png().toBuffer(), 'sent.png');
		await send(ana, pair, [sent]);
		const taken = await api<ErrorBody>(server.url, '/api/me/avatar', { method: 'PUT', token: ana.token, body: { uploadId: sent.id } });
		expect([taken.status, taken.body.error.code]).toEqual([409, 'attachment-taken']);
		expect(row(sent.id)).toMatchObject({ avatar: false, messageId: expect.any(String) });
		// And a photo cannot be sent as a file.
		const face = await uploaded(ana, await solid(40, 40).png().toBuffer(), 'face.png');
		expect((await api(server.url, '/api/me/avatar', { method: 'PUT', token: ana.token, body: { uploadId: face.id } })).status).toBe(200);
		const id = ulid();
		expect((await refused(ana, pair, (doc) => messagesMap(doc).set(id, messageValue(ana, [face])))).code).toBe(RefusalCode.AttachmentTaken);
		expect((await api(server.url, '/api/me/avatar', { method: 'PUT', body: { uploadId: face.id } })).status).toBe(401);
		expect((await api(server.url, '/api/me/avatar', { method: 'DELETE' })).status).toBe(401);
	});

	// ---------------------------------------------------------------------------------------------
	// Bad input

	it('[ATTACH-3] a malformed id is a 404 JSON error, and every upload route wants a session', async () => {
		for (const path of ['/api/uploads/not-an-id', '/api/uploads/not-an-id/thumbnail', `/api/uploads/${ulid()}`, `/api/uploads/${ulid().toLowerCase()}`, '/api/uploads/..%2F..%2Fchat.sqlite']) {
			const response = await api<ErrorBody>(server.url, path, { token: ana.token });
			expect(response.status, path).toBe(404);
			expect(response.headers.get('content-type')).toMatch(/^application\/json/);
			expect(response.body.error.code).toBe('not-found');
		}
		const some = await uploaded(ana, randomBytes(20), 'some.bin');
		expect((await api(server.url, '/api/uploads')).status).toBe(401);
		expect((await api(server.url, `/api/uploads/${some.id}`)).status).toBe(401);
		expect((await api(server.url, `/api/uploads/${some.id}/thumbnail`)).status).toBe(401);
		expect((await api(server.url, `/api/uploads/${some.id}`, { token: 'not-a-token' })).status).toBe(401);
		expect((await post(null, randomBytes(20), 'x.bin')).status).toBe(401);
	});

	// ---------------------------------------------------------------------------------------------
	// ATTACH-5: last, as it sweeps every unattached upload of the tests above

	it('[ATTACH-5] a sweep while an image is being stored leaves the new upload whole', async () => {
		// Large in pixels, small in bytes: re-encoding it and making its thumbnail takes a while.
		const image = await solid(4000, 4000, '#2c3e50').png({ palette: true, compressionLevel: 9 }).toBuffer();
		expect(image.length).toBeLessThan(MAX_BYTES);
		let sweeping = true;
		let sweeps = 0;
		const sweeper = (async () => {
			while (sweeping) {
				await server.app.core.uploads.sweep();
				sweeps += 1;
				await new Promise((resolve) => setTimeout(resolve, 1));
			}
		})();
		const response = await post(ana, image, 'poster.png').finally(() => (sweeping = false));
		await sweeper;
		expect(sweeps).toBeGreaterThan(1);
		expect(response.status, JSON.stringify(response.body)).toBe(201);
		expect(response.body.upload).toMatchObject({ width: 4000, height: 4000 });
		expect((await download(ana, response.body.upload.id)).status).toBe(200);
		expect((await download(ana, response.body.upload.id, 'thumbnail')).status).toBe(200);
	});

	it('[ATTACH-5] the sweep removes uploads nobody attached within a day, and files with no row; sent files and profile photos stay', async () => {
		const owner = await createAccount(server.url);
		const loose = await uploaded(owner, await solid(30, 30).png().toBuffer(), 'loose.png');
		const attached = await uploaded(owner, await solid(30, 30).png().toBuffer(), 'attached.png');
		const photo = await uploaded(owner, await solid(30, 30).png().toBuffer(), 'photo.png');
		const conversationId = await createConversation(server.url, owner, [ben], 'Sweep');
		await send(owner, conversationId, [attached]);
		expect((await api(server.url, '/api/me/avatar', { method: 'PUT', token: owner.token, body: { uploadId: photo.id } })).status).toBe(200);
		const stray = ulid();
		writeFileSync(join(uploadsDir, stray), 'left by a crash');
		writeFileSync(join(uploadsDir, `${stray}.thumb.webp`), 'left by a crash');
		writeFileSync(join(uploadsDir, 'tmp', ulid()), 'a cut-off upload');

		// Within the day nothing of it goes.
		await server.app.core.uploads.sweep(Date.now() + 23 * 3600 * 1000);
		expect(row(loose.id)).toBeDefined();
		expect((await download(owner, loose.id)).status).toBe(200);

		const removed = await server.app.core.uploads.sweep(Date.now() + 25 * 3600 * 1000);
		expect(removed).toBeGreaterThanOrEqual(1);
		expect(row(loose.id)).toBeUndefined();
		expect(existsSync(join(uploadsDir, loose.id))).toBe(false);
		expect(existsSync(join(uploadsDir, `${loose.id}.thumb.webp`))).toBe(false);
		expect((await download(owner, loose.id)).status).toBe(404);
		expect(existsSync(join(uploadsDir, stray))).toBe(false);
		expect(existsSync(join(uploadsDir, `${stray}.thumb.webp`))).toBe(false);
		expect(filesUnder(join(uploadsDir, 'tmp'))).toEqual([]);
		// What messages and profiles carry stays.
		expect((await download(ben, attached.id)).status).toBe(200);
		expect((await download(ben, attached.id, 'thumbnail')).status).toBe(200);
		expect((await download(cal, photo.id, 'thumbnail')).status).toBe(200);
		expect(row(photo.id)?.avatar).toBe(true);
		// Every file left has its row; every row its file.
		const ids = new Set(filesUnder(uploadsDir).map((file) => file.slice(0, 26)));
		for (const id of ids) expect(row(id), id).toBeDefined();
		const sent = await history(ana, pair);
		for (const message of sent) for (const ref of message.attachments) expect(existsSync(join(uploadsDir, ref.id)), ref.name).toBe(true);
		// An attachment swept away is unknown to a message from then on.
		const late = ulid();
		expect((await refused(owner, conversationId, (doc) => messagesMap(doc).set(late, messageValue(owner, [loose])))).code).toBe(RefusalCode.AttachmentUnknown);
	});
});
