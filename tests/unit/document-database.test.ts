import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IndexeddbPersistence } from 'y-indexeddb';
import * as Y from 'yjs';
import { watchDatabase, whenLoaded } from '../../src/lib/client/document-database.ts';

/**
 * y-indexeddb over fake-indexeddb (the browser's IndexedDB semantics in Node): lib0 closes the
 * connection on `versionchange`, exactly as in Chromium, so these cases are the ones a second tab
 * deleting the database makes.
 */
let counter = 0;
const opened: IndexeddbPersistence[] = [];

/** indexedDB.open requests that stay unanswered until `answer()` lets the real ones through. */
function stallOpens(): { answer(): void; restore(): void } {
	const real = indexedDB.open.bind(indexedDB);
	const waiting: Array<() => void> = [];
	const spy = vi.spyOn(indexedDB, 'open').mockImplementation((name: string, version?: number) => {
		const stand = {} as IDBOpenDBRequest & Record<string, unknown>;
		waiting.push(() => {
			const req = real(name, version);
			for (const type of ['onsuccess', 'onerror', 'onupgradeneeded', 'onblocked'] as const) req[type] = stand[type] as never;
			Object.defineProperty(stand, 'result', { get: () => req.result });
			Object.defineProperty(stand, 'error', { get: () => req.error });
		});
		return stand;
	});
	return {
		answer: () => {
			spy.mockRestore();
			for (const go of waiting.splice(0)) go();
		},
		restore: () => spy.mockRestore()
	};
}

function open(): { doc: Y.Doc; persistence: IndexeddbPersistence; name: string } {
	const name = `doc-${++counter}`;
	const doc = new Y.Doc();
	const persistence = new IndexeddbPersistence(name, doc);
	opened.push(persistence);
	return { doc, persistence, name };
}

/** A watched document, loaded, with an `update` handler registered after the store's (as the provider's is). */
async function openWatchedAndLoaded() {
	const { doc, persistence } = open();
	const lost = vi.fn();
	watchDatabase(persistence, lost);
	const later = vi.fn();
	doc.on('update', later);
	await persistence.whenSynced;
	return { doc, persistence, lost, later };
}

function deleteDatabase(name: string): Promise<void> {
	return new Promise((resolve, reject) => {
		const request = indexedDB.deleteDatabase(name);
		request.onsuccess = () => resolve();
		request.onerror = () => reject(request.error);
	});
}

function storedUpdates(name: string): Promise<number> {
	return new Promise((resolve, reject) => {
		const request = indexedDB.open(name);
		request.onerror = () => reject(request.error);
		request.onsuccess = () => {
			const db = request.result;
			if (!db.objectStoreNames.contains('updates')) {
				db.close();
				resolve(0);
				return;
			}
			const count = db.transaction('updates').objectStore('updates').count();
			count.onsuccess = () => {
				db.close();
				resolve(count.result);
			};
		};
	});
}

afterEach(async () => {
	await Promise.all(opened.splice(0).map((persistence) => persistence.destroy()));
});

describe('[OFFLINE-7] a document whose database closes under it', () => {
	it('reports the loss when another tab deletes the database before the document finished loading from it', async () => {
		const { persistence, name } = open();
		const lost = vi.fn();
		watchDatabase(persistence, lost);
		// The connection is open, the document not loaded yet: the window that used to go unwatched.
		await persistence._db;
		expect(persistence.synced).toBe(false);
		await deleteDatabase(name);
		expect(lost).toHaveBeenCalledTimes(1);
	});

	it('reports the loss when the database is deleted after the document loaded', async () => {
		const { persistence, name } = open();
		const lost = vi.fn();
		watchDatabase(persistence, lost);
		await persistence.whenSynced;
		await deleteDatabase(name);
		expect(lost).toHaveBeenCalledTimes(1);
	});

	it('keeps the update event going when the closed connection refuses a write: the provider and the other tabs still get it', async () => {
		const { doc, persistence, lost, later } = await openWatchedAndLoaded();
		// Closed the way lib0 does on `versionchange`, with the listeners not told (the old race).
		(await persistence._db).close();
		expect(() => doc.getMap('messages').set('m1', { body: 'hello' })).not.toThrow();
		expect(later).toHaveBeenCalledTimes(1);
		expect(lost).toHaveBeenCalledTimes(1);
		expect(doc.getMap('messages').get('m1')).toEqual({ body: 'hello' });
		doc.getMap('messages').set('m2', { body: 'again' });
		expect(lost).toHaveBeenCalledTimes(1);
	});

	it('a write refused for another reason (not a closing connection) is no loss: no reopen that would fail the same way, and the update event goes on', async () => {
		const { doc, persistence, lost, later } = await openWatchedAndLoaded();
		const error = vi.spyOn(console, 'error').mockImplementation(() => {});
		persistence.db!.transaction = () => {
			throw new DOMException('the disk is full', 'QuotaExceededError');
		};
		expect(() => doc.getMap('messages').set('m1', { body: 'hello' })).not.toThrow();
		expect(later).toHaveBeenCalledTimes(1);
		expect(lost).not.toHaveBeenCalled();
		expect(error).toHaveBeenCalledTimes(1);
		error.mockRestore();
	});

	it('without the watch, the same write throws out of the change and the handlers after it never run', async () => {
		const { doc, persistence } = open();
		const later = vi.fn();
		doc.on('update', later);
		await persistence.whenSynced;
		(await persistence._db).close();
		expect(() => doc.getMap('messages').set('m1', { body: 'hello' })).toThrow(/closing|InvalidState/i);
		expect(later).not.toHaveBeenCalled();
	});

	it('stores as before while the connection is open, and stops with the persistence', async () => {
		const { doc, persistence, name } = open();
		const lost = vi.fn();
		watchDatabase(persistence, lost);
		await persistence.whenSynced;
		const before = await storedUpdates(name);
		doc.getMap('messages').set('m1', { body: 'kept' });
		await new Promise((resolve) => setTimeout(resolve, 20));
		expect(await storedUpdates(name)).toBe(before + 1);
		await persistence.destroy();
		doc.getMap('messages').set('m2', { body: 'after destroy' });
		await new Promise((resolve) => setTimeout(resolve, 20));
		expect(await storedUpdates(name)).toBe(before + 1);
		expect(lost).not.toHaveBeenCalled();
	});
});

describe('whenLoaded', () => {
	it('[OFFLINE-10] is true once the document has loaded from its database', async () => {
		const { doc, persistence, name } = open();
		doc.getMap('messages').set('m1', { body: 'kept' });
		await persistence.whenSynced;
		await persistence.destroy();
		const again = new IndexeddbPersistence(name, new Y.Doc());
		opened.push(again);
		expect(await whenLoaded(again)).toBe(true);
		expect(again.doc.getMap('messages').get('m1')).toEqual({ body: 'kept' });
	});

	it('[OFFLINE-10] is false when the database refuses to open, where y-indexeddb never reports the document loaded', async () => {
		const refused = vi.spyOn(indexedDB, 'open').mockImplementation(() => {
			throw new DOMException('The user denied permission to access the database.', 'InvalidStateError');
		});
		const rejections: unknown[] = [];
		const onRejection = (reason: unknown) => rejections.push(reason);
		process.on('unhandledRejection', onRejection);
		try {
			const persistence = new IndexeddbPersistence(`refused-${++counter}`, new Y.Doc());
			let synced = false;
			void persistence.whenSynced.then(() => (synced = true));
			expect(await whenLoaded(persistence)).toBe(false);
			await new Promise((resolve) => setTimeout(resolve, 20));
			expect(synced).toBe(false);
			await persistence.destroy().catch(() => {});
		} finally {
			refused.mockRestore();
			process.off('unhandledRejection', onRejection);
		}
		// y-indexeddb's own chain on the failed open is left unhandled; nothing else is.
		expect(rejections.length).toBeLessThanOrEqual(1);
	});

	it('[OFFLINE-10] is false when the database never answers the open, and the document loads what it holds if it answers later', async () => {
		const { doc, persistence, name } = open();
		doc.getMap('messages').set('m1', { body: 'kept' });
		await persistence.whenSynced;
		await persistence.destroy();
		const stalled = stallOpens();
		try {
			const late = new IndexeddbPersistence(name, new Y.Doc());
			expect(await whenLoaded(late, 50)).toBe(false);
			expect(late.doc.getMap('messages').get('m1')).toBeUndefined();
			stalled.answer();
			await late.whenSynced;
			expect(late.doc.getMap('messages').get('m1')).toEqual({ body: 'kept' });
			opened.push(late);
		} finally {
			stalled.restore();
		}
	});
});
