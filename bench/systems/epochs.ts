/**
 * This project's epochs as the bench's devices meet them (server/SPEC.md, "Epochs (long rooms)"):
 * which epoch to open a conversation at, the current one when the server says an epoch ended, and
 * the history of ended epochs over REST. Every response a device reads is counted as it downloads.
 */
import type { ConversationDto, MessageDto } from '../../src/lib/shared/api-types.ts';
import { HISTORY_PAGE_MAX } from '../../src/lib/shared/limits.ts';
import { getCounted, type Counter } from '../measure.ts';
import type { User } from './types.ts';

/** A page of `GET /api/conversations/:id/messages`, oldest first: only what the bench reads of it. */
export interface HistoryPage {
	messages: Array<Pick<MessageDto, 'id' | 'seq'>>;
	/** `before` for the next older page; null at the start of the history. */
	nextCursor: number | null;
}

export interface Epochs {
	/**
	 * The epoch a device opens a conversation at: the newest any device of this system has reached
	 * (what a user's conversation list and inbox tell the web client); 0 for a conversation nobody has.
	 */
	known(conversationId: string): number;
	/** Where the known epoch's messages start (those before are in the history); undefined when not told. */
	knownFirstSeq(conversationId: string): number | undefined;
	/** The conversation's current epoch, from the server (`GET /api/conversations/:id`); also remembered as known. */
	current(conversationId: string, user: User, counter: Counter): Promise<number>;
	/** A device opened `epoch` (whose messages start at `firstSeq`, when the server said). */
	reached(conversationId: string, epoch: number, firstSeq?: number): void;
	/**
	 * Messages before `before` (the newest when undefined), at most `limit` (≤ {@link HISTORY_PAGE_MAX});
	 * with `after`, those right after it instead.
	 */
	history(conversationId: string, user: User, counter: Counter, page: { before?: number; after?: number; limit: number }): Promise<HistoryPage>;
}

/** This project's epochs, on the server at `url()` (a getter: a restarted server listens on another port). */
export function appEpochs(url: () => string): Epochs {
	const known = new Map<string, { epoch: number; firstSeq?: number }>();
	const reached = (conversationId: string, epoch: number, firstSeq?: number) => {
		const was = known.get(conversationId);
		if (!was || epoch > was.epoch) known.set(conversationId, { epoch, firstSeq });
		else if (epoch === was.epoch) was.firstSeq ??= firstSeq;
	};
	return {
		known: (conversationId) => known.get(conversationId)?.epoch ?? 0,
		knownFirstSeq: (conversationId) => known.get(conversationId)?.firstSeq,
		reached,
		async current(conversationId, user, counter) {
			const { conversation } = await getCounted<{ conversation: Pick<ConversationDto, 'epoch' | 'epochFirstSeq'> }>(`${url()}/api/conversations/${conversationId}`, user.token, counter);
			reached(conversationId, conversation.epoch, conversation.epochFirstSeq);
			return conversation.epoch;
		},
		history(conversationId, user, counter, { before, after, limit }) {
			const query = new URLSearchParams({ limit: String(Math.min(limit, HISTORY_PAGE_MAX)) });
			if (before !== undefined) query.set('before', String(before));
			if (after !== undefined) query.set('after', String(after));
			return getCounted<HistoryPage>(`${url()}/api/conversations/${conversationId}/messages?${query}`, user.token, counter);
		}
	};
}
