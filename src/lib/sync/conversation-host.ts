import type { HocuspocusProvider } from '@hocuspocus/provider';
import type * as Y from 'yjs';
import type { HistoryCache } from '$lib/client/history-cache';
import type { Inbox } from '$lib/client/inbox.svelte';
import type { FileOutbox } from './file-outbox.svelte.ts';

/** What a conversation's document hears on the shared socket. */
export interface ProviderHandlers {
	onStateless(payload: string): void;
	onSynced(): void;
	onClose(reason: string): void;
	onAuthenticationFailed(reason: string): void;
}

/**
 * What a conversation ({@link ConversationSync}) needs of the connection that carries it
 * ({@link SyncHub}), and nothing more: the two talk through this, not through each other's fields.
 */
export interface ConversationHost {
	/** Opens an epoch's document of the conversation on the shared socket. */
	attach(conversationId: string, epoch: number, doc: Y.Doc, handlers: ProviderHandlers): HocuspocusProvider;
	/** A new socket now: the server asked for it, or a document must be synced again. */
	reconnect(): void;
	/** A new socket shortly (several conversations asking at once make one). */
	reconnectSoon(): void;
	/** The session is over: back to the login page. */
	onSessionEnded(): void;
	/** Messages of ended epochs this device has seen. */
	readonly history: HistoryCache;
	/** The conversation list's summaries: epochs, read markers, members. */
	readonly inbox: Pick<Inbox, 'get' | 'markReadLocally' | 'merge' | 'mergeReceipts'>;
	/** Messages with files, kept on this device until they are sent. */
	readonly outbox: Pick<FileOutbox, 'add' | 'has' | 'retry' | 'discard' | 'pending' | 'progress' | 'forget'>;
}
