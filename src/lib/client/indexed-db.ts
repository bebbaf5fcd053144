/**
 * IndexedDB as the app uses it outside y-indexeddb: requests as promises, and databases that may
 * not open at all.
 */

/**
 * How long opening a database may take before the app goes on without it. Some browsers never answer
 * an open (neither success nor error): a connection elsewhere that blocks an upgrade, a broken profile.
 * Waiting for good left every message with files unsent; a slow device opens well within this.
 */
export const OPEN_TIMEOUT_MS = 5000;

export function request<T>(req: IDBRequest<T>): Promise<T> {
	return new Promise((resolve, reject) => {
		req.onsuccess = () => resolve(req.result);
		req.onerror = () => reject(req.error);
	});
}

/**
 * Opens a database at `version` (creating its stores in `upgrade`), or gives null when the browser
 * refuses IndexedDB to this page, throws, or does not answer within {@link OPEN_TIMEOUT_MS}. A
 * database that opens after that is closed again: this start goes on without it.
 */
export function openDatabase(name: string, version: number, upgrade: (db: IDBDatabase) => void, timeoutMs = OPEN_TIMEOUT_MS): Promise<IDBDatabase | null> {
	let req: IDBOpenDBRequest;
	try {
		req = indexedDB.open(name, version);
	} catch {
		return Promise.resolve(null);
	}
	req.onupgradeneeded = () => upgrade(req.result);
	return new Promise((resolve) => {
		let settled = false;
		const timer = setTimeout(() => {
			settled = true;
			resolve(null);
		}, timeoutMs);
		request(req).then(
			(db) => {
				clearTimeout(timer);
				if (settled) db.close();
				else resolve(db);
				settled = true;
			},
			() => {
				clearTimeout(timer);
				settled = true;
				resolve(null);
			}
		);
	});
}

/** Asks for a database to be deleted; a browser that refuses the app storage may throw instead of failing the request. */
export function deleteDatabase(name: string): void {
	try {
		indexedDB.deleteDatabase(name);
	} catch {
		// Nothing was stored there.
	}
}
