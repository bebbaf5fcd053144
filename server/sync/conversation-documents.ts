import type {
	Connection,
	Document,
	Extension,
	Hocuspocus,
	afterUnloadDocumentPayload,
	beforeHandleMessagePayload,
	beforeUnloadDocumentPayload,
	connectedPayload,
	onConfigurePayload,
	onLoadDocumentPayload
} from '@hocuspocus/server';
import * as Y from 'yjs';
import { CloseReason, conversationDocName, encodeStateless, parseConversationDoc, PROTOCOL_VERSION, type RefusalCode } from '../../src/lib/shared/protocol.ts';
import { filterAwareness } from './awareness-guard.ts';
import { dropFrame, isRefusal, refuse, type SyncContext } from './context.ts';
import type { Epochs } from './epochs.ts';
import { decodeFrame, emptyUpdateInPlace, MalformedFrameError, replaceAwarenessInPlace } from './frame.ts';
import type { FrameBudget } from './frame-budget.ts';
import { LiveConversation, type AcceptResult, type LiveDeps } from './live-conversation.ts';
import { reportFailure } from '../../src/lib/server/failure.ts';

/** How a conversation stays loaded once its last connection closed. */
export interface Lingering {
	/** For this long (0: unload at once). */
	ms: number;
	/** At most this many conversations at a time; past that, the one idle longest unloads. */
	max: number;
}

/**
 * A conversation stays loaded for a while after its last connection closes: a phone that drops
 * and reconnects, a REST send, a tab reloading, or a client refused and coming back all find it
 * warm instead of loading the whole document again, which a hostile member could otherwise make
 * the server do on every frame.
 */
export const DEFAULT_LINGERING: Lingering = { ms: 30_000, max: 200 };

/** Refusals an honest client never gets (GUARD-2): its sender goes to the back of the line (ABUSE-3). */
const HOSTILE: ReadonlySet<CloseReason> = new Set([
	CloseReason.MalformedMessage,
	CloseReason.BroadcastNotAllowed,
	CloseReason.Forbidden,
	CloseReason.AwarenessRefused,
	CloseReason.UpdateRefused
]);

/** An awareness update with no entries. */
const NO_AWARENESS = new Uint8Array([0]);

function isEmptyUpdate(update: Uint8Array): boolean {
	try {
		const { structs, ds } = Y.decodeUpdate(update);
		return structs.length === 0 && ds.clients.size === 0;
	} catch {
		return false;
	}
}

/**
 * The conversation documents: each one loads as a {@link LiveConversation}, and every frame a
 * client sends is decoded and judged before Hocuspocus applies it (updates through the guard and
 * the durable commit, awareness through its filter); a user channel takes no content.
 */
export class ConversationDocuments implements Extension {
	priority = 200;
	/** Loaded conversations by document name. */
	readonly conversations = new Map<string, LiveConversation>();
	/** The loaded document of each conversation (its current epoch's), by conversation id. */
	readonly #loaded = new Map<string, LiveConversation>();
	#instance: Hocuspocus | undefined;
	readonly #deps: LiveDeps;
	/** Conversations kept loaded with no connection, oldest first, with the timer that lets them go. */
	readonly #lingering = new Map<string, ReturnType<typeof setTimeout>>();
	/** Names whose next unload goes ahead. */
	readonly #released = new Set<string>();
	#stopping = false;
	/** Full epochs whose roll-over is scheduled. */
	readonly #ending = new WeakSet<LiveConversation>();

	constructor(
		deps: Omit<LiveDeps, 'onBroken' | 'onEpochFull'>,
		private readonly epochs: Epochs,
		private readonly budget?: FrameBudget,
		private readonly lingering: Lingering = DEFAULT_LINGERING,
		/** A user's frame was refused for something an honest client never does. */
		private readonly onHostile?: (userId: string) => void
	) {
		this.#deps = {
			...deps,
			onBroken: (conversationId) => this.#closeAll(conversationId, CloseReason.Reloading),
			// Not inside the commit that filled it: the roll-over is its own transaction, in the next turn.
			onEpochFull: (conversation) => {
				if (this.#ending.has(conversation)) return;
				this.#ending.add(conversation);
				setImmediate(() => {
					this.#ending.delete(conversation);
					this.#rollOver(conversation);
				});
			}
		};
	}

	/** The name of the conversation's current document. */
	docName(conversationId: string): string {
		return this.epochs.docName(conversationId);
	}

	async onConfigure({ instance }: onConfigurePayload): Promise<void> {
		this.#instance = instance;
	}

	async onLoadDocument({ document, documentName }: onLoadDocumentPayload): Promise<void> {
		const named = parseConversationDoc(documentName);
		if (!named) return;
		// Authentication checked the epoch, but it may have ended while this connection waited (EPOCH-2).
		if (this.epochs.current(named.conversationId) !== named.epoch) throw refuse(CloseReason.EpochEnded);
		const conversation = LiveConversation.load(named.conversationId, named.epoch, document, this.#deps);
		// Nobody was writing here (it was not loaded): a full epoch ends now rather than being sent to
		// whoever opens it (EPOCH-1); they are told to open the next one.
		if (conversation.fullness() !== 'room' && this.#endEpoch(conversation)) throw refuse(CloseReason.EpochEnded);
		this.conversations.set(documentName, conversation);
		this.#loaded.set(named.conversationId, conversation);
	}

	/** The name of the conversation's loaded document, if it is loaded (no database read: safe while stopping). */
	loadedDocName(conversationId: string): string | undefined {
		const conversation = this.#loaded.get(conversationId);
		return conversation && conversationDocName(conversationId, conversation.epoch);
	}

	/** A connection that reached a document being rebuilt tries again in a moment; one whose epoch ended moves on. */
	async connected({ connection, documentName }: connectedPayload): Promise<void> {
		const conversation = this.conversations.get(documentName);
		if (conversation?.ended) connection.close(refuse(CloseReason.EpochEnded));
		else if (conversation?.broken) connection.close(refuse(CloseReason.Reloading));
	}

	async beforeHandleMessage(payload: beforeHandleMessagePayload): Promise<void> {
		try {
			await this.#judge(payload);
		} catch (error) {
			if (!isRefusal(error)) throw error;
			const { user } = payload.context as SyncContext;
			if (user && HOSTILE.has(error.reason)) this.onHostile?.(user.id);
			return dropFrame(payload.connection, error);
		}
	}

	/** Decodes and judges one frame; throws a refusal for one that must go no further. */
	async #judge({ connection, document, documentName, update: frame, context }: beforeHandleMessagePayload): Promise<void> {
		const { user, channel } = context as SyncContext;
		let decoded;
		try {
			decoded = decodeFrame(frame);
		} catch (error) {
			if (error instanceof MalformedFrameError) throw refuse(CloseReason.MalformedMessage);
			throw error;
		}
		if (decoded.kind === 'broadcast-stateless') throw refuse(CloseReason.BroadcastNotAllowed);
		if (decoded.kind === 'passive') return;
		// A user channel stays empty: only its user is there, so awareness is harmless, but content is refused.
		if (channel) {
			if (decoded.kind === 'update' && !isEmptyUpdate(decoded.update)) throw refuse(CloseReason.Forbidden);
			return;
		}
		const conversation = this.conversations.get(documentName);
		if (!conversation || !user) throw refuse(CloseReason.ConversationNotFound);
		if (decoded.kind === 'awareness') {
			if (this.budget && !this.budget.take(connection)) replaceAwarenessInPlace(decoded.update, NO_AWARENESS);
			else await this.#guardAwareness(conversation, user.id, decoded.update, document.getClients(connection.webSocket));
			return;
		}
		settle(connection, await conversation.submit(decoded.update, user.id, connection));
		// What was accepted is in the document already; Hocuspocus now applies an empty update and acknowledges.
		emptyUpdateInPlace(decoded.update);
	}

	/** Keeps an idle conversation loaded for a while (see {@link DEFAULT_LINGERING}). */
	async beforeUnloadDocument({ documentName, document }: beforeUnloadDocumentPayload): Promise<void> {
		clearTimeout(this.#lingering.get(documentName));
		this.#lingering.delete(documentName);
		const conversation = this.conversations.get(documentName);
		if (this.#released.delete(documentName) || !conversation || conversation.broken || conversation.ended || this.#stopping || this.lingering.ms <= 0) return;
		const timer = setTimeout(() => this.#release(documentName, document), this.lingering.ms);
		timer.unref?.();
		this.#lingering.set(documentName, timer);
		if (this.#lingering.size > this.lingering.max) {
			const [oldest] = this.#lingering.keys();
			const other = this.#instance?.documents.get(oldest!);
			if (other) this.#release(oldest!, other);
		}
		// Not a failure: a refusal is how Hocuspocus is told to keep the document (no message, nothing logged).
		throw new Error();
	}

	/** Lets every lingering conversation unload (the server is stopping). */
	releaseAll(): void {
		this.#stopping = true;
		for (const name of [...this.#lingering.keys()]) {
			const document = this.#instance?.documents.get(name);
			if (document) this.#release(name, document);
		}
	}

	#release(documentName: string, document: Document): void {
		clearTimeout(this.#lingering.get(documentName));
		this.#lingering.delete(documentName);
		this.#released.add(documentName);
		void this.#instance?.unloadDocument(document).finally(() => this.#released.delete(documentName));
	}

	async afterUnloadDocument({ documentName }: afterUnloadDocumentPayload): Promise<void> {
		// A new connection may already have loaded the document again under the same name: keep that one.
		const conversation = this.conversations.get(documentName);
		if (conversation && (conversation.doc as Document).isDestroyed) {
			conversation.dispose();
			this.conversations.delete(documentName);
			if (this.#loaded.get(conversation.conversationId) === conversation) this.#loaded.delete(conversation.conversationId);
		}
	}

	/** The loaded conversation, loading it for as long as `use` runs (a direct connection keeps it open). */
	async withConversation<T>(conversationId: string, use: (conversation: LiveConversation) => T): Promise<T> {
		let name = this.docName(conversationId);
		let direct;
		try {
			direct = await this.#instance!.openDirectConnection(name, {});
		} catch (error) {
			// The epoch ended as it loaded: the next one is current now.
			if (!isRefusal(error) || error.reason !== CloseReason.EpochEnded) throw error;
			name = this.docName(conversationId);
			direct = await this.#instance!.openDirectConnection(name, {});
		}
		try {
			const conversation = this.conversations.get(name);
			if (!conversation) throw new Error(`conversation ${conversationId} did not load`);
			return use(conversation);
		} finally {
			await direct.disconnect();
		}
	}

	/**
	 * Only the user's own awareness entries go through; the clientIDs the frame names first are bound
	 * to the user, and it is relayed only once that binding is on disk (AUTH-3).
	 */
	async #guardAwareness(conversation: LiveConversation, userId: string, update: Uint8Array, held: ReadonlySet<number>): Promise<void> {
		let verdict;
		try {
			verdict = filterAwareness(update, (clientId) => conversation.owners.get(clientId), userId, held);
		} catch {
			throw refuse(CloseReason.MalformedMessage);
		}
		if (!verdict.ok) throw refuse(CloseReason.AwarenessRefused);
		try {
			await conversation.bindClients(verdict.newClients, userId);
		} catch {
			throw refuse(CloseReason.Reloading);
		}
		replaceAwarenessInPlace(update, verdict.update);
	}

	#closeAll(conversationId: string, reason: CloseReason): void {
		const name = this.loadedDocName(conversationId);
		const document = name === undefined ? undefined : this.#instance?.documents.get(name);
		for (const connection of document?.getConnections() ?? []) connection.close(refuse(reason));
	}

	/**
	 * The roll-over's transaction, then the document stops taking updates. False when it failed (the
	 * epoch goes on, whole on disk; the next full check tries again); null when another ended it.
	 */
	#endEpoch(conversation: LiveConversation): { epoch: number; firstSeq: number } | null | false {
		const { conversationId, epoch } = conversation;
		let next: { epoch: number; firstSeq: number } | null;
		try {
			next = this.epochs.rollOver(conversationId, epoch);
		} catch (error) {
			reportFailure(`conversation ${conversationId}: epoch ${epoch} could not end`, error);
			return false;
		}
		conversation.end();
		return next;
	}

	/**
	 * Ends a full epoch (EPOCH-2): the next one becomes current in one transaction, updates still
	 * waiting are sent back, and every connection is told the new epoch and closed; devices write
	 * what they have not seen acknowledged into the new document (EPOCH-3). The ended document
	 * unloads without lingering.
	 */
	#rollOver(conversation: LiveConversation): void {
		const { conversationId, epoch } = conversation;
		const name = conversationDocName(conversationId, epoch);
		const document = this.#instance?.documents.get(name);
		if (this.conversations.get(name) !== conversation || conversation.broken || conversation.ended || !document) return;
		const next = this.#endEpoch(conversation);
		if (next === false) return;
		// Null: another roll-over ended it already (the connections then hear of the current epoch from it or at their next connect).
		const payload = next && encodeStateless({ type: 'epoch-ended', v: PROTOCOL_VERSION, ...next });
		for (const connection of document.getConnections()) {
			if (payload) connection.sendStateless(payload);
			connection.close(refuse(CloseReason.EpochEnded));
		}
		this.#release(name, document);
	}
}

const RETRY_REASONS = {
	incomplete: CloseReason.UpdateIncomplete,
	reloading: CloseReason.Reloading,
	'rate-limited': CloseReason.RateLimited,
	'epoch-ended': CloseReason.EpochEnded
} as const;

/** What a settled submission means for the connection that sent it: nothing, or a close. */
function settle(connection: Connection, result: AcceptResult): void {
	if (result.ok) return;
	if ('revoked' in result) throw refuse(CloseReason.MembershipRevoked);
	// The connection is closing for an earlier update; that refusal said why.
	if ('skipped' in result) throw refuse(CloseReason.UpdateRefused);
	if ('retry' in result) throw refuse(RETRY_REASONS[result.retry]);
	refuseUpdate(connection, result.refused);
}

function refuseUpdate(connection: Connection, { code, message, messageIds }: { code: RefusalCode; message: string; messageIds: string[] }): never {
	connection.sendStateless(encodeStateless({ type: 'update-refused', v: PROTOCOL_VERSION, code, message, messageIds }));
	throw refuse(CloseReason.UpdateRefused);
}
