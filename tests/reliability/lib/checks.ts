import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import * as Y from 'yjs';
import { messagesMap, seqMap } from '../../../src/lib/shared/conversation-doc.ts';
import { conversationDocName, type MessageValue } from '../../../src/lib/shared/protocol.ts';
import { api } from '../../utils/server.ts';
import { QuietWebSocket } from './device.ts';

export interface HistoryRow {
	id: string;
	seq: number;
	author: { id: string };
	body: string;
	createdAt: number;
	editedAt: number | null;
	deletedAt: number | null;
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

/** What a member who opens the conversation now receives: a stock provider's first sync. */
export async function freshDocument(wsUrl: string, conversationId: string, token: string, timeoutMs = 10_000): Promise<Y.Doc> {
	const doc = new Y.Doc();
	const socket = new HocuspocusProviderWebsocket({ url: wsUrl, WebSocketPolyfill: QuietWebSocket, delay: 50, minDelay: 50, maxDelay: 500 });
	const reasons: string[] = [];
	let provider!: HocuspocusProvider;
	const synced = new Promise<void>((resolve) => {
		provider = new HocuspocusProvider({
			websocketProvider: socket,
			name: conversationDocName(conversationId),
			document: doc,
			token,
			awareness: null,
			onSynced: () => resolve(),
			onAuthenticationFailed: ({ reason }) => reasons.push(reason),
			onClose: ({ event }) => void (event.reason && reasons.push(event.reason))
		});
	});
	provider.attach();
	try {
		await withTimeout(synced, timeoutMs, `a fresh sync of ${conversationId}${reasons.length ? ` (${reasons.join(', ')})` : ''}`);
		return doc;
	} finally {
		provider.destroy();
		socket.destroy();
	}
}

export interface Row {
	id: string;
	author: string | undefined;
	body: string | undefined;
	createdAt: number | undefined;
	seq: number | undefined;
}

/** A document's messages as history rows, in sequence order. */
export function documentRows(doc: Y.Doc): Row[] {
	const seqs = seqMap(doc);
	return [...messagesMap(doc).entries()]
		.map(([id, value]) => {
			const v = value as MessageValue | undefined;
			return { id, author: v?.author, body: v?.body, createdAt: v?.createdAt, seq: seqs.get(id) };
		})
		.sort((a, b) => (a.seq ?? Infinity) - (b.seq ?? Infinity) || (a.id < b.id ? -1 : 1));
}

/**
 * GUARD-3 and ORDER-1 for one conversation: the REST history's live rows equal what a fresh
 * member's document resolves to (ids, authors, bodies, times, sequence numbers), no id or seq
 * appears twice, and the seq map holds exactly 1..N. Returns what differs (empty when all holds).
 */
export function compareHistoryWithDocument(rows: HistoryRow[], doc: Y.Doc, label: string): string[] {
	const problems: string[] = [];
	const ids = rows.map((r) => r.id);
	if (new Set(ids).size !== ids.length) problems.push(`${label}: an id appears twice in the REST history`);
	const seqs = [...seqMap(doc).values()].sort((a, b) => a - b);
	if (seqs.some((seq, i) => seq !== i + 1)) problems.push(`${label}: the seq map is not 1..${seqs.length} (${seqs.slice(0, 10).join(',')}…)`);
	const fromRest = rows
		.filter((row) => row.deletedAt === null)
		.map((row) => ({ id: row.id, author: row.author.id, body: row.body, createdAt: row.createdAt, seq: row.seq }));
	const fromDoc = documentRows(doc);
	const a = JSON.stringify(fromRest);
	const b = JSON.stringify(fromDoc);
	if (a !== b) {
		const restIds = new Set(fromRest.map((r) => r.id));
		const docIds = new Set(fromDoc.map((r) => r.id));
		const onlyRest = [...restIds].filter((id) => !docIds.has(id));
		const onlyDoc = [...docIds].filter((id) => !restIds.has(id));
		const changed = fromDoc.filter((r) => {
			const other = fromRest.find((x) => x.id === r.id);
			return other && JSON.stringify(other) !== JSON.stringify(r);
		});
		problems.push(
			`${label}: REST history ≠ document (${fromRest.length} vs ${fromDoc.length} live; only in REST ${onlyRest.slice(0, 3).join(',')}; only in doc ${onlyDoc.slice(0, 3).join(',')}; differing ${JSON.stringify(changed.slice(0, 2))})`
		);
	}
	return problems;
}

/** Fetches both and compares them; a conversation that does not load at all is a problem too. */
export async function checkConversation(url: string, wsUrl: string, conversationId: string, token: string, label: string): Promise<string[]> {
	try {
		const doc = await freshDocument(wsUrl, conversationId, token);
		const rows = await history(url, conversationId, token);
		return compareHistoryWithDocument(rows, doc, label);
	} catch (error) {
		return [`${label}: ${(error as Error).message}`];
	}
}
