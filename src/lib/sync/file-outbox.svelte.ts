import { call } from '$lib/client/api';
import { uploadFile } from '$lib/client/attachments';
import { userKey } from '$lib/client/local-data';
import { ApiError } from '$lib/shared/api-error';
import type { AttachmentRef } from '$lib/shared/protocol';
import { openDatabase, request } from '$lib/client/indexed-db';

/** One file of a message waiting to go: its bytes stay on this device until the server has them. */
export interface OutboxFile {
	name: string;
	type: string;
	size: number;
	blob: Blob;
	/** Images: their size as this device decoded it, so the message keeps its shape before the upload. */
	width?: number;
	height?: number;
	/** Set once the server has the file. */
	upload?: AttachmentRef;
}

/** A message with files, stored on this device before it shows (OFFLINE-9). */
export interface OutboxItem {
	/** The message id it will have. */
	id: string;
	conversationId: string;
	body: string;
	createdAt: number;
	replyTo?: string;
	files: OutboxFile[];
	/** Set when the server refused it for good (too large, over quota, unreadable…): Retry or Delete. */
	failed?: { code: string; reason: string };
}

const STORE = 'items';
/** After a network or server error, the next try waits this long (doubling up to a minute). */
const RETRY_MIN_MS = 2000;
const RETRY_MAX_MS = 60_000;

/**
 * Messages with files: each is written to IndexedDB (files included) before it shows, uploaded file
 * by file once the server is reachable (progress shown), then sent with the REST call that is
 * idempotent on the message id, so a reload, a closed tab or a second tab never sends it twice. A
 * refusal (too large, quota, unreadable image, no longer a member) leaves it failed with the reason.
 * One tab at a time does the sending (a Web Lock); the others follow through a BroadcastChannel.
 */
export class FileOutbox {
	/** Every waiting or failed message, oldest first (files included). */
	items = $state.raw<OutboxItem[]>([]);
	/** Upload progress of the message being sent, 0 to 1. */
	progress = $state.raw<Record<string, number>>({});
	/** Messages the server stored, until their conversation shows them from its document. */
	#sent = new Map<string, OutboxItem>();
	/** Null when the browser refuses the app a database: the messages then wait in this tab's memory. */
	#db: Promise<IDBDatabase | null>;
	#channel: BroadcastChannel | null;
	#running = false;
	#again = false;
	#retryTimer: ReturnType<typeof setTimeout> | undefined;
	#retryDelay = RETRY_MIN_MS;
	#destroyed = false;
	#abort = new AbortController();
	#onOnline = () => this.kick();
	/** Without a database the messages live in this tab only: leaving it asks first. */
	#inMemory = false;
	#onLeave = (event: BeforeUnloadEvent) => {
		if (!this.#inMemory || this.items.length === 0) return;
		event.preventDefault();
		event.returnValue = '';
	};

	constructor(private readonly userId: string) {
		this.#db = this.#open();
		void this.#db.then((db) => (this.#inMemory = !db));
		addEventListener('beforeunload', this.#onLeave);
		this.#channel = typeof BroadcastChannel === 'undefined' ? null : new BroadcastChannel(userKey(userId, 'outbox'));
		if (this.#channel) this.#channel.onmessage = () => void this.#reload();
		addEventListener('online', this.#onOnline);
		void this.#reload().then(() => this.kick());
	}

	/** The messages of one conversation still on their way (sent ones too, until the document has them). */
	pending(conversationId: string): OutboxItem[] {
		return [...this.items, ...this.#sent.values()].filter((item) => item.conversationId === conversationId);
	}

	/** Whether this message is one of the outbox's (waiting, failed or just sent). */
	has(id: string): boolean {
		return this.#sent.has(id) || this.items.some((item) => item.id === id);
	}

	/** The conversation's document has the message: the outbox forgets it. */
	forget(id: string): void {
		this.#sent.delete(id);
	}

	/** Stores the message (files included) on this device; it shows once this resolves, and goes when it can. */
	async add(item: OutboxItem): Promise<void> {
		const db = await this.#db;
		if (db) {
			const tx = db.transaction(STORE, 'readwrite');
			tx.objectStore(STORE).put(item);
			await new Promise<void>((resolve, reject) => {
				tx.oncomplete = () => resolve();
				tx.onerror = tx.onabort = () => reject(tx.error ?? new Error('The file could not be stored on this device.'));
			});
		}
		this.items = [...this.items.filter((other) => other.id !== item.id), item];
		this.#changed();
		this.kick();
	}

	/** Tries a failed message again. */
	async retry(id: string): Promise<void> {
		const item = this.items.find((other) => other.id === id);
		if (!item?.failed) return;
		await this.#put({ ...item, failed: undefined });
		this.kick();
	}

	/** Drops a waiting or failed message from this device. */
	async discard(id: string): Promise<void> {
		const db = await this.#db;
		if (db) await request(db.transaction(STORE, 'readwrite').objectStore(STORE).delete(id));
		this.items = this.items.filter((item) => item.id !== id);
		this.#changed();
	}

	/** Starts sending (again), unless a run is under way. */
	kick(): void {
		clearTimeout(this.#retryTimer);
		this.#retryTimer = undefined;
		if (this.#destroyed) return;
		if (this.#running) {
			this.#again = true;
			return;
		}
		if (!this.items.some((item) => !item.failed)) return;
		this.#running = true;
		const run = () => this.#sendAll();
		const locked = typeof navigator !== 'undefined' && navigator.locks ? navigator.locks.request(userKey(this.userId, 'outbox'), run) : run();
		void Promise.resolve(locked)
			.catch(() => {})
			.finally(() => {
				this.#running = false;
				if (this.#again) {
					this.#again = false;
					this.kick();
				}
			});
	}

	destroy(): void {
		this.#destroyed = true;
		clearTimeout(this.#retryTimer);
		this.#abort.abort();
		removeEventListener('online', this.#onOnline);
		removeEventListener('beforeunload', this.#onLeave);
		this.#channel?.close();
		void this.#db.then((db) => db?.close());
	}

	async #sendAll(): Promise<void> {
		// Another tab may have sent some while this one waited for the lock.
		await this.#reload();
		for (;;) {
			if (this.#destroyed) return;
			const item = this.items.find((other) => !other.failed);
			if (!item) return;
			const outcome = await this.#send(item);
			if (outcome === 'later') {
				this.#retryTimer = setTimeout(() => this.kick(), this.#retryDelay);
				this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX_MS);
				return;
			}
			this.#retryDelay = RETRY_MIN_MS;
		}
	}

	/** Uploads what is not uploaded yet, then sends the message: 'done' (sent, or failed for good) or 'later'. */
	async #send(item: OutboxItem): Promise<'done' | 'later'> {
		let current = item;
		const total = item.files.reduce((sum, file) => sum + file.size, 0) || 1;
		try {
			for (let index = 0; index < current.files.length; index++) {
				const file = current.files[index]!;
				if (file.upload) continue;
				const before = current.files.slice(0, index).reduce((sum, f) => sum + f.size, 0);
				const upload = await uploadFile(file.blob, file.name, (fraction) => this.#setProgress(item.id, (before + fraction * file.size) / total), this.#abort.signal);
				// Kept at once: a reload from here on does not upload this file again.
				current = { ...current, files: current.files.map((f, i) => (i === index ? { ...f, upload } : f)) };
				await this.#put(current);
			}
			this.#setProgress(item.id, 1);
			await call('POST', `/api/conversations/${item.conversationId}/messages`, {
				id: item.id,
				body: item.body,
				createdAt: item.createdAt,
				...(item.replyTo ? { replyTo: item.replyTo } : {}),
				attachments: current.files.map((file) => file.upload!.id)
			});
			this.#sent.set(item.id, current);
			await this.discard(item.id);
			return 'done';
		} catch (error) {
			const status = error instanceof ApiError ? error.status : 0;
			// No network, the server busy or restarting, too fast: the message waits and goes later by itself.
			if (status === 0 || status === 429 || status >= 500 || status === 401) return 'later';
			const code = error instanceof ApiError ? error.code : 'error';
			const reason = error instanceof Error ? error.message : 'Not sent.';
			// An upload that expired before the message went: upload the files again.
			const files = code === 'attachment-unknown' || code === 'attachment-taken' ? current.files.map(({ upload: _upload, ...file }) => file) : current.files;
			await this.#put({ ...current, files, failed: { code, reason } });
			return 'done';
		} finally {
			this.#setProgress(item.id, undefined);
		}
	}

	#setProgress(id: string, fraction: number | undefined): void {
		const next = { ...this.progress };
		if (fraction === undefined) delete next[id];
		else next[id] = fraction;
		this.progress = next;
	}

	async #put(item: OutboxItem): Promise<void> {
		const db = await this.#db;
		if (db) await request(db.transaction(STORE, 'readwrite').objectStore(STORE).put(item));
		this.items = this.items.map((other) => (other.id === item.id ? item : other));
		this.#changed();
	}

	async #reload(): Promise<void> {
		try {
			const db = await this.#db;
			// In memory only: this tab's list is the whole list.
			if (!db) return;
			const stored = await request(db.transaction(STORE, 'readonly').objectStore(STORE).getAll() as IDBRequest<OutboxItem[]>);
			this.items = stored.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
		} catch {
			// The database is gone (logged out in another tab): nothing to send.
		}
	}

	#changed(): void {
		this.#channel?.postMessage('changed');
	}

	#open(): Promise<IDBDatabase | null> {
		return openDatabase(userKey(this.userId, 'outbox'), 1, (db) => db.createObjectStore(STORE, { keyPath: 'id' }));
	}
}
