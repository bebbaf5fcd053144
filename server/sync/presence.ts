/**
 * Who is connected: a user is online while any of their sync connections (any device, any
 * document) is open. Reports only transitions, so a second device coming or going changes nothing.
 */
export class Presence {
	#connections = new Map<string, number>();

	isOnline(userId: string): boolean {
		return (this.#connections.get(userId) ?? 0) > 0;
	}

	onlineUsers(): string[] {
		return [...this.#connections.keys()];
	}

	/** Returns true when this connection brought the user online. */
	connect(userId: string): boolean {
		const count = (this.#connections.get(userId) ?? 0) + 1;
		this.#connections.set(userId, count);
		return count === 1;
	}

	/** Returns true when this was the user's last connection. */
	disconnect(userId: string): boolean {
		const count = (this.#connections.get(userId) ?? 0) - 1;
		if (count > 0) {
			this.#connections.set(userId, count);
			return false;
		}
		this.#connections.delete(userId);
		return true;
	}
}
