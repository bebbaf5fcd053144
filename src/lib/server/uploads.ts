import { and, eq, isNull, lt, sql } from 'drizzle-orm';
import { fileTypeFromFile } from 'file-type';
import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, rename, rm, stat } from 'node:fs/promises';
import { lookup } from 'node:dns/promises';
import { BlockList, isIPv6 } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { ulid } from 'ulid';
import type { Db } from './db/index.ts';
import { uploads, users, type UploadRow } from './db/schema.ts';
import { fail, succeed, type Failure, type FailureCode, type Outcome } from './outcome.ts';
import { IMAGE_TYPES, formatSize } from '../shared/files.ts';
import { UPLOAD_ID, UPLOAD_NAME_MAX } from '../shared/limits.ts';
import type { AttachmentRef } from '../shared/protocol.ts';

/** Uploads no message or profile took are removed this long after they were made (ATTACH-5). */
export const UNATTACHED_TTL_MS = 24 * 60 * 60 * 1000;
/** Files without a row (and temporary files) younger than this may belong to an upload still being stored. */
const ORPHAN_AGE_MS = 60 * 60 * 1000;
/** The longest side of a thumbnail, in pixels; profile photos are this square. */
const THUMBNAIL_PX = 480;
const AVATAR_PX = 256;
/** Larger images (in pixels) are refused (`image-too-large`): decoding them costs too much. */
const IMAGE_MAX_PIXELS = 50_000_000;

export interface UploadLimits {
	/** Largest upload, bytes (UPLOAD_MAX_BYTES). */
	maxBytes: number;
	/** What one user's uploads may take in all, bytes (UPLOAD_QUOTA_BYTES). */
	quotaBytes: number;
	/** Whether a platform's photo URL may point at a loopback or private address (FETCH_PRIVATE_ADDRESSES; tests and local demos). */
	fetchPrivate?: boolean;
}

/** Images decoded at once: more wait their turn, so a burst of large images cannot take every core. */
const IMAGE_SLOTS = 2;

/** Whether an address is on this machine or a private network (no fetching there on a platform's word). */
function isPrivateAddress(address: string): boolean {
	const blocked = new BlockList();
	for (const [net, prefix] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16], ['224.0.0.0', 4], ['240.0.0.0', 4]] as const) {
		blocked.addSubnet(net, prefix, 'ipv4');
	}
	for (const [net, prefix] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8]] as const) blocked.addSubnet(net, prefix, 'ipv6');
	const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
	return mapped ? blocked.check(mapped, 'ipv4') : blocked.check(address, isIPv6(address) ? 'ipv6' : 'ipv4');
}

export type Variant = 'original' | 'thumbnail';

export function toAttachmentRef(row: UploadRow): AttachmentRef {
	return { id: row.id, name: row.name, type: row.type, size: row.size, ...(row.width !== null && row.height !== null ? { width: row.width, height: row.height } : {}) };
}

/** What the update guard needs of an upload a message names (ATTACH-2). */
export interface UploadFacts extends AttachmentRef {
	ownerId: string;
	conversationId: string | null;
	messageId: string | null;
	avatar: boolean;
}

/** A file name as shown: its last path segment, without control characters, at most {@link UPLOAD_NAME_MAX} characters (the extension kept). */
export function cleanFileName(raw: string | null): string {
	const last = (raw ?? '').split(/[\\/]/).pop() ?? '';
	// eslint-disable-next-line no-control-regex
	let name = last.replace(/[\u0000-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, '').replace(/\s+/g, ' ').trim();
	if (name === '' || name === '.' || name === '..') name = 'file';
	const chars = [...name];
	if (chars.length > UPLOAD_NAME_MAX) {
		const dot = name.lastIndexOf('.');
		const extension = dot > 0 && name.length - dot <= 10 ? name.slice(dot) : '';
		name = chars.slice(0, UPLOAD_NAME_MAX - [...extension].length).join('') + extension;
	}
	return name;
}

/**
 * Uploaded files: received as a stream with the size cap enforced while it arrives, typed by their
 * content, stored under a name the server makes, and readable only as ATTACH-3 says. Images are
 * re-encoded without metadata and get a thumbnail and their dimensions.
 */
/**
 * A refusal deep in the pipeline (the stream, the image decoder, a transaction), carried out to the
 * public method that started it, which returns it as a {@link Failure}; cleanup runs on the way.
 */
class Refused extends Error {
	readonly failure: Failure;
	constructor(code: FailureCode, message: string) {
		super(message);
		this.failure = fail(code, message);
	}
}

/** The pipeline's value, or the refusal it met. */
async function outcomeOf<T>(work: () => Promise<T>): Promise<Outcome<T>> {
	try {
		return succeed(await work());
	} catch (error) {
		if (error instanceof Refused) return error.failure;
		throw error;
	}
}

export class Uploads {
	readonly dir: string;
	readonly #tmp: string;

	constructor(
		private readonly db: Db,
		dataDir: string,
		readonly limits: UploadLimits
	) {
		this.dir = join(dataDir, 'uploads');
		this.#tmp = join(this.dir, 'tmp');
		mkdirSync(this.#tmp, { recursive: true });
	}

	/** Where a variant's bytes are: always a path the server made from the row's id. */
	path(id: string, variant: Variant): string {
		if (!UPLOAD_ID.test(id)) throw new Error('not an upload id');
		return join(this.dir, variant === 'original' ? id : `${id}.thumb.webp`);
	}

	find(id: string): UploadRow | undefined {
		if (!UPLOAD_ID.test(id)) return undefined;
		return this.db.select().from(uploads).where(eq(uploads.id, id)).get();
	}

	facts(id: string): UploadFacts | undefined {
		const row = this.find(id);
		return row && { ...toAttachmentRef(row), ownerId: row.ownerId, conversationId: row.conversationId, messageId: row.messageId, avatar: row.avatar };
	}

	/** Bytes the user's uploads take now. */
	used(userId: string): number {
		const row = this.db.select({ total: sql<number>`coalesce(sum(${uploads.size}), 0)` }).from(uploads).where(eq(uploads.ownerId, userId)).get();
		return row?.total ?? 0;
	}

	/**
	 * Stores one upload of `ownerId`'s. The body is counted as it arrives and dropped the moment it
	 * passes the cap (or the user's quota); nothing of a refused upload stays on disk.
	 */
	receive(ownerId: string, body: ReadableStream<Uint8Array> | null, declaredLength: number | null, rawName: string | null): Promise<Outcome<AttachmentRef>> {
		return outcomeOf(() => this.#receive(ownerId, body, declaredLength, rawName));
	}

	async #receive(ownerId: string, body: ReadableStream<Uint8Array> | null, declaredLength: number | null, rawName: string | null): Promise<AttachmentRef> {
		const { maxBytes, quotaBytes } = this.limits;
		const room = quotaBytes - this.used(ownerId);
		const tooLarge = () => new Refused('upload-too-large', `Files can be at most ${formatSize(maxBytes)}.`);
		const overQuota = () => new Refused('quota-exceeded', `Your files take all of your ${formatSize(quotaBytes)}. Delete some messages with files to make room.`);
		if (declaredLength !== null && declaredLength > maxBytes) throw tooLarge();
		if (declaredLength !== null && declaredLength > room) throw overQuota();
		if (!body) throw new Refused('upload-empty', 'The file is empty.');
		const id = ulid();
		const tmp = join(this.#tmp, id);
		try {
			const size = await writeStream(body, tmp, Math.min(maxBytes, Math.max(0, room)), () => (room < maxBytes ? overQuota() : tooLarge()));
			if (size === 0) throw new Refused('upload-empty', 'The file is empty.');
			const name = cleanFileName(rawName);
			const sniffed = await fileTypeFromFile(tmp);
			const type = sniffed?.mime ?? 'application/octet-stream';
			let stored: { size: number; width: number | null; height: number | null };
			if (IMAGE_TYPES.has(type)) stored = await this.#storeImage(tmp, id, type);
			else {
				await rename(tmp, this.path(id, 'original'));
				stored = { size, width: null, height: null };
			}
			// The files' directory entries are on disk before the row that names them.
			await fsyncFile(this.dir);
			// Asked again now, with no await before the insert: uploads of the same user that finished meanwhile count.
			if (stored.size > quotaBytes - this.used(ownerId)) {
				await this.#removeFiles([id]);
				throw overQuota();
			}
			const row: UploadRow = { id, ownerId, name, type, size: stored.size, width: stored.width, height: stored.height, createdAt: Date.now(), conversationId: null, messageId: null, avatar: false };
			this.db.insert(uploads).values(row).run();
			return toAttachmentRef(row);
		} finally {
			await rm(tmp, { force: true });
		}
	}

	#imagesBusy = 0;
	#imageQueue: Array<() => void> = [];

	/** Re-encodes the image, one of {@link IMAGE_SLOTS} at a time. */
	async #storeImage(tmp: string, id: string, type: string): Promise<{ size: number; width: number; height: number }> {
		if (this.#imagesBusy >= IMAGE_SLOTS) await new Promise<void>((resolve) => this.#imageQueue.push(resolve));
		this.#imagesBusy += 1;
		try {
			return await this.#encodeImage(tmp, id, type);
		} finally {
			this.#imagesBusy -= 1;
			this.#imageQueue.shift()?.();
		}
	}

	/** Re-encodes the image without its metadata (EXIF location included), upright, and makes its thumbnail. */
	async #encodeImage(tmp: string, id: string, type: string): Promise<{ size: number; width: number; height: number }> {
		const input = () => sharp(tmp, { limitInputPixels: IMAGE_MAX_PIXELS, animated: type === 'image/gif' || type === 'image/webp' });
		const original = this.path(id, 'original');
		const { width = 0, height = 0 } = await sharp(tmp).metadata().catch(() => ({ width: 0, height: 0 }));
		if (width * height > IMAGE_MAX_PIXELS) throw new Refused('image-too-large', `Images can be at most ${IMAGE_MAX_PIXELS / 1e6} million pixels.`);
		try {
			const encoded = input().autoOrient();
			const format = type === 'image/jpeg' ? encoded.jpeg({ quality: 90 }) : type === 'image/png' ? encoded.png() : type === 'image/gif' ? encoded.gif() : encoded.webp({ quality: 90 });
			const info = await format.toFile(original);
			await fsyncFile(original);
			await sharp(tmp, { limitInputPixels: IMAGE_MAX_PIXELS }).autoOrient().resize(THUMBNAIL_PX, THUMBNAIL_PX, { fit: 'inside', withoutEnlargement: true }).webp({ quality: 80 }).toFile(this.path(id, 'thumbnail'));
			await fsyncFile(this.path(id, 'thumbnail'));
			// An animated image reports the height of all its frames stacked.
			const pages = info.pageHeight && info.height > info.pageHeight ? info.pageHeight : info.height;
			return { size: info.size, width: info.width, height: pages };
		} catch (error) {
			await this.#removeFiles([id]);
			if (error instanceof Refused) throw error;
			throw new Refused('image-unreadable', 'The image could not be read: it may be damaged or cut short.');
		}
	}

	/**
	 * Whether `userId` may read the upload (ATTACH-3): its owner while no message has it; a member of
	 * the conversation whose message carries it; anyone signed in for a profile photo.
	 */
	access(row: UploadRow, userId: string, isMember: (conversationId: string, userId: string) => boolean): 'ok' | 'not-found' | 'not-a-member' {
		if (row.avatar) return 'ok';
		if (row.conversationId !== null) return isMember(row.conversationId, userId) ? 'ok' : 'not-a-member';
		return row.ownerId === userId ? 'ok' : 'not-found';
	}

	/**
	 * Inside the transaction that stores a message: its uploads become the message's (ATTACH-2). Throws
	 * when one is gone, someone else's, or already another message's, so nothing of the batch is stored.
	 */
	attach(conversationId: string, messageId: string, authorId: string, ids: string[]): void {
		for (const id of ids) {
			const result = this.db
				.update(uploads)
				.set({ conversationId, messageId })
				.where(
					and(
						eq(uploads.id, id),
						eq(uploads.ownerId, authorId),
						eq(uploads.avatar, false),
						sql`(${uploads.messageId} is null or (${uploads.conversationId} = ${conversationId} and ${uploads.messageId} = ${messageId}))`
					)
				)
				.run();
			if (result.changes !== 1) throw new Error(`upload ${id} cannot be attached to message ${messageId}`);
		}
	}

	/** Inside the transaction that deletes a message for everyone: its uploads' rows go; returns their ids, whose files go after the commit (ERASE-5). */
	detach(conversationId: string, messageId: string): string[] {
		return this.db
			.delete(uploads)
			.where(and(eq(uploads.conversationId, conversationId), eq(uploads.messageId, messageId)))
			.returning({ id: uploads.id })
			.all()
			.map((row) => row.id);
	}

	/**
	 * Fetches a photo from a host platform's URL (http(s), the same size cap, 10 s at most) through
	 * the upload pipeline (typed, re-encoded, metadata stripped) and makes it the user's profile photo.
	 */
	avatarFromUrl(userId: string, url: string): Promise<Outcome<void>> {
		return outcomeOf(() => this.#avatarFromUrl(userId, url));
	}

	async #avatarFromUrl(userId: string, url: string): Promise<void> {
		const unreachable = () => new Refused('avatar-unreachable', `The photo at ${url} could not be fetched.`);
		if (!this.limits.fetchPrivate) {
			// Not on this machine or its private network, and no redirects (each hop would need the same check).
			const addresses = await lookup(new URL(url).hostname, { all: true }).catch(() => []);
			if (addresses.length === 0 || addresses.some((a) => isPrivateAddress(a.address))) throw unreachable();
		}
		const response = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(10_000) }).catch(() => null);
		if (!response?.ok || !response.body) throw unreachable();
		const length = response.headers.get('content-length');
		const upload = await this.#receive(userId, response.body, length === null ? null : Number(length), 'photo');
		try {
			await this.#setAvatar(userId, upload.id);
		} catch (error) {
			await this.#removeFiles([upload.id]);
			this.db.delete(uploads).where(eq(uploads.id, upload.id)).run();
			throw error;
		}
	}

	/** Makes an image upload of the user's their profile photo (a square thumbnail); the previous photo is erased. */
	setAvatar(userId: string, id: string | null): Promise<Outcome<void>> {
		return outcomeOf(() => this.#setAvatar(userId, id));
	}

	async #setAvatar(userId: string, id: string | null): Promise<void> {
		let row: UploadRow | undefined;
		if (id !== null) {
			row = this.find(id);
			if (!row || row.ownerId !== userId) throw new Refused('not-found', 'Upload not found.');
			if (row.messageId !== null) throw new Refused('attachment-taken', 'This upload is already part of a message.');
			if (row.width === null) throw new Refused('not-an-image', 'A profile photo must be a PNG, JPEG, WebP or GIF image.');
			await sharp(this.path(id, 'original'), { limitInputPixels: IMAGE_MAX_PIXELS }).resize(AVATAR_PX, AVATAR_PX, { fit: 'cover' }).webp({ quality: 80 }).toFile(this.path(id, 'thumbnail') + '.square');
			await rename(this.path(id, 'thumbnail') + '.square', this.path(id, 'thumbnail'));
		}
		const previous = this.db
			.select({ id: uploads.id })
			.from(uploads)
			.where(and(eq(uploads.ownerId, userId), eq(uploads.avatar, true)))
			.all()
			.map((r) => r.id)
			.filter((other) => other !== id);
		this.db.transaction(() => {
			// Conditional: a message may have taken the upload while its square was being made.
			if (id !== null && this.db.update(uploads).set({ avatar: true }).where(and(eq(uploads.id, id), isNull(uploads.messageId))).run().changes !== 1) {
				throw new Refused('attachment-taken', 'This upload is already part of a message.');
			}
			for (const other of previous) this.db.delete(uploads).where(eq(uploads.id, other)).run();
			this.db.update(users).set({ avatarId: id }).where(eq(users.id, userId)).run();
		});
		await this.#removeFiles(previous);
	}

	/** Removes the files of uploads whose rows are gone. */
	async removeFiles(ids: string[]): Promise<void> {
		await this.#removeFiles(ids);
	}

	async #removeFiles(ids: string[]): Promise<void> {
		for (const id of ids) {
			await rm(this.path(id, 'original'), { force: true });
			await rm(this.path(id, 'thumbnail'), { force: true });
		}
	}

	/**
	 * Removes uploads no message or profile took within a day (ATTACH-5), and files without a row
	 * (a crash between a deletion's commit and its files' removal, a conversation deleted).
	 */
	async sweep(now = Date.now()): Promise<number> {
		const stale = this.db
			.delete(uploads)
			.where(and(isNull(uploads.messageId), eq(uploads.avatar, false), lt(uploads.createdAt, now - UNATTACHED_TTL_MS)))
			.returning({ id: uploads.id })
			.all()
			.map((row) => row.id);
		await this.#removeFiles(stale);
		const known = new Set(this.db.select({ id: uploads.id }).from(uploads).all().map((row) => row.id));
		for (const file of readdirSync(this.dir)) {
			const id = file.slice(0, 26);
			if (file === 'tmp' || !UPLOAD_ID.test(id) || known.has(id)) continue;
			// An upload being stored writes its files before its row: only old files are orphans.
			const age = now - (await stat(join(this.dir, file)).catch(() => ({ mtimeMs: now }))).mtimeMs;
			if (age > ORPHAN_AGE_MS) rmSync(join(this.dir, file), { force: true });
		}
		// Temporary files of uploads cut off by a restart.
		for (const file of readdirSync(this.#tmp)) {
			const age = now - (await stat(join(this.#tmp, file)).catch(() => ({ mtimeMs: now }))).mtimeMs;
			if (age > ORPHAN_AGE_MS) rmSync(join(this.#tmp, file), { force: true });
		}
		return stale.length;
	}
}

/** Writes the stream to `path` (fsynced), failing with `overLimit()` as soon as more than `limit` bytes arrived. */
async function writeStream(body: ReadableStream<Uint8Array>, path: string, limit: number, overLimit: () => Error): Promise<number> {
	const file = await open(path, 'wx');
	const reader = body.getReader();
	let size = 0;
	try {
		for (;;) {
			const { done, value } = await reader.read();
			if (done) break;
			size += value.byteLength;
			if (size > limit) throw overLimit();
			await file.write(value);
		}
		await file.sync();
		return size;
	} catch (error) {
		// Over the limit: the rest is left unread, not cancelled (cancelling destroys the request's socket, and the 413 would never reach the client).
		if (error instanceof Refused) {
			reader.releaseLock();
			throw error;
		}
		void reader.cancel().catch(() => {});
		throw new Refused('upload-interrupted', 'The upload was cut off before the whole file arrived.');
	} finally {
		await file.close();
	}
}

/** fsync of a file, or of a directory (its entries). */
async function fsyncFile(path: string): Promise<void> {
	const file = await open(path, 'r');
	try {
		await file.sync();
	} finally {
		await file.close();
	}
}

