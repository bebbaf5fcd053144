/**
 * What this device keeps for a signed-in user: small JSON values in localStorage (the user, the
 * conversation list, messages the server refused) and one IndexedDB database per conversation
 * document. Everything is keyed by user id so logging out can wipe exactly that user's data.
 */

const ME_KEY = 'chat:me';

export function userKey(userId: string, name: string): string {
	return `chat:${userId}:${name}`;
}

export function readJson<T>(key: string): T | null {
	try {
		const raw = localStorage.getItem(key);
		return raw === null ? null : (JSON.parse(raw) as T);
	} catch {
		return null;
	}
}

export function writeJson(key: string, value: unknown): void {
	try {
		localStorage.setItem(key, JSON.stringify(value));
	} catch {
		// Storage full or disabled: the app still works, it just remembers less offline.
	}
}

export function readCachedMe<T>(): T | null {
	return readJson<T>(ME_KEY);
}

export function writeCachedMe(user: unknown): void {
	writeJson(ME_KEY, user);
}

/** Name of the IndexedDB database holding one conversation document. */
export function docDatabaseName(userId: string, conversationId: string): string {
	return userKey(userId, `doc:${conversationId}`);
}

/** Removes everything this device stores for the user: localStorage entries and IndexedDB databases. */
export async function wipeUserData(userId: string): Promise<void> {
	const prefix = `chat:${userId}:`;
	for (const key of Object.keys(localStorage)) if (key.startsWith(prefix)) localStorage.removeItem(key);
	localStorage.removeItem(ME_KEY);
	// A browser that refuses the app storage has none to remove (and may refuse the listing too).
	const databases = (await Promise.resolve(globalThis.indexedDB?.databases?.()).catch(() => undefined)) ?? [];
	await Promise.all(
		databases
			.filter((db) => db.name?.startsWith(prefix))
			.map(
				(db) =>
					new Promise<void>((resolve) => {
						const request = indexedDB.deleteDatabase(db.name!);
						request.onsuccess = request.onerror = request.onblocked = () => resolve();
					})
			)
	);
}

/**
 * Resolves once every write already queued on `db`'s update store is committed: IndexedDB runs
 * read-write transactions on one store in order, so an empty one completes after them.
 */
export function idbBarrier(db: IDBDatabase, store = 'updates'): Promise<void> {
	return new Promise((resolve, reject) => {
		const tx = db.transaction([store], 'readwrite');
		tx.oncomplete = () => resolve();
		tx.onerror = tx.onabort = () => reject(tx.error);
	});
}
