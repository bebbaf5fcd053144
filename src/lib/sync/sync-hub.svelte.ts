import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import * as Y from 'yjs';
import { HistoryCache } from '$lib/client/history-cache';
import type { Inbox } from '$lib/client/inbox.svelte';
import { CloseReason, conversationDocName, decodeServerStateless, encodeStateless, SYNC_PATH, userDocName } from '$lib/shared/protocol';
import type { ConversationHost, ProviderHandlers } from './conversation-host.ts';
import { ConversationSync } from './conversation-sync.svelte.ts';
import { FileOutbox } from './file-outbox.svelte.ts';
import { HandshakeFirstProvider } from './handshake-first-provider.ts';

/** After this many connection attempts in a row fail, the server counts as unreachable: "offline". */
const UNREACHABLE_AFTER_ATTEMPTS = 3;

export type ConnectionState = 'online' | 'connecting' | 'offline';

/** A blip shorter than this never shows: the indicator stays "online". */
const BLIP_MS = 2000;

/**
 * One WebSocket for all of a user's conversations (Hocuspocus multiplexes documents over it),
 * the connection indicator, and the open conversations.
 */
export class SyncHub implements ConversationHost {
	state = $state<ConnectionState>('connecting');
	#raw: ConnectionState = 'connecting';
	#timer: ReturnType<typeof setTimeout> | undefined;
	#socket: HocuspocusProviderWebsocket;
	#conversations = new Map<string, ConversationSync>();
	/** Messages of ended epochs this device has seen, for every conversation. */
	readonly history: HistoryCache;
	/** Messages with files, kept on this device until they are sent. */
	readonly outbox: FileOutbox;
	#channel: HocuspocusProvider;
	/** Connection attempts that ended without connecting, since the last connection. */
	#failedAttempts = 0;
	/** Connect again as soon as the current socket has finished closing. */
	#connectAfterClose = false;
	#onOnline = () => this.#connectWhenClosed();
	#onOffline = () => {
		this.#socket.disconnect();
		this.#show('offline');
	};

	constructor(
		readonly userId: string,
		readonly inbox: Inbox,
		readonly onSessionEnded: () => void
	) {
		this.history = new HistoryCache(userId);
		this.outbox = new FileOutbox(userId);
		const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${SYNC_PATH}`;
		this.#socket = new HocuspocusProviderWebsocket({ url, delay: 250, minDelay: 250, factor: 1.5, maxDelay: 2500, autoConnect: navigator.onLine });
		this.#socket.on('status', ({ status }: { status: string }) => {
			if (status === 'connected') {
				this.#failedAttempts = 0;
				// The server is reachable again: files waiting to go, go.
				this.outbox.kick();
			}
			else if (status === 'disconnected') this.#failedAttempts += 1;
			this.#show(status === 'connected' ? 'online' : this.#reachable() ? 'connecting' : 'offline');
			if (status === 'disconnected' && this.#connectAfterClose && navigator.onLine) {
				this.#connectAfterClose = false;
				void this.#socket.connect();
			}
		});
		if (!navigator.onLine) this.#show('offline');
		this.#channel = this.#openChannel();
		// Browsers keep a dead socket open for a while after losing the network; act on their own signal.
		addEventListener('online', this.#onOnline);
		addEventListener('offline', this.#onOffline);
	}

	/** The conversation's live state; opened once and kept while the app runs. */
	conversation(conversationId: string): ConversationSync {
		let conversation = this.#conversations.get(conversationId);
		if (!conversation) {
			conversation = new ConversationSync(this, this.userId, conversationId);
			this.#conversations.set(conversationId, conversation);
		}
		return conversation;
	}

	attach(conversationId: string, epoch: number, doc: Y.Doc, handlers: ProviderHandlers): HocuspocusProvider {
		const provider = new HandshakeFirstProvider({
			websocketProvider: this.#socket,
			name: conversationDocName(conversationId, epoch),
			document: doc,
			// Browsers are known by their session cookie.
			token: '',
			onStateless: ({ payload }) => handlers.onStateless(payload),
			onSynced: () => handlers.onSynced(),
			onClose: ({ event }) => handlers.onClose(event.reason),
			onAuthenticationFailed: ({ reason }) => handlers.onAuthenticationFailed(reason)
		});
		provider.attach();
		return provider;
	}

	/** Tells the server this device has the conversation's messages up to `seq` (✓✓ for the sender). */
	deliver(conversationId: string, seq: number): void {
		this.#channel.sendStateless(encodeStateless({ type: 'receipt', conversationId, deliveredSeq: seq }));
	}

	/**
	 * My user channel: the live inbox and the presence of people I share conversations with, for
	 * every conversation, open or not, over the same socket.
	 */
	#openChannel(): HocuspocusProvider {
		const provider = new HocuspocusProvider({
			websocketProvider: this.#socket,
			name: userDocName(this.userId),
			document: new Y.Doc(),
			token: '',
			awareness: null,
			// Each (re)connection catches up on what happened while away, epochs that ended included.
			onSynced: () => void this.inbox.refresh().then(() => this.#followEpochs()),
			onStateless: ({ payload }) => {
				const message = decodeServerStateless(payload);
				if (message?.type === 'inbox') {
					this.inbox.put(message.conversation);
					const { id, epoch, epochFirstSeq } = message.conversation;
					this.#conversations.get(id)?.followEpoch({ epoch, firstSeq: epochFirstSeq });
				} else if (message?.type === 'inbox-activity') {
					// Activity in a conversation this device does not list yet: fetch the list.
					if (!this.inbox.applyActivity(message)) void this.inbox.refresh();
					this.#conversations.get(message.conversationId)?.followEpoch({ epoch: message.epoch, firstSeq: message.epochFirstSeq });
				}
				else if (message?.type === 'inbox-removed') this.inbox.remove(message.conversationId);
				else if (message?.type === 'presence') this.inbox.setPresence(message.userId, message.online, message.lastSeenAt);
			},
			onAuthenticationFailed: ({ reason }) => {
				if (reason === CloseReason.Unauthenticated) this.onSessionEnded();
			},
			onClose: ({ event }) => {
				if (event.reason === CloseReason.SessionEnded) this.onSessionEnded();
			}
		});
		provider.attach();
		return provider;
	}

	/** Open conversations whose epoch ended while this device was away move to the current one. */
	#followEpochs(): void {
		for (const [id, conversation] of this.#conversations) {
			const summary = this.inbox.get(id);
			if (summary?.epoch !== undefined) conversation.followEpoch({ epoch: summary.epoch, firstSeq: summary.epochFirstSeq });
		}
	}

	#reconnectTimer: ReturnType<typeof setTimeout> | undefined;
	#reconnectDelay = 200;
	#lastReconnect = 0;

	/** Coalesces reconnect requests from several documents into one, backing off if they keep coming. */
	reconnectSoon(): void {
		if (this.#reconnectTimer !== undefined) return;
		const now = Date.now();
		this.#reconnectDelay = now - this.#lastReconnect < 10_000 ? Math.min(this.#reconnectDelay * 2, 10_000) : 200;
		this.#reconnectTimer = setTimeout(() => {
			this.#reconnectTimer = undefined;
			this.#lastReconnect = Date.now();
			this.reconnect();
		}, this.#reconnectDelay);
	}

	/** A fresh socket: after the server closed a document, the old socket cannot reopen it. */
	reconnect(): void {
		this.#connectAfterClose = true;
		if (this.#socket.status === 'disconnected') this.#connectWhenClosed();
		else this.#socket.disconnect();
	}

	/**
	 * The provider's own connect() does nothing while the old socket is still closing (a close with no
	 * network can take a while), and that socket then stays closed: wait for the close to finish.
	 */
	#connectWhenClosed(): void {
		if (this.#socket.status === 'disconnected') {
			this.#connectAfterClose = false;
			if (navigator.onLine) void this.#socket.connect();
		} else {
			this.#connectAfterClose = true;
		}
	}

	destroy(): void {
		clearTimeout(this.#timer);
		clearTimeout(this.#reconnectTimer);
		removeEventListener('online', this.#onOnline);
		removeEventListener('offline', this.#onOffline);
		for (const conversation of this.#conversations.values()) conversation.destroy();
		this.#conversations.clear();
		this.outbox.destroy();
		this.#channel.destroy();
		this.#socket.destroy();
	}

	/**
	 * Whether the server may be reachable: the browser says it is online (it does not always know,
	 * e.g. in a captive portal or an emulated offline start) and the last attempts did not all fail.
	 */
	#reachable(): boolean {
		return navigator.onLine && this.#failedAttempts < UNREACHABLE_AFTER_ATTEMPTS;
	}

	#show(next: ConnectionState): void {
		this.#raw = next;
		clearTimeout(this.#timer);
		if (next === 'online' || this.state !== 'online') {
			this.state = next;
			return;
		}
		this.#timer = setTimeout(() => (this.state = this.#raw), BLIP_MS);
	}
}
