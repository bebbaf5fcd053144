/**
 * The messages of ended epochs this device has seen (EPOCH, OFFLINE-8), kept in one IndexedDB
 * database per user so a long conversation opens on its last screen without the network, and
 * older pages show offline once they were seen. Rows are the server's history rows (deleted ones
 * too, so a run of sequence numbers without gaps shows a page is whole).
 */

import { call, type MessageDto } from './api';
import { userKey } from './local-data';
import { openDatabase, request } from './indexed-db.ts';

/** A stored history row: what the timeline needs of a `MessageDto`. */
export interface HistoryRow {
	conversationId: string;
	id: string;
	seq: number;
	author: string;
	body: string;
	createdAt: number;
	editedAt: number | null;
	deletedAt: number | null;
	event: MessageDto['event'];
	/** Rows cached before replies and reactions existed have neither. */
	replyTo?: string | null;
	reactions?: MessageDto['reactions'];
	/** Rows cached before attachments existed have none. */
	attachments?: MessageDto['attachments'];
}

const STORE = 'messages';

export function historyDatabaseName(userId: string): string {
	return userKey(userId, 'history');
}

export function rowOf(message: MessageDto): HistoryRow {
	const { conversationId, id, seq, body, createdAt, editedAt, deletedAt, event, replyTo, reactions, attachments } = message;
	return { conversationId, id, seq, author: message.author.id, body, createdAt, editedAt, deletedAt, event, replyTo, reactions, attachments };
}

export class HistoryCache {
	#db: Promise<IDBDatabase | null>;

	constructor(readonly userId: string) {
		this.#db = this.#open();
	}

	/** No database (none, refused to this page, or not answering): nothing is cached. */
	#open(): Promise<IDBDatabase | null> {
		return openDatabase(historyDatabaseName(this.userId), 1, (db) => db.createObjectStore(STORE, { keyPath: ['conversationId', 'seq'] })).then((db) => {
			// Logging out deletes this database: let it go rather than block the deletion.
			if (db) db.onversionchange = () => db.close();
			return db;
		});
	}

	/**
	 * Up to `limit` rows just before `before` (all, when null), oldest first: the whole run this
	 * device holds without a gap, ending right before `before` (so a hole is never shown as history).
	 */
	async page(conversationId: string, before: number | null, limit: number): Promise<HistoryRow[]> {
		const db = await this.#db;
		if (!db) return [];
		const upper = before === null ? Number.MAX_SAFE_INTEGER : before;
		const range = IDBKeyRange.bound([conversationId, 0], [conversationId, upper], false, true);
		const rows: HistoryRow[] = [];
		try {
			await new Promise<void>((resolve, reject) => {
				const cursorRequest = db.transaction(STORE, 'readonly').objectStore(STORE).openCursor(range, 'prev');
				cursorRequest.onerror = () => reject(cursorRequest.error);
				cursorRequest.onsuccess = () => {
					const cursor = cursorRequest.result;
					const row = cursor?.value as HistoryRow | undefined;
					const expected = rows.length === 0 ? (before === null ? row?.seq : before - 1) : rows[rows.length - 1]!.seq - 1;
					if (!cursor || !row || row.seq !== expected || rows.length >= limit) return resolve();
					rows.push(row);
					cursor.continue();
				};
			});
		} catch {
			return [];
		}
		return rows.reverse();
	}

	/** Every row this device holds, of every conversation (for searching offline). */
	async all(): Promise<HistoryRow[]> {
		const db = await this.#db;
		if (!db) return [];
		try {
			return (await request(db.transaction(STORE, 'readonly').objectStore(STORE).getAll())) as HistoryRow[];
		} catch {
			return [];
		}
	}

	async put(rows: HistoryRow[]): Promise<void> {
		const db = await this.#db;
		if (!db || rows.length === 0) return;
		try {
			const tx = db.transaction(STORE, 'readwrite');
			const store = tx.objectStore(STORE);
			for (const row of rows) store.put(row);
			await new Promise<void>((resolve, reject) => {
				tx.oncomplete = () => resolve();
				tx.onerror = tx.onabort = () => reject(tx.error);
			});
		} catch {
			// Storage full or closing: the device remembers less, the server still has it all.
		}
	}

	/** A page from the server (and into this cache): rows before `before`, oldest first. */
	async fetch(conversationId: string, before: number | null, limit: number): Promise<HistoryRow[]> {
		const query = new URLSearchParams({ limit: String(limit) });
		if (before !== null) query.set('before', String(before));
		const { messages } = await call<{ messages: MessageDto[] }>('GET', `/api/conversations/${conversationId}/messages?${query}`);
		const rows = messages.map(rowOf);
		await this.put(rows);
		return rows;
	}
}
