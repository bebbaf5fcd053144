import type { IndexeddbPersistence } from 'y-indexeddb';
import { OPEN_TIMEOUT_MS } from './indexed-db.ts';

/**
 * Calls `onLost` (once) when the IndexedDB connection a conversation document is stored through is
 * gone: another tab deleted or upgraded the database (y-indexeddb's lib0 closes the connection on
 * `versionchange`), or the browser closed it. Watched from the moment the connection opens, not
 * from when the document finished loading from it: a `versionchange` in between used to leave the
 * document writing into a closed connection for good.
 *
 * A write that the closed connection refuses no longer throws out of the document's `update` event.
 * It threw before the provider and the other tabs heard of that update, and out of the call that
 * made the change (the message was then neither stored, sent nor shown): it is reported as the loss.
 */
export function watchDatabase(persistence: IndexeddbPersistence, onLost: () => void): void {
	let lost = false;
	const lose = () => {
		if (lost) return;
		lost = true;
		onLost();
	};
	persistence._db.then(
		(db) => {
			db.addEventListener('versionchange', lose);
			db.addEventListener('close', lose);
		},
		// Never opened (storage disabled): the document lives in memory, as before; nothing to follow.
		() => {}
	);
	const { doc } = persistence;
	const store = persistence._storeUpdate;
	doc.off('update', store);
	// y-indexeddb's own `destroy` takes this one off again.
	persistence._storeUpdate = (update, origin) => {
		try {
			store(update, origin);
		} catch (error) {
			// The connection is closing. Any other failure would fail again on a reopened one: the
			// document goes on in memory (and to the server), as when storage is unavailable.
			if ((error as { name?: unknown } | null)?.name === 'InvalidStateError') lose();
			else console.error('storing a document update failed', error);
		}
	};
	doc.on('update', persistence._storeUpdate);
}

/**
 * Resolves with true once the document has loaded what its database holds, or with false once the
 * database failed to open (site storage turned off, or refused to an embedded frame) or has not
 * answered within {@link OPEN_TIMEOUT_MS}: the document then lives in memory, and y-indexeddb would
 * never report it loaded. A database that answers late still loads into the document what it holds.
 */
export function whenLoaded(persistence: IndexeddbPersistence, timeoutMs = OPEN_TIMEOUT_MS): Promise<boolean> {
	return new Promise((resolve) => {
		const timer = setTimeout(() => resolve(false), timeoutMs);
		persistence._db.then(
			// Open: loading what it holds may take longer on a slow device, and is worth the wait.
			() => clearTimeout(timer),
			() => {
				clearTimeout(timer);
				resolve(false);
			}
		);
		void persistence.whenSynced.then(() => {
			clearTimeout(timer);
			resolve(true);
		});
	});
}
