import { describe, expect, it, vi } from 'vitest';
import type { HistoryCache, HistoryRow } from '../../src/lib/client/history-cache.ts';
import { OlderHistory, runEndingAt } from '../../src/lib/sync/older-history.ts';

const row = (seq: number, body = `m${seq}`): HistoryRow => ({
	conversationId: 'c',
	id: `id${seq}`,
	seq,
	author: 'a',
	body,
	createdAt: seq,
	editedAt: null,
	deletedAt: null,
	event: null
});

describe('[OFFLINE-8] the history a device shows before the current epoch', () => {
	it('is one run without gaps ending right before the epoch, so a hole is never shown as history', () => {
		expect(runEndingAt([row(1), row(2), row(3)], 4).map((r) => r.seq)).toEqual([1, 2, 3]);
		expect(runEndingAt([row(1), row(3)], 4).map((r) => r.seq)).toEqual([3]);
		expect(runEndingAt([row(1), row(2)], 5)).toEqual([]);
		expect(runEndingAt([row(5), row(6), row(9)], 7).map((r) => r.seq)).toEqual([5, 6]);
	});

	it('takes the later copy of a row (the server’s, which carries edits)', () => {
		expect(runEndingAt([row(1), row(2), row(2, 'edited')], 3).map((r) => r.body)).toEqual(['m1', 'edited']);
	});

	it('asks the server for a page shown from the device, and shows its edits and deletions', async () => {
		const stored = [row(1), row(2), row(3), row(4)];
		const server = [row(1), { ...row(2, 'm2, edited'), editedAt: 10 }, { ...row(3, ''), deletedAt: 11 }, row(4)];
		let answer: (rows: HistoryRow[]) => void = () => {};
		const cache = {
			page: async (_id: string, before: number, limit: number) => stored.filter((r) => r.seq < before).slice(-limit),
			fetch: (_id: string, before: number, limit: number) => new Promise<HistoryRow[]>((resolve) => (answer = () => resolve(server.filter((r) => r.seq < before).slice(-limit))))
		} as unknown as HistoryCache;
		const revalidated = vi.fn();
		const older = new OlderHistory(cache, 'c', 5, revalidated);
		expect(await older.older(4)).toBe(4);
		// Shown at once from the device, as it was stored.
		expect(older.rows.map((r) => r.body)).toEqual(['m1', 'm2', 'm3', 'm4']);
		answer(server);
		await vi.waitFor(() => expect(revalidated).toHaveBeenCalledOnce());
		expect(older.rows.map((r) => [r.body, r.deletedAt])).toEqual([['m1', null], ['m2, edited', null], ['', 11], ['m4', null]]);
	});

	it('keeps the device\'s page when the server cannot be asked, and says nothing when nothing changed', async () => {
		const stored = [row(1), row(2)];
		const revalidated = vi.fn();
		const offline = { page: async () => stored, fetch: async () => Promise.reject(new Error('offline')) } as unknown as HistoryCache;
		const shown = new OlderHistory(offline, 'c', 3, revalidated);
		expect(await shown.older(2)).toBe(2);
		const same = { page: async () => stored, fetch: async () => stored.map((r) => ({ ...r })) } as unknown as HistoryCache;
		const unchanged = new OlderHistory(same, 'c', 3, revalidated);
		expect(await unchanged.older(2)).toBe(2);
		await new Promise((resolve) => setTimeout(resolve, 10));
		expect(revalidated).not.toHaveBeenCalled();
		expect(shown.rows.map((r) => r.body)).toEqual(['m1', 'm2']);
	});

	it('never steps a shown row back to an older answer (a deletion stays, a later edit stays)', async () => {
		const stored = [row(1), row(2)];
		let answer: () => void = () => {};
		const cache = {
			page: async () => stored,
			put: async () => {},
			fetch: () => new Promise<HistoryRow[]>((resolve) => (answer = () => resolve([{ ...row(1, 'm1, edited first'), editedAt: 10 }, row(2)])))
		} as unknown as HistoryCache;
		const revalidated = vi.fn();
		const older = new OlderHistory(cache, 'c', 3, revalidated);
		await older.older(2);
		// Fresher rows arrive meanwhile (the next page's fetch, an epoch's end).
		older.moveEnd(3, [{ ...row(1, 'm1, edited later'), editedAt: 20 }, { ...row(2, ''), deletedAt: 30 }]);
		answer();
		await new Promise((resolve) => setTimeout(resolve, 10));
		expect(revalidated).not.toHaveBeenCalled();
		expect(older.rows.map((r) => [r.body, r.deletedAt])).toEqual([['m1, edited later', null], ['', 30]]);
	});

	it('after a reconnect, asks the server for every row shown while offline, a page at a time', async () => {
		const stored = [row(1), row(2), row(3)];
		let online = false;
		const asked: Array<[number, number]> = [];
		const server = [{ ...row(1, ''), deletedAt: 5 }, row(2), { ...row(3, 'm3, edited'), editedAt: 6 }];
		const cache = {
			page: async () => stored,
			fetch: async (_id: string, before: number, limit: number) => {
				if (!online) throw new Error('offline');
				asked.push([before, limit]);
				return server.filter((r) => r.seq < before).slice(-limit);
			}
		} as unknown as HistoryCache;
		const revalidated = vi.fn();
		const older = new OlderHistory(cache, 'c', 4, revalidated);
		await older.older(3);
		await new Promise((resolve) => setTimeout(resolve, 10));
		expect(older.rows.map((r) => r.body)).toEqual(['m1', 'm2', 'm3']);
		online = true;
		await older.revalidateShown();
		expect(asked).toEqual([[4, 3]]);
		expect(revalidated).toHaveBeenCalledOnce();
		expect(older.rows.map((r) => [r.body, r.deletedAt])).toEqual([['', 5], ['m2', null], ['m3, edited', null]]);
	});
});
