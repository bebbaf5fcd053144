import type { Connection } from '@hocuspocus/server';
import { encodeStateless, type ServerStateless } from '../../src/lib/shared/protocol.ts';

/** The open `user:<id>` channels, by user: where inbox and presence news for that user go. */
export class UserChannels {
	#byUser = new Map<string, Set<Connection>>();

	add(userId: string, connection: Connection): void {
		let set = this.#byUser.get(userId);
		if (!set) this.#byUser.set(userId, (set = new Set()));
		set.add(connection);
	}

	/** After a disconnect: the user's channel connections are the ones still open on their document. */
	reset(userId: string, open: Iterable<Connection>): void {
		const set = new Set(open);
		if (set.size === 0) this.#byUser.delete(userId);
		else this.#byUser.set(userId, set);
	}

	has(userId: string): boolean {
		return this.#byUser.has(userId);
	}

	send(userId: string, message: ServerStateless): void {
		const set = this.#byUser.get(userId);
		if (!set) return;
		const payload = encodeStateless(message);
		for (const connection of set) connection.sendStateless(payload);
	}
}
