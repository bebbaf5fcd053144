import type { InboxActivity } from '$lib/shared/api-types';
import { mergeMarkers } from '$lib/shared/receipts';
import { api, type ConversationSummary, type MessageDto, type NewConversation, type User } from './api.ts';
import { readJson, userKey, writeJson } from './local-data.ts';
import { previewOf } from './timeline.ts';

const REFRESH_MS = 60_000;

export interface Toast {
	id: number;
	conversationId: string;
	title: string;
	text: string;
}

/**
 * The conversation list: shown from this device's copy at once, kept live by the user channel
 * (new conversations, last messages, unread counts, receipts, presence), and refreshed from the
 * server on reconnect and now and then.
 */
/** Conversations the list loads at a time. */
const LIST_PAGE = 100;

export class Inbox {
	conversations = $state.raw<ConversationSummary[]>([]);
	toasts = $state.raw<Toast[]>([]);
	/** The conversation on screen, if any: no toast for it. */
	current = $state<string | null>(null);
	#timer: ReturnType<typeof setInterval> | undefined;
	#toastId = 0;
	#refresh = () => void this.refresh();
	/** Counts changes to single conversations (pushed or made here), to tell a stale list from a fresh one. */
	#changes = 0;
	#changedAt = new Map<string, number>();

	/**
	 * `deliver` tells the server that this device has a conversation's messages up to `seq`;
	 * `open` shows a conversation (a click on a system notification).
	 */
	constructor(
		readonly me: User,
		private readonly deliver: (conversationId: string, seq: number) => void = () => {},
		private readonly open: (conversationId: string) => void = () => {}
	) {
		this.conversations = readJson<ConversationSummary[]>(this.#key()) ?? [];
	}

	get totalUnread(): number {
		return this.conversations.reduce((sum, c) => sum + c.unreadCount, 0);
	}

	start(): void {
		void this.refresh();
		this.#timer = setInterval(this.#refresh, REFRESH_MS);
		addEventListener('online', this.#refresh);
	}

	stop(): void {
		clearInterval(this.#timer);
		removeEventListener('online', this.#refresh);
	}

	/** More conversations exist on the server than this list has loaded (older activity). */
	hasMore = $state(false);
	/** How many conversations the list wants loaded: a page more each time the reader reaches the end. */
	#wanted = LIST_PAGE;
	#loading: Promise<void> | null = null;

	/**
	 * Loads the list from the server, a page at a time, as far as the reader has scrolled: someone in
	 * thousands of conversations loads the recent ones, not all. The range loaded is the server's
	 * answer (a conversation left elsewhere goes); older ones this device holds stay until reached.
	 */
	async refresh(): Promise<void> {
		const asked = this.#changes;
		try {
			const fetched: ConversationSummary[] = [];
			let cursor: string | undefined;
			let more = false;
			do {
				const page = await api.conversations(LIST_PAGE, cursor);
				fetched.push(...page.conversations);
				cursor = page.nextCursor ?? undefined;
				more = cursor !== undefined;
			} while (more && fetched.length < this.#wanted);
			// A summary pushed or changed here while the request was under way is newer than this answer.
			const newer = (id: string) => (this.#changedAt.get(id) ?? 0) > asked;
			const oldest = fetched.at(-1);
			const fetchedIds = new Set(fetched.map((c) => c.id));
			const beyond = more && oldest ? this.conversations.filter((c) => !fetchedIds.has(c.id) && c.updatedAt < oldest.updatedAt) : [];
			this.#set([...fetched.flatMap((c) => (newer(c.id) ? (this.get(c.id) ?? []) : c)), ...beyond]);
			this.hasMore = more;
			for (const conversation of fetched) this.#acknowledge(conversation);
		} catch {
			// Offline or the server is away: keep showing this device's copy.
		}
	}

	/** The reader reached the end of the list: load the next page. */
	loadMore(): Promise<void> {
		if (!this.hasMore) return Promise.resolve();
		if (!this.#loading) {
			this.#wanted = this.conversations.length + LIST_PAGE;
			this.#loading = this.refresh().finally(() => (this.#loading = null));
		}
		return this.#loading;
	}

	get(id: string): ConversationSummary | undefined {
		return this.conversations.find((c) => c.id === id);
	}

	/** A summary from the server (live channel or a create call): replaces ours, most recent first. */
	put(conversation: ConversationSummary): void {
		const previous = this.get(conversation.id);
		this.#changedAt.set(conversation.id, ++this.#changes);
		const rest = this.conversations.filter((c) => c.id !== conversation.id);
		this.#set([conversation, ...rest].sort((a, b) => b.updatedAt - a.updatedAt));
		this.#acknowledge(conversation);
		const last = conversation.lastMessage;
		if (last && last.author.id !== this.me.id && last.seq > (previous?.lastMessage?.seq ?? 0)) this.#announce(conversation, last);
	}

	/**
	 * A message or receipts in a conversation (INBOX-3): applied to the summary this device holds, as
	 * `put` would apply the whole summary. False when it holds none (fetch the list then).
	 */
	applyActivity(activity: InboxActivity): boolean {
		const known = this.get(activity.conversationId);
		if (!known) return false;
		const { markers, lastMessage, unreadCount, markedUnread, updatedAt, epoch, epochFirstSeq } = activity;
		const moved = new Map(markers.map((m) => [m.userId, m]));
		// Never back: a summary pushed or fetched since may be newer than this activity.
		const newer = (lastMessage?.seq ?? 0) >= (known.lastMessage?.seq ?? 0);
		this.put({
			...known,
			...(newer ? { lastMessage, updatedAt: Math.max(known.updatedAt, updatedAt) } : {}),
			unreadCount,
			markedUnread,
			epoch: Math.max(known.epoch ?? 0, epoch),
			epochFirstSeq: Math.max(known.epochFirstSeq ?? 1, epochFirstSeq),
			members: known.members.map((m) => (moved.has(m.id) ? mergeMarkers(m, moved.get(m.id)!) : m))
		});
		return true;
	}

	/**
	 * Members, roles or title as the server answered a fetch or a change; the list keeps its order.
	 * Answers to changes report nobody online (docs/api.md), so `keepPresence` keeps what we knew.
	 */
	merge(conversation: NewConversation, { keepPresence = false } = {}): void {
		this.#update(conversation.id, (c) => {
			const known = new Map(c.members.map((m) => [m.id, m]));
			const members = conversation.members.map((m) => {
				const before = known.get(m.id);
				return keepPresence && before ? { ...m, online: before.online, lastSeenAt: before.lastSeenAt } : m;
			});
			return { ...c, title: conversation.title, members, status: conversation.status ?? c.status, context: conversation.context ?? c.context, epoch: Math.max(c.epoch ?? 0, conversation.epoch ?? 0) };
		});
	}

	remove(conversationId: string): void {
		this.#changedAt.set(conversationId, ++this.#changes);
		this.#set(this.conversations.filter((c) => c.id !== conversationId));
	}

	/** A member's receipt markers moved (they only ever grow). */
	mergeReceipts(conversationId: string, userId: string, markers: { deliveredSeq: number; readSeq: number }): void {
		this.#update(conversationId, (c) => ({ ...c, members: c.members.map((m) => (m.id === userId ? mergeMarkers(m, markers) : m)) }));
	}

	/** I read up to `seq` here: the badge clears at once, before the server confirms. */
	markReadLocally(conversationId: string, seq: number): void {
		this.#update(conversationId, (c) => {
			const caughtUp = !c.lastMessage || seq >= c.lastMessage.seq;
			return { ...c, markedUnread: false, unreadCount: caughtUp ? 0 : c.unreadCount, members: c.members.map((m) => (m.id === this.me.id ? mergeMarkers(m, { deliveredSeq: seq, readSeq: seq }) : m)) };
		});
	}

	/** Archives a conversation for me (out of the main list until something newer arrives), or brings it back. */
	async setArchived(conversationId: string, archived: boolean): Promise<void> {
		this.#update(conversationId, (c) => ({ ...c, archivedAt: archived ? Math.max(Date.now(), c.updatedAt) : null }));
		await api.setArchived(conversationId, archived);
	}

	async markUnread(conversationId: string): Promise<void> {
		this.#update(conversationId, (c) => ({ ...c, markedUnread: true, unreadCount: Math.max(1, c.unreadCount) }));
		await api.markUnread(conversationId);
	}

	setPresence(userId: string, online: boolean, lastSeenAt: number | null): void {
		this.#set(
			this.conversations.map((c) =>
				c.members.some((m) => m.id === userId)
					? { ...c, members: c.members.map((m) => (m.id === userId ? { ...m, online, lastSeenAt: lastSeenAt ?? m.lastSeenAt } : m)) }
					: c
			)
		);
	}

	dismiss(id: number): void {
		this.toasts = this.toasts.filter((t) => t.id !== id);
	}

	/** The name a conversation goes by for me: its title, or the other member's name. */
	titleOf(conversation: ConversationSummary): string {
		const other = conversation.members.find((m) => m.id !== this.me.id);
		// About a post or a booking: who, and about what.
		if (conversation.kind === 'context') return `${other?.displayName ?? 'Someone'} · ${conversation.context?.title ?? conversation.title ?? ''}`;
		if (conversation.title) return conversation.title;
		return other?.displayName ?? 'Just you';
	}

	/** Messages that reached this device count as delivered, whether or not the conversation is open. */
	#acknowledge(conversation: ConversationSummary): void {
		const last = conversation.lastMessage;
		const mine = conversation.members.find((m) => m.id === this.me.id);
		if (last && mine && last.seq > mine.deliveredSeq) this.deliver(conversation.id, last.seq);
	}

	/** A toast for a message in a conversation not on screen; a system notification when the tab is hidden. */
	#announce(conversation: ConversationSummary, message: MessageDto): void {
		const hidden = typeof document !== 'undefined' && document.visibilityState === 'hidden';
		if (conversation.id === this.current && !hidden) return;
		const title = conversation.kind === 'group' ? `${message.author.displayName} in ${this.titleOf(conversation)}` : message.author.displayName;
		const line = previewOf(message, this.me.id, (id) => conversation.members.find((m) => m.id === id)?.displayName ?? 'someone');
		const text = line.length > 120 ? `${line.slice(0, 117)}…` : line;
		if (hidden && typeof Notification !== 'undefined' && Notification.permission === 'granted') {
			const notification = new Notification(title, { body: text, tag: conversation.id });
			notification.onclick = () => {
				window.focus();
				this.open(conversation.id);
				notification.close();
			};
			return;
		}
		const toast = { id: ++this.#toastId, conversationId: conversation.id, title, text };
		this.toasts = [...this.toasts.slice(-2), toast];
		setTimeout(() => this.dismiss(toast.id), 6000);
	}

	#update(conversationId: string, change: (c: ConversationSummary) => ConversationSummary): void {
		this.#changedAt.set(conversationId, ++this.#changes);
		this.#set(this.conversations.map((c) => (c.id === conversationId ? change(c) : c)));
	}

	#set(list: ConversationSummary[]): void {
		this.conversations = list;
		writeJson(this.#key(), list);
	}

	#key(): string {
		return userKey(this.me.id, 'conversations');
	}
}
