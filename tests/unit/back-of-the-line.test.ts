import { describe, expect, it } from 'vitest';
import { BackOfTheLine, SUSPECT_MS, type Sender } from '../../server/sync/back-of-the-line.ts';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function sender(name: string, log: string[]) {
	const s: Sender & { paused: boolean } = {
		paused: false,
		pause: () => ((s.paused = true), log.push(`${name} paused`)),
		resume: () => ((s.paused = false), log.push(`${name} resumed`)),
		forward: (frame) => log.push(`${name}:${frame.toString()}`)
	};
	return s;
}

describe('back of the line', () => {
	it('[ABUSE-3] a user who was never refused is handed on at once; a suspect’s frames wait a turn each, round-robin, in order', async () => {
		let now = 0;
		const line = new BackOfTheLine(() => now);
		const log: string[] = [];
		const [honest, m1, m2] = [sender('honest', log), sender('m1', log), sender('m2', log)];
		line.suspect('mallory');
		for (const n of [1, 2, 3]) line.offer(m1, 'mallory', Buffer.from(String(n)), true);
		line.offer(m2, 'mallory', Buffer.from('a'), true);
		line.offer(honest, 'alice', Buffer.from('x'), true);
		line.offer(honest, null, Buffer.from('y'), true); // not yet authenticated: not a suspect
		expect(log).toEqual(['honest:x', 'honest:y']);
		await turn();
		line.offer(honest, 'alice', Buffer.from('z'), true);
		for (let i = 0; i < 5; i++) await turn();
		expect(log).toEqual(['honest:x', 'honest:y', 'm1:1', 'honest:z', 'm2:a', 'm1:2', 'm1:3']);
		expect(line.waiting).toBe(0);

		// The suspicion wears off; frames then go straight through again.
		now += SUSPECT_MS + 1;
		line.offer(m1, 'mallory', Buffer.from('4'), true);
		expect(log.at(-1)).toBe('m1:4');
	});

	it('[ABUSE-3] a socket with many frames waiting is not read until they drain, and nothing is dropped', async () => {
		const line = new BackOfTheLine();
		const log: string[] = [];
		const m = sender('m', log);
		line.suspect('mallory');
		for (let n = 0; n < 100; n++) line.offer(m, 'mallory', Buffer.from(String(n)), true);
		expect(m.paused).toBe(true);
		while (line.waiting > 0) await turn();
		expect(m.paused).toBe(false);
		expect(log.filter((entry) => entry.startsWith('m:'))).toEqual(Array.from({ length: 100 }, (_, n) => `m:${n}`));
		expect(log.filter((entry) => !entry.startsWith('m:'))).toEqual(['m paused', 'm resumed']);
	});

	it('[ABUSE-3] frames behind a closed socket go nowhere', async () => {
		const line = new BackOfTheLine();
		const log: string[] = [];
		const m = sender('m', log);
		line.suspect('mallory');
		line.offer(m, 'mallory', Buffer.from('1'), true);
		line.forget(m);
		await turn();
		await turn();
		expect(log).toEqual([]);
	});
});
