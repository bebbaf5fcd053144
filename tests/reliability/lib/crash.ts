/**
 * DUR-1 / ONCE-2 under kill -9: writers send bursts, the server is SIGKILLed at a random moment
 * of the burst, restarted, and then every message any writer saw acknowledged (its seq) must be
 * stored exactly once with that seq, and every message written (acknowledged or not) is stored
 * exactly once after the writers reconnect and resend. Epochs are small (25 messages), so they
 * end during bursts and around kills; writers follow them and carry what was not acknowledged
 * (EPOCH-2, EPOCH-3), and the checks hold across epochs (the history, not one document).
 */
import { messagesMap, seqMap } from '../../../src/lib/shared/conversation-doc.ts';
import { createAccount, createConversation, uniqueName, type Account } from '../../utils/server.ts';
import { auditHistory, checkConversation, epochsEnded, history, withTimeout } from './checks.ts';
import { countMoves, Device, formatCounts, formatMoves, sum } from './device.ts';
import { Random } from './random.ts';
import type { RunResult } from './report.ts';
import { ServerUnderTest } from './server.ts';

export interface CrashOptions {
	seed: number;
	trials: number;
	/** Writers (devices), spread over two users and two conversations. */
	writers?: number;
	/** Messages each writer sends per burst. */
	burst?: number;
	/** EPOCH_MESSAGES of the server: an epoch ends once it holds this many messages. */
	epochMessages?: number;
	log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runCrash({ seed, trials, writers = 4, burst = 30, epochMessages = 25, log = () => {} }: CrashOptions): Promise<RunResult> {
	const random = new Random(seed);
	const violations: string[] = [];
	const server = await ServerUnderTest.start({ EPOCH_MESSAGES: String(epochMessages), EPOCH_QUIET_MS: '100' });
	const started = Date.now();
	/** Per conversation: id → the seq a writer saw for it. */
	const acked = new Map<string, Map<string, number>>();
	const ackedIn = (conversationId: string) => acked.get(conversationId) ?? acked.set(conversationId, new Map()).get(conversationId)!;
	const ackConflicts: string[] = [];
	const written = new Map<string, string>(); // id → conversation
	let lost = 0;
	let duplicated = 0;
	let killedWithPending = 0;
	try {
		const alice = await createAccount(server.url, uniqueName('crash_a'));
		const bob = await createAccount(server.url, uniqueName('crash_b'));
		const conversations = [await createConversation(server.url, alice, [bob], 'Crash one'), await createConversation(server.url, bob, [alice], 'Crash two')];
		const users: Account[] = [alice, bob];
		const devices = Array.from({ length: writers }, (_, i) => {
			const user = users[i % 2]!;
			const conversationId = conversations[Math.floor(i / 2) % 2]!;
			return new Device(`w${i}`, user.id, user.token, conversationId, {
				onAck(id, seq) {
					const seen = ackedIn(conversationId);
					const before = seen.get(id);
					if (before !== undefined && before !== seq) ackConflicts.push(`${id}: seq ${before} then ${seq}`);
					seen.set(id, seq);
				}
			});
		});
		const acknowledged = () => [...acked.values()].reduce((n, seen) => n + seen.size, 0);

		for (let trial = 1; trial <= trials; trial++) {
			// Everyone reconnects; what was written before the last kill and never acknowledged is resent now.
			await Promise.all(devices.map((d) => withTimeout(d.connect(server), 15_000, `${d.label}'s sync in trial ${trial}`)));
			await waitUntil(() => devices.every((d) => d.unacknowledged().length === 0), 15_000, `every earlier message acknowledged (trial ${trial})`);

			// The burst: every writer sends, with small random gaps, while the kill lands at a random moment.
			const killAt = random.int(0, burst * 2);
			let stopped = false;
			const bursts = devices.map(async (device, w) => {
				const stream = random.fork(trial * 100 + w);
				for (let i = 0; i < burst && !stopped; i++) {
					const id = stream.ulid();
					written.set(id, device.conversationId);
					device.write({ id, author: device.userId, body: `trial ${trial} ${device.label} #${i}`, createdAt: Date.now() });
					await sleep(stream.int(0, 3));
				}
			});
			await sleep(killAt);
			await server.kill();
			stopped = true;
			await Promise.all(bursts);
			if (devices.some((d) => d.unacknowledged().length > 0)) killedWithPending += 1;
			for (const device of devices) device.disconnect();
			await server.restart();

			// DUR-1: every acknowledged message is there, once, with the seq its writer saw, in whichever epoch it was acknowledged.
			for (const conversationId of conversations) {
				const rows = await history(server.url, conversationId, alice.token);
				const audit = auditHistory(rows, { acked: ackedIn(conversationId) }, `trial ${trial}, conversation ${conversationId}`);
				lost += audit.lost;
				duplicated += audit.duplicated;
				violations.push(...audit.problems);
			}
			if (trial % 10 === 0 || trial === trials) log(`trial ${trial}/${trials}: ${acknowledged()} acknowledged, ${written.size} written, ${countMoves(devices).moves} moves to a new epoch`);
		}

		// The writers come back once more: everything ever written is stored exactly once (ONCE-2).
		await Promise.all(devices.map((d) => withTimeout(d.connect(server), 15_000, `${d.label}'s last sync`)));
		await waitUntil(() => devices.every((d) => d.unacknowledged().length === 0), 15_000, 'every message acknowledged at the end');
		const counts = new Map<string, number>();
		for (const conversationId of conversations) {
			for (const row of await history(server.url, conversationId, bob.token)) counts.set(row.id, (counts.get(row.id) ?? 0) + 1);
			violations.push(...(await checkConversation(server, conversationId, alice.token, `conversation ${conversationId}`, { acked: ackedIn(conversationId) })));
		}
		const missing = [...written.keys()].filter((id) => !counts.has(id));
		if (missing.length > 0) violations.push(`${missing.length} written messages never stored after the writers resent (e.g. ${missing[0]})`);
		for (const device of devices) {
			const doc = device.doc;
			if (messagesMap(doc).size !== seqMap(doc).size) violations.push(`${device.label}: ${messagesMap(doc).size} messages but ${seqMap(doc).size} seqs`);
			device.disconnect();
		}
		violations.push(...ackConflicts.map((c) => `a seq changed after it was acknowledged: ${c}`));
		const refusals = sum(devices.map((d) => d.refusals));
		if (refusals.size > 0) violations.push(`honest writers were refused: ${formatCounts(refusals)}`);
		const epochs = await epochsEnded(server.url, conversations, alice.token);
		// The stop is part of the run: it must end cleanly and leave nothing to recover.
		violations.push(...(await server.shutDown()));
		violations.push(...server.violations());

		return {
			figures: {
				seed,
				trials,
				writers,
				'messages written': written.size,
				'acknowledged before a kill or after': acknowledged(),
				'epochs ended (roll-overs, both conversations)': epochs,
				'moves of writers to a new epoch': formatMoves(countMoves(devices)),
				'kills with unacknowledged messages in flight': killedWithPending,
				lost,
				duplicated,
				'retryable closes': formatCounts(sum(devices.map((d) => d.retries))),
				refusals: formatCounts(refusals),
				'server restarts': server.restarts,
				seconds: Math.round((Date.now() - started) / 1000)
			},
			violations,
			notes: server.log.samples
		};
	} finally {
		await server.stop();
	}
}

export async function waitUntil(check: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const start = Date.now();
	while (!check()) {
		if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
		await sleep(20);
	}
}
