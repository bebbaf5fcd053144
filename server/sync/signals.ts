import type { Connection, Extension, Hocuspocus, onConfigurePayload, onDisconnectPayload, onStatelessPayload } from '@hocuspocus/server';
import type { Db } from '../../src/lib/server/db/index.ts';
import { recordReceipt } from '../../src/lib/server/receipts.ts';
import {
	conversationDocName,
	decodeClientStateless,
	encodeStateless,
	PROTOCOL_VERSION as v,
	type ClientStateless,
	type ServerStateless
} from '../../src/lib/shared/protocol.ts';
import type { SyncContext } from './context.ts';
import type { FrameBudget } from './frame-budget.ts';

/** At most one "still typing" relay per user and conversation in this time. */
const TYPING_RELAY_MS = 1000;

type Receipt = Extract<ClientStateless, { type: 'receipt' }>;
type Markers = { deliveredSeq: number; readSeq: number };

/**
 * The conversation's ephemeral signals, carried as stateless messages: receipts (stored as each
 * member's markers, RCPT-1/2) and typing (never stored, TYPING-1). Both are always the
 * connection's own user's.
 */
export class Signals implements Extension {
	priority = 100;
	#instance: Hocuspocus | undefined;
	/** `conversationId:userId` of everyone who said they are typing and has not stopped, with when it was last relayed. */
	readonly #typing = new Map<string, number>();

	constructor(
		private readonly db: Db,
		/** Every member's inbox follows a change of markers. */
		private readonly onMarkersChanged: (conversationId: string) => void,
		private readonly budget?: FrameBudget
	) {}

	async onConfigure({ instance }: onConfigurePayload): Promise<void> {
		this.#instance = instance;
	}

	async onStateless({ connection, payload }: onStatelessPayload): Promise<void> {
		const context = connection.context as SyncContext;
		const message = decodeClientStateless(payload);
		if (!message || !context.user) return;
		if (this.budget && !this.budget.take(connection)) return;
		if (message.type === 'receipt') this.#receipt(connection, context, message);
		else if (message.type === 'typing' && context.conversationId) this.setTyping(context.conversationId, context.user.id, message.active, connection);
	}

	/** A closed tab stops typing at once. */
	async onDisconnect({ context }: onDisconnectPayload): Promise<void> {
		const { user, conversationId, counted } = context as Partial<SyncContext>;
		if (user && counted && conversationId) this.setTyping(conversationId, user.id, false);
	}

	setTyping(conversationId: string, userId: string, active: boolean, except?: Connection): void {
		const key = `${conversationId}:${userId}`;
		const relayedAt = this.#typing.get(key);
		if (!active && relayedAt === undefined) return;
		// Still typing: one relay a second keeps every member's indicator alive (it lasts TYPING_TTL_MS); more is noise.
		const now = Date.now();
		if (active && relayedAt !== undefined && now - relayedAt < TYPING_RELAY_MS) return;
		if (active) this.#typing.set(key, now);
		else this.#typing.delete(key);
		this.#broadcast(conversationId, { type: 'typing', v, userId, active }, except);
	}

	/** Publishes a member's moved markers to the conversation's open documents and every member's inbox. */
	receiptsChanged(conversationId: string, userId: string, markers: Markers): void {
		this.#broadcast(conversationId, { type: 'receipts', v, userId, ...markers });
		this.onMarkersChanged(conversationId);
	}

	/** A receipt is always the connection's own: one naming anyone else is refused and changes nothing. */
	#receipt(connection: Connection, context: SyncContext, receipt: Receipt): void {
		const conversationId = context.conversationId ?? receipt.conversationId;
		const refuseReceipt = (message: string) => connection.sendStateless(encodeStateless({ type: 'receipt-refused', v, message }));
		if (receipt.userId !== undefined && receipt.userId !== context.user.id) return refuseReceipt('a receipt can only be written for yourself');
		if (context.conversationId && receipt.conversationId && receipt.conversationId !== context.conversationId) {
			return refuseReceipt('send a receipt on its own conversation or on your user channel');
		}
		if (!conversationId) return refuseReceipt('name the conversation of the receipt');
		const markers = recordReceipt(this.db, conversationId, context.user.id, receipt);
		if (!markers) return refuseReceipt('you are not a member of this conversation');
		if (markers.changed) this.receiptsChanged(conversationId, context.user.id, markers);
	}

	#broadcast(conversationId: string, message: ServerStateless, except?: Connection): void {
		const document = this.#instance?.documents.get(conversationDocName(conversationId));
		const payload = encodeStateless(message);
		for (const connection of document?.getConnections() ?? []) if (connection !== except) connection.sendStateless(payload);
	}
}
