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

	it('[DUR-4] writes included in a turn run in the one transaction, each in its own savepoint, and settle after the commit', async () => {
		const log: string[] = [];
		const group = new CommitGroup(db);
		group.request(member('a', log));
		const bound = group.include(() => void log.push('bind 1'));
		const refused = group.include(() => {
			log.push('bind 2');
			throw new Error('constraint');
		});
		const alone = group.include(() => void log.push('bind 3'));
		const settled: string[] = [];
		void bound.then(() => settled.push('1 ok'));
		void refused.catch(() => settled.push('2 failed'));
		void alone.then(() => settled.push('3 ok'));
		expect(log).toEqual([]);
		await turn();
		await Promise.resolve();
		expect(log).toEqual(['a begin', 'a open', 'bind 1', 'bind 2', 'bind 3', 'a write', 'a close', 'a end']);
		expect(settled).toEqual(['1 ok', '2 failed', '3 ok']);
	});

	it('[DUR-4] included writes reject when the group commit fails, and run without members too', async () => {
		const failing = { transaction: (fn: () => void, options?: { behavior: string }) => { if (options) throw new Error('disk full'); fn(); } } as unknown as Db;
		const log: string[] = [];
		const group = new CommitGroup(failing);
		group.request(member('a', log));
		await expect(group.include(() => void log.push('bind'))).rejects.toThrow('disk full');
		expect(log).toContain('a commit failed');

		const alone = new CommitGroup(db);
		const ran: string[] = [];
		await alone.include(() => void ran.push('bind'));
		expect(ran).toEqual(['bind']);
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
