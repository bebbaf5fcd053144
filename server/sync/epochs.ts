import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../src/lib/server/db/index.ts';
import { conversations, docClients, docSnapshots, docUpdates } from '../../src/lib/server/db/schema.ts';
import { conversationDocName } from '../../src/lib/shared/protocol.ts';

/**
 * A conversation's document holds one epoch: the messages written since the epoch began. Once it
 * is full, the epoch ends and a new, empty document takes over under the next name; everything the
 * old one held is already in the message table (the history), so its document rows are dropped.
 * This keeps what the server loads, and what a device downloads, bounded whatever the history.
 */
export interface EpochLimits {
	/** Messages sequenced in one epoch before it ends (at the next quiet moment). */
	messages: number;
	/** Stored bytes of one epoch's document (snapshot plus log) before it ends (at the next quiet moment). */
	bytes: number;
	/**
	 * A full epoch ends once no update came for this long, so nobody is mid-conversation when their
	 * devices move on; one that grows to {@link HARD_LIMIT_FACTOR} times its limits ends at once.
	 */
	quietMs: number;
}

/** A busy room that never goes quiet ends its epoch at this many times the limits. */
export const HARD_LIMIT_FACTOR = 3;

/**
 * About 200 bytes per short message: even a room that never goes quiet keeps its epoch under
 * 100 KB (three times the limits), so a device opening a conversation downloads little more than a
 * screen of messages, and the server opens it at once.
 */
export const DEFAULT_EPOCH_LIMITS: EpochLimits = { messages: 150, bytes: 32 * 1024, quietMs: 1000 };

/** Whether an epoch holding this much may end: not yet, at a quiet moment, or now. */
export function epochFullness(limits: EpochLimits, sequenced: number, storedBytes: number): 'room' | 'full' | 'overfull' {
	const over = (factor: number) => sequenced >= limits.messages * factor || storedBytes >= limits.bytes * factor;
	if (over(HARD_LIMIT_FACTOR) || (over(1) && limits.quietMs === 0)) return 'overfull';
	return over(1) ? 'full' : 'room';
}

/** The epochs table: which epoch is current, and the roll-over to the next. */
export function prepareEpochs(db: Db) {
	const current = db
		.select({ epoch: conversations.epoch, firstSeq: conversations.epochFirstSeq })
		.from(conversations)
		.where(eq(conversations.id, sql.placeholder('conversationId')))
		.prepare();

	const currentEpoch = (conversationId: string): number | undefined => current.get({ conversationId })?.epoch;

	return {
		/** The conversation's current epoch; undefined when there is no such conversation. */
		current: currentEpoch,
		/** The name of the conversation's current document. */
		docName: (conversationId: string): string => conversationDocName(conversationId, currentEpoch(conversationId) ?? 0),
		/**
		 * Ends epoch `from` (EPOCH-2): in one transaction, the next epoch becomes current and the
		 * document rows of the ended one (snapshot, log, clientIDs) go. A crash at any point leaves
		 * either the old epoch whole or the new one empty. Returns the new epoch, or null when `from`
		 * is no longer current (another roll-over won). The new epoch's messages start after every
		 * sequence number given so far.
		 */
		rollOver(conversationId: string, from: number): { epoch: number; firstSeq: number } | null {
			return db.transaction(
				(tx) => {
					const moved = tx
						.update(conversations)
						.set({ epoch: from + 1, epochFirstSeq: sql`${conversations.lastSeq} + 1` })
						.where(and(eq(conversations.id, conversationId), eq(conversations.epoch, from)))
						.returning({ epoch: conversations.epoch, firstSeq: conversations.epochFirstSeq })
						.get();
					if (!moved) return null;
					tx.delete(docUpdates).where(eq(docUpdates.conversationId, conversationId)).run();
					tx.delete(docSnapshots).where(eq(docSnapshots.conversationId, conversationId)).run();
					tx.delete(docClients).where(eq(docClients.conversationId, conversationId)).run();
					return moved;
				},
				{ behavior: 'immediate' }
			);
		}
	};
}
export type Epochs = ReturnType<typeof prepareEpochs>;
