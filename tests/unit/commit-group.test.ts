import { describe, expect, it, vi } from 'vitest';
import type { Db } from '../../src/lib/server/db/index.ts';
import { CoalescingWindow } from '../../server/sync/coalescing-window.ts';
import { CommitGroup, type GroupMember } from '../../server/sync/commit-group.ts';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A database whose transaction just runs its function (the group's logic, not SQLite's, is under test). */
const db = { transaction: (fn: () => void) => fn() } as unknown as Db;

function member(name: string, log: string[], options: { throwInside?: boolean } = {}): GroupMember {
	return {
		beginFlush: () => (log.push(`${name} begin`), true),
		flushWithin(deeper) {
			log.push(`${name} open`);
			if (options.throwInside) throw new Error(`${name} broke`);
			deeper();
			log.push(`${name} close`);
		},
		writeFlush: () => void log.push(`${name} write`),
		commitFailed: () => void log.push(`${name} commit failed`),
		endFlush: () => void log.push(`${name} end`),
		abortFlush: () => void log.push(`${name} abort`)
	};
}

describe('commit group', () => {
	it('[DUR-4] members requested in one turn nest their transactions around one commit, then settle', async () => {
		const log: string[] = [];
		const group = new CommitGroup(db);
		group.request(member('a', log));
		group.request(member('b', log));
		await turn();
		expect(log).toEqual(['a begin', 'b begin', 'a open', 'b open', 'a write', 'b write', 'b close', 'a close', 'a end', 'b end']);
	});

	it('[DUR-4] an unexpected failure inside one member still settles every batch of the group, reloading them', async () => {
		const log: string[] = [];
		const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
		const group = new CommitGroup(db);
		group.request(member('a', log));
		group.request(member('b', log, { throwInside: true }));
		await turn();
		errors.mockRestore();
		expect(log.filter((line) => /end|abort/.test(line))).toEqual(['a abort', 'b abort', 'a end', 'b end']);
		expect(log).not.toContain('a write');
	});

	it('[RCPT-4] a coalesced batch that fails is reported, and the window keeps working', async () => {
		const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
		const seen: number[][] = [];
		const window = new CoalescingWindow<number>(5, (items) => {
			seen.push(items);
			if (items.includes(1)) throw new Error('database gone');
		});
		window.add(1);
		window.add(2);
		await new Promise((resolve) => setTimeout(resolve, 20));
		window.add(3);
		await new Promise((resolve) => setTimeout(resolve, 20));
		const reported = errors.mock.calls.length;
		errors.mockRestore();
		expect(seen).toEqual([[1, 2], [3]]);
		expect(reported).toBe(1);
	});
});
