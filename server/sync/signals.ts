import { OutgoingMessage, type Connection, type Extension, type Hocuspocus, type onConfigurePayload, type onDisconnectPayload, type onStatelessPayload } from '@hocuspocus/server';
import type { Db } from '../../src/lib/server/db/index.ts';
import { recordReceipt } from '../../src/lib/server/receipts.ts';
import {
	decodeClientStateless,
	encodeStateless,
	PROTOCOL_VERSION as v,
	type ClientStateless,
	type ServerStateless
} from '../../src/lib/shared/protocol.ts';
import { CoalescingWindow } from './coalescing-window.ts';
import type { SyncContext } from './context.ts';
import type { FrameBudget } from './frame-budget.ts';

/** At most one "still typing" relay per user and conversation in this time. */
const TYPING_RELAY_MS = 1000;
/** Receipts are recorded and published together, once per this window (RCPT-4). */
export const RECEIPT_WINDOW_MS = 50;

type Receipt = Extract<ClientStateless, { type: 'receipt' }>;
type Markers = { deliveredSeq: number; readSeq: number };
type PendingReceipt = { connection: Connection; conversationId: string; userId: string; receipt: Receipt };

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
	readonly #receipts = new CoalescingWindow<PendingReceipt>(RECEIPT_WINDOW_MS, (pending) => this.#record(pending));

	constructor(
		private readonly db: Db,
		/** Every member's inbox follows a change of markers. */
		private readonly onMarkersChanged: (conversationId: string, moved: Array<Markers & { userId: string }>) => void,
		private readonly budget: FrameBudget | undefined,
		/** The name of the conversation's loaded document (its current epoch's), if it is loaded. */
		private readonly docName: (conversationId: string) => string | undefined
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

	/** Publishes members' moved markers to the conversation's open documents (one message) and every member's inbox. */
	receiptsChanged(conversationId: string, userId: string, markers: Markers): void {
		this.#publish(conversationId, [{ userId, deliveredSeq: markers.deliveredSeq, readSeq: markers.readSeq }]);
	}

	/** Records what is waiting now (the server is stopping). */
	stop(): void {
		this.#receipts.flush();
	}

	#publish(conversationId: string, markers: Array<Markers & { userId: string }>): void {
		this.#broadcast(conversationId, { type: 'receipt-markers', v, markers });
		this.onMarkersChanged(conversationId, markers);
	}

	/**
	 * The receipts of one window: each member's merged into one, all recorded in one transaction,
	 * then one `receipt-markers` message per conversation for every member whose markers moved.
	 */
	#record(pending: PendingReceipt[]): void {
		const merged = new Map<string, PendingReceipt & { connections: Set<Connection> }>();
		for (const item of pending) {
			const key = `${item.conversationId}:${item.userId}`;
			const seen = merged.get(key);
			if (!seen) {
				merged.set(key, { ...item, connections: new Set([item.connection]) });
				continue;
			}
			seen.connections.add(item.connection);
			seen.receipt = { ...seen.receipt, deliveredSeq: maxSeq(seen.receipt.deliveredSeq, item.receipt.deliveredSeq), readSeq: maxSeq(seen.receipt.readSeq, item.receipt.readSeq) };
		}
		const moved = new Map<string, Array<Markers & { userId: string }>>();
		const refused: Connection[] = [];
		this.db.transaction(() => {
			for (const { conversationId, userId, receipt, connections } of merged.values()) {
				const markers = recordReceipt(this.db, conversationId, userId, receipt);
				if (!markers) refused.push(...connections);
				else if (markers.changed) {
					if (!moved.has(conversationId)) moved.set(conversationId, []);
					moved.get(conversationId)!.push({ userId, deliveredSeq: markers.deliveredSeq, readSeq: markers.readSeq });
				}
			}
		}, { behavior: 'immediate' });
		for (const connection of refused) refuseReceipt(connection, 'you are not a member of this conversation');
		for (const [conversationId, markers] of moved) this.#publish(conversationId, markers);
	}

	/** A receipt is always the connection's own: one naming anyone else is refused and changes nothing. */
	#receipt(connection: Connection, context: SyncContext, receipt: Receipt): void {
		const conversationId = context.conversationId ?? receipt.conversationId;
		if (receipt.userId !== undefined && receipt.userId !== context.user.id) return refuseReceipt(connection, 'a receipt can only be written for yourself');
		if (context.conversationId && receipt.conversationId && receipt.conversationId !== context.conversationId) {
			return refuseReceipt(connection, 'send a receipt on its own conversation or on your user channel');
		}
		if (!conversationId) return refuseReceipt(connection, 'name the conversation of the receipt');
		this.#receipts.add({ connection, conversationId, userId: context.user.id, receipt });
	}

	#broadcast(conversationId: string, message: ServerStateless, except?: Connection): void {
		const name = this.docName(conversationId);
		const document = name === undefined ? undefined : this.#instance?.documents.get(name);
		if (name === undefined || !document) return;
		// One frame for every connection: the markers of a group of 100 are encoded once, not once per member.
		const frame = new OutgoingMessage(name).writeStateless(encodeStateless(message)).toUint8Array();
		for (const connection of document.getConnections()) if (connection !== except) connection.send(frame);
	}
}

function refuseReceipt(connection: Connection, message: string): void {
	connection.sendStateless(encodeStateless({ type: 'receipt-refused', v, message }));
}

/** The larger of two optional markers (a receipt may leave either out). */
function maxSeq(a: number | undefined, b: number | undefined): number | undefined {
	return a === undefined ? b : b === undefined ? a : Math.max(a, b);
}
