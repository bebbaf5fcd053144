import type * as Y from 'yjs';
import { messagesMap, reactionEntries, seqMap } from '../../../src/lib/shared/conversation-doc.ts';
import type { ReactionDto } from '../../../src/lib/shared/api-types.ts';
import type { MessageValue } from '../../../src/lib/shared/protocol.ts';
import { api } from '../../utils/server.ts';
import { currentEpoch, Device, formatCounts, sum, type Endpoint } from './device.ts';

export interface HistoryRow {
	id: string;
	seq: number;
	author: { id: string };
	body: string;
	createdAt: number;
	editedAt: number | null;
	deletedAt: number | null;
	reactions?: ReactionDto[];
}

/** The whole REST history of a conversation, oldest first. */
export async function history(url: string, conversationId: string, token: string): Promise<HistoryRow[]> {
	const rows: HistoryRow[] = [];
	let before: number | null = null;
	for (;;) {
		const query: string = before === null ? '?limit=200' : `?limit=200&before=${before}`;
		const page = await api<{ messages: HistoryRow[]; nextCursor: number | null }>(url, `/api/conversations/${conversationId}/messages${query}`, { token });
		if (page.status !== 200) throw new Error(`history of ${conversationId}: ${page.status} ${JSON.stringify(page.body)}`);
		rows.unshift(...page.body.messages);
		if (page.body.nextCursor === null) return rows;
		before = page.body.nextCursor;
	}
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
	let timer: ReturnType<typeof setTimeout>;
	return Promise.race([
		promise,
		new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)))
	]).finally(() => clearTimeout(timer));
}

/**
 * What a member who opens the conversation now receives: a device's first sync of the current
 * epoch (it starts at epoch 0 and follows the refusal there, as a device that was away would).
 */
export async function freshDocument(server: Endpoint, conversationId: string, token: string, timeoutMs = 10_000): Promise<Y.Doc> {
	const device = new Device('fresh member', '', token, conversationId);
	try {
		await withTimeout(device.connect(server), timeoutMs, `a fresh sync of ${conversationId}`);
		return device.doc;
	} catch (error) {
		throw new Error(`${(error as Error).message} (epoch ${device.epoch}; closes: ${formatCounts(sum([device.refusals, device.retries]))})`);
	} finally {
		device.disconnect();
	}
}

/** What the devices of a run saw, to hold the history to. */
export interface Seen {
	/** Every message id seen acknowledged on some device, with its seq (any epoch). */
	acked?: ReadonlyMap<string, number>;
	/**
	 * Ids that may be deleted in the history: their author deleted them on some device, or may have
	 * (someone whose devices the run does not follow). Any other acknowledged message must be live.
	 */
	mayBeDeleted?: ReadonlySet<string>;
}

export interface HistoryAudit {
	problems: string[];
	/** Messages seen acknowledged that are not in the history. */
	lost: number;
	/** Extra copies of ids stored more than once. */
	duplicated: number;
}

/**
 * ORDER-1, DUR-1 and ONCE-2 over a conversation's whole history, whatever the epochs: every id is
 * there once, the seqs are exactly 1..N, and every message a device saw acknowledged is there with
 * the seq it saw (and not deleted, unless its author may have deleted it).
 */
export function auditHistory(rows: HistoryRow[], { acked = new Map(), mayBeDeleted = new Set() }: Seen, label: string): HistoryAudit {
	const audit: HistoryAudit = { problems: [], lost: 0, duplicated: 0 };
	const byId = new Map<string, HistoryRow[]>();
	for (const row of rows) byId.set(row.id, [...(byId.get(row.id) ?? []), row]);
	for (const [id, copies] of byId) {
		if (copies.length === 1) continue;
		audit.duplicated += copies.length - 1;
		audit.problems.push(`${label}: ${id} is stored ${copies.length} times (seqs ${copies.map((r) => r.seq).join(',')})`);
	}
	const seqs = rows.map((row) => row.seq).sort((a, b) => a - b);
	if (seqs.some((seq, i) => seq !== i + 1)) audit.problems.push(`${label}: the history's seqs are not 1..${seqs.length} (${seqs.slice(0, 10).join(',')}…)`);
	for (const [id, seq] of acked) {
		const row = byId.get(id)?.[0];
		if (!row) {
			audit.lost += 1;
			audit.problems.push(`${label}: acknowledged message ${id} (seq ${seq}) is not in the history`);
		} else if (row.seq !== seq) {
			audit.problems.push(`${label}: ${id} was acknowledged with seq ${seq}, stored with ${row.seq}`);
		} else if (row.deletedAt !== null && !mayBeDeleted.has(id)) {
			audit.problems.push(`${label}: acknowledged message ${id} is deleted and its author never deleted it`);
		}
	}
	return audit;
}

/** A message as both sides must agree on it. */
function comparable(author: string | undefined, body: string | undefined, createdAt: number | undefined, seq: number | undefined): string {
	return JSON.stringify({ author, body, createdAt, seq });
}

/**
 * GUARD-3 with epochs: a document holds only its epoch, so it must agree with the history on what
 * it holds. Every message in it is a live history row with the same author, body, time and seq,
 * and every seq it holds is the row's (deleted messages included). Returns what differs.
 */
export function compareDocumentWithHistory(rows: HistoryRow[], doc: Y.Doc, label: string): string[] {
	const byId = new Map(rows.map((row) => [row.id, row]));
	const seqs = seqMap(doc);
	const differing: string[] = [];
	for (const [id, value] of messagesMap(doc)) {
		const row = byId.get(id);
		const v = value as MessageValue | undefined;
		const seq = seqs.get(id);
		// A tombstone (ERASE-1) is a deleted row with the same seq, or nothing at all when its message never reached the server.
		if (v?.deletedAt !== undefined) {
			const agrees = row ? row.deletedAt !== null && row.seq === seq && row.body === '' : seq === undefined;
			if (!agrees) differing.push(`${id}: document tombstone (seq ${seq}), history ${row ? JSON.stringify({ seq: row.seq, deletedAt: row.deletedAt }) : 'no row'}`);
			continue;
		}
		const inDoc = comparable(v?.author, v?.body, v?.createdAt, seq);
		const inHistory = row && row.deletedAt === null ? comparable(row.author.id, row.body, row.createdAt, row.seq) : 'no live row';
		if (inDoc !== inHistory) differing.push(`${id}: document ${inDoc}, history ${inHistory}`);
	}
	// REACT-1: every user's reactions list the document holds is the table's (for messages not deleted).
	for (const [messageId, users] of reactionEntries(doc)) {
		const row = byId.get(messageId);
		if (!row || row.deletedAt !== null || !row.reactions) continue;
		for (const [userId, emoji] of users) {
			const stored = row.reactions.filter((r) => r.userIds.includes(userId)).map((r) => r.emoji);
			if ([...stored].sort().join() !== [...emoji].sort().join()) differing.push(`${messageId}: reactions of ${userId} in the document [${emoji}], in the history [${stored}]`);
		}
	}
	for (const [id, seq] of seqs) {
		const row = byId.get(id);
		if (!messagesMap(doc).has(id) && row?.seq !== seq) differing.push(`${id}: document seq ${seq}, history ${row ? `seq ${row.seq}` : 'no row'}`);
	}
	if (differing.length === 0) return [];
	return [`${label}: the document (${messagesMap(doc).size} messages) disagrees with the history on ${differing.length}: ${differing.slice(0, 3).join('; ')}`];
}

/**
 * A conversation's end state: its history audited against what the devices saw, and a fresh
 * member's document of the current epoch compared with it. A conversation that does not load at
 * all is a problem too.
 */
export async function checkConversation(server: Endpoint, conversationId: string, token: string, label: string, seen: Seen = {}): Promise<string[]> {
	try {
		const doc = await freshDocument(server, conversationId, token);
		const rows = await history(server.url, conversationId, token);
		return [...auditHistory(rows, seen, label).problems, ...compareDocumentWithHistory(rows, doc, `${label}, a fresh member`)];
	} catch (error) {
		return [`${label}: ${(error as Error).message}`];
	}
}

/** How many epochs the conversations went through, from their current epochs: each one is a roll-over. */
export async function epochsEnded(url: string, conversationIds: string[], token: string): Promise<number> {
	let ended = 0;
	for (const id of conversationIds) ended += await currentEpoch(url, id, token);
	return ended;
}
