import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openDatabase } from '../../src/lib/client/indexed-db.ts';

/** A request the test answers by hand, as a browser that is slow or never answers would. */
function handRequest() {
	const req = {} as { onsuccess?: () => void; onerror?: () => void; onupgradeneeded?: () => void; result?: unknown; error?: unknown };
	vi.spyOn(indexedDB, 'open').mockImplementation(() => req as unknown as IDBOpenDBRequest);
	return req;
}

describe('openDatabase', () => {
	afterEach(() => vi.restoreAllMocks());

	it('[OFFLINE-10] opens a database and creates its stores', async () => {
		const db = await openDatabase('open-1', 1, (created) => created.createObjectStore('items', { keyPath: 'id' }));
		expect(db?.objectStoreNames.contains('items')).toBe(true);
		db?.close();
	});

	it('[OFFLINE-10] gives null when the browser throws or refuses the open', async () => {
		vi.spyOn(indexedDB, 'open').mockImplementationOnce(() => {
			throw new DOMException('denied', 'SecurityError');
		});
		expect(await openDatabase('open-2', 1, () => {})).toBeNull();
		const req = handRequest();
		const result = openDatabase('open-3', 1, () => {});
		req.error = new DOMException('denied', 'InvalidStateError');
		req.onerror?.();
		expect(await result).toBeNull();
	});

	it('[OFFLINE-10] gives null when the open is not answered in time, and closes a database that opens after that', async () => {
		const req = handRequest();
		const result = openDatabase('open-4', 1, () => {}, 20);
		expect(await result).toBeNull();
		const close = vi.fn();
		req.result = { close };
		req.onsuccess?.();
		await vi.waitFor(() => expect(close).toHaveBeenCalledOnce());
	});
});
