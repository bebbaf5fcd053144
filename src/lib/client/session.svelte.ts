import { api, ApiError, type User } from './api.ts';
import { readCachedMe, wipeUserData, writeCachedMe } from './local-data.ts';

const CHANNEL = 'chat:session';

/** Who is signed in on this device. Works offline from the last known user. */
class Session {
	user = $state<User | null>(null);
	#channel: BroadcastChannel | null = null;

	/** Reads the cached user, then asks the server; a 401 signs out and wipes local data. */
	async restore(): Promise<User | null> {
		this.#listen();
		this.user ??= readCachedMe<User>();
		try {
			const { user } = await api.me();
			this.#set(user);
		} catch (error) {
			if (error instanceof ApiError && error.status === 401) await this.#forget();
		}
		return this.user;
	}

	async login(username: string, password: string): Promise<void> {
		const { user } = await api.login({ username, password });
		this.#set(user);
	}

	async signup(username: string, password: string, displayName?: string): Promise<void> {
		const { user } = await api.signup({ username, password, displayName: displayName || undefined });
		this.#set(user);
	}

	/** Ends the session on the server (when reachable) and wipes this user's data from the device. */
	async logout(): Promise<void> {
		try {
			await api.logout();
		} catch (error) {
			if (!(error instanceof ApiError)) throw error;
		}
		await this.#forget();
		this.#channel?.postMessage('logout');
	}

	/** My profile changed (a new display name): this device remembers it for offline starts. */
	update(user: User): void {
		this.#set(user);
	}

	#set(user: User): void {
		this.user = user;
		writeCachedMe(user);
	}

	async #forget(): Promise<void> {
		const user = this.user ?? readCachedMe<User>();
		this.user = null;
		if (user) await wipeUserData(user.id);
	}

	#listen(): void {
		if (this.#channel || typeof BroadcastChannel === 'undefined') return;
		this.#channel = new BroadcastChannel(CHANNEL);
		// Another tab logged out: its wipe covers this tab's data too; drop what is in memory.
		this.#channel.onmessage = () => {
			this.user = null;
			location.assign('/login');
		};
	}
}

export const session = new Session();
