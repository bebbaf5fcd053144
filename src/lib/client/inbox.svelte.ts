import { api, type ConversationSummary, type User } from './api.ts';
import { readJson, userKey, writeJson } from './local-data.ts';

const REFRESH_MS = 15_000;

/** The conversation list: shown from this device's copy at once, refreshed from the server when online. */
export class Inbox {
	conversations = $state.raw<ConversationSummary[]>([]);
	/** False until the server answered once in this session (the list may be stale). */
	fresh = $state(false);
	#timer: ReturnType<typeof setInterval> | undefined;
	#refresh = () => void this.refresh();

	constructor(readonly me: User) {
		this.conversations = readJson<ConversationSummary[]>(this.#key()) ?? [];
	}

	start(): void {
		void this.refresh();
		this.#timer = setInterval(this.#refresh, REFRESH_MS);
		addEventListener('online', this.#refresh);
		addEventListener('focus', this.#refresh);
	}

	stop(): void {
		clearInterval(this.#timer);
		removeEventListener('online', this.#refresh);
		removeEventListener('focus', this.#refresh);
	}

	async refresh(): Promise<void> {
		try {
			const { conversations } = await api.conversations();
			this.#set(conversations);
			this.fresh = true;
		} catch {
			// Offline or the server is away: keep showing this device's copy.
		}
	}

	get(id: string): ConversationSummary | undefined {
		return this.conversations.find((c) => c.id === id);
	}

	/** Adds or replaces one conversation (just created or opened) and keeps the most recent first. */
	put(conversation: ConversationSummary): void {
		const rest = this.conversations.filter((c) => c.id !== conversation.id);
		this.#set([conversation, ...rest].sort((a, b) => b.updatedAt - a.updatedAt));
	}

	/** The name a conversation goes by for me: its title, or the other member's name. */
	titleOf(conversation: ConversationSummary): string {
		if (conversation.title) return conversation.title;
		const other = conversation.members.find((m) => m.id !== this.me.id);
		return other?.displayName ?? 'Just you';
	}

	#set(list: ConversationSummary[]): void {
		this.conversations = list;
		writeJson(this.#key(), list);
	}

	#key(): string {
		return userKey(this.me.id, 'conversations');
	}
}
