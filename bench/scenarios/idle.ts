/**
 * 6. Idle sockets: BENCH_IDLE sockets (default 10,000), each with its own conversation open, on a
 * freshly started server of each system; then the server's resident memory. This project's
 * conversations are real ones made through the REST API: users of 100 conversations each, every
 * conversation a group of its owner and one other user.
 */
import { performance } from 'node:perf_hooks';
import { config } from '../config.ts';
import { forEachLimit, mapLimit, newCounter, openFilesLimit, rssBytes, sleep } from '../measure.ts';
import type { Row } from '../report.ts';
import type { Client, SystemName } from '../systems/types.ts';
import { ALL, type Scenario } from './common.ts';

const PER_USER = 100;

interface IdleSample {
	setupSeconds: number;
	connectSeconds: number;
	rssBefore: number;
	rssAfter: number;
}

export const idleScenario: Scenario = async (bench) => {
	const sockets = config.idle;
	// Each socket is a file on both ends: the client's here, the server's in its process (same limit).
	const limit = openFilesLimit();
	if (sockets + 1000 > limit) throw new Error(`${sockets} sockets need more open files than ulimit -n allows (${limit}): raise it, or lower BENCH_IDLE`);
	const samples = new Map<SystemName, IdleSample>();
	for (const name of ALL) {
		const system = await bench.fresh(name);
		const clients: Client[] = [];
		try {
			const setup = performance.now();
			const users = await system.users(Math.max(2, Math.ceil(sockets / PER_USER)));
			const owners = Array.from({ length: sockets }, (_, i) => i % users.length);
			const conversations = await mapLimit(owners, 8, (owner) => system.conversation([users[owner]!, users[(owner + 1) % users.length]!]));
			const setupSeconds = (performance.now() - setup) / 1000;
			await sleep(1000);
			const rssBefore = rssBytes(system.pid);
			const connect = performance.now();
			await forEachLimit(conversations, 200, async (conversationId, i) => {
				const client = system.connect(users[owners[i]!]!, newCounter());
				clients.push(client);
				await client.open(conversationId);
			});
			const connectSeconds = (performance.now() - connect) / 1000;
			await sleep(2000);
			samples.set(name, { setupSeconds, connectSeconds, rssBefore, rssAfter: rssBytes(system.pid) });
		} finally {
			for (const client of clients) client.close();
			await system.stop();
		}
	}
	bench.details.idle = Object.fromEntries(samples);
	const values = (f: (s: IdleSample) => number) => Object.fromEntries([...samples].map(([name, s]) => [name, f(s)]));
	const MB = 1024 * 1024;
	const scenario = `6 ${sockets} idle sockets`;
	return [
		{ scenario, metric: 'server RSS MB', digits: 0, values: values((s) => s.rssAfter / MB), goal: { on: 'app', op: '<=', limit: 1024, unit: 'MB' } },
		{ scenario, metric: 'RSS growth while connecting, KB/socket', digits: 1, values: values((s) => (s.rssAfter - s.rssBefore) / sockets / 1024) },
		{ scenario, metric: 'setup s (users, conversations)', digits: 1, values: values((s) => s.setupSeconds) },
		{ scenario, metric: 'connect s (all sockets synced)', digits: 1, values: values((s) => s.connectSeconds) }
	] satisfies Row[];
};
