/**
 * Seeded chaos with stock providers: 5 users × 2 devices in one group, random offline/online,
 * reloads (the local state read back into a new Y.Doc), concurrent offline writes, edits and
 * deletions, connects dropped before they open, two providers on one document, and server
 * SIGKILLs with restarts on the same port. Epochs are small (25 messages), so they end under all
 * of that, and devices follow them carrying what was not acknowledged (EPOCH-3). At the end every
 * device is in the current epoch with the same messages and seq map, the history's seqs are 1..N,
 * every message seen acknowledged is in it exactly once with that seq (deleted only by its author),
 * the current epoch's document agrees with the history, and no honest update was refused.
 */
import type * as Y from 'yjs';
import { messagesMap, reactionsMap, seqMap, setReactions } from '../../../src/lib/shared/conversation-doc.ts';
import type { MessageValue } from '../../../src/lib/shared/protocol.ts';
import { createAccount, createConversation, uniqueName, type Account } from '../../utils/server.ts';
import { checkConversation, compareDocumentWithHistory, history } from './checks.ts';
import { waitUntil } from './crash.ts';
import { countMoves, currentEpoch, Device, formatCounts, formatMoves, sum, type MoveCounts } from './device.ts';
import { Random } from './random.ts';
import type { RunResult } from './report.ts';
import { ServerUnderTest } from './server.ts';

export interface ChaosOptions {
	seed: number;
	runs: number;
	steps: number;
	/** SIGKILLs per run (at random steps). */
	kills: number;
	users?: number;
	devicesPerUser?: number;
	/** EPOCH_MESSAGES of the server: an epoch ends once it holds this many messages. */
	epochMessages?: number;
	log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

interface RunFigures extends MoveCounts {
	steps: number;
	messages: number;
	edits: number;
	deletes: number;
	reactions: number;
	restarts: number;
	reloads: number;
	flaps: number;
	twins: number;
	acknowledged: number;
	/** Epochs the conversation went through (roll-overs). */
	epochs: number;
	divergences: number;
	violations: string[];
	refusals: Map<string, number>;
	retries: Map<string, number>;
}

export async function runChaos(options: ChaosOptions): Promise<RunResult> {
	const { seed, runs, log = () => {} } = options;
	const totals: RunFigures[] = [];
	const started = Date.now();
	const notes: string[] = [];
	for (let run = 0; run < runs; run++) {
		const runSeed = (seed + run) >>> 0;
		const figures = await chaosRun(runSeed, options, notes);
		totals.push(figures);
		log(
			`run ${run + 1}/${runs} (seed ${runSeed}): ${figures.steps} steps, ${figures.messages} messages, ${figures.restarts} restarts, ${figures.epochs} epochs ended, ${figures.violations.length} violations`
		);
	}
	const total = (key: keyof RunFigures) => totals.reduce((s, f) => s + (f[key] as number), 0);
	const refusals = sum(totals.map((t) => t.refusals));
	const violations = totals.flatMap((t, i) => t.violations.map((v) => `run ${i + 1} (seed ${(seed + i) >>> 0}): ${v}`));
	return {
		figures: {
			seed: `${seed} (run i uses seed ${seed}+i)`,
			runs,
			'users × devices': `${options.users ?? 5} × ${options.devicesPerUser ?? 2}`,
			steps: total('steps'),
			'messages written': total('messages'),
			edits: total('edits'),
			deletes: total('deletes'),
			reactions: total('reactions'),
			'acknowledged messages': total('acknowledged'),
			'epochs ended (roll-overs)': total('epochs'),
			'moves of devices to a new epoch': formatMoves({ moves: total('moves'), lookedUp: total('lookedUp') }),
			'server SIGKILLs + restarts': total('restarts'),
			'reloads (new Y.Doc from local state)': total('reloads'),
			'connects dropped before open': total('flaps'),
			'second provider on one document': total('twins'),
			'retryable closes': formatCounts(sum(totals.map((t) => t.retries))),
			'refusals of honest updates': refusals.size === 0 ? 0 : formatCounts(refusals),
			divergences: total('divergences'),
			seconds: Math.round((Date.now() - started) / 1000)
		},
		violations,
		notes
	};
}

async function chaosRun(seed: number, options: ChaosOptions, notes: string[]): Promise<RunFigures> {
	const { steps, kills, users: userCount = 5, devicesPerUser = 2, epochMessages = 25 } = options;
	const random = new Random(seed);
	const server = await ServerUnderTest.start({ EPOCH_MESSAGES: String(epochMessages), EPOCH_QUIET_MS: '100' });
	const f: RunFigures = {
		steps: 0,
		messages: 0,
		edits: 0,
		deletes: 0,
		reactions: 0,
		restarts: 0,
		reloads: 0,
		flaps: 0,
		twins: 0,
		acknowledged: 0,
		epochs: 0,
		moves: 0,
		lookedUp: 0,
		divergences: 0,
		violations: [],
		refusals: new Map(),
		retries: new Map()
	};
	/** Every message id seen acknowledged on any device, with its seq. */
	const acked = new Map<string, number>();
	/** Message ids whose author deleted them on some device. */
	const deleted = new Set<string>();
	const twins: Device[] = [];
	try {
		const accounts: Account[] = [];
		for (let u = 0; u < userCount; u++) accounts.push(await createAccount(server.url, uniqueName(`chaos${u}`)));
		const conversationId = await createConversation(server.url, accounts[0]!, accounts.slice(1), 'Chaos');
		const devices: Device[] = [];
		for (const account of accounts) {
			for (let d = 0; d < devicesPerUser; d++) {
				devices.push(
					new Device(`${account.username}/${d}`, account.id, account.token, conversationId, {
						onAck(id, seq) {
							const before = acked.get(id);
							if (before !== undefined && before !== seq) f.violations.push(`message ${id} was acknowledged with seq ${before}, later ${seq}`);
							acked.set(id, seq);
						}
					})
				);
			}
		}
		for (const device of devices) void device.connect(server);
		const killSteps = new Set<number>();
		while (killSteps.size < Math.min(kills, steps)) killSteps.add(random.int(1, steps));

		for (let step = 1; step <= steps; step++) {
			f.steps += 1;
			// As the web app does after a retryable close: a fresh socket, which resends what is unacknowledged.
			for (const device of devices) {
				if (device.needsReconnect) {
					device.disconnect();
					void device.connect(server);
				}
			}
			if (killSteps.has(step)) {
				await server.kill();
				await sleep(random.int(0, 400));
				await server.restart();
				f.restarts += 1;
				continue;
			}
			const device = random.pick(devices);
			const action = random.weighted([
				[30, 'write'],
				[8, 'burst'],
				[8, 'edit'],
				[4, 'delete'],
				[4, 'tombstone'],
				[8, 'react'],
				[10, 'offline'],
				[12, 'online'],
				[5, 'reload'],
				[5, 'flap'],
				[3, 'twin'],
				[13, 'wait']
			] as const);
			switch (action) {
				case 'write':
				case 'burst': {
					const n = action === 'write' ? 1 : random.int(2, 8);
					for (let i = 0; i < n; i++) {
						const id = random.ulid();
						device.write({ id, author: device.userId, body: `${device.label} ${step}.${i} ${'x'.repeat(random.int(0, 40))}`, createdAt: Date.now() });
						f.messages += 1;
					}
					break;
				}
				case 'edit': {
					const own = ownMessages(device).filter((m) => m.deletedAt === undefined);
					if (own.length === 0) break;
					const value = random.pick(own);
					device.write({ ...value, body: `${value.body.split(' (edit')[0]} (edit ${step})`, editedAt: Date.now() });
					f.edits += 1;
					break;
				}
				case 'delete': {
					const own = ownMessages(device);
					if (own.length === 0) break;
					const value = random.pick(own);
					messagesMap(device.doc).delete(value.id);
					deleted.add(value.id);
					f.deletes += 1;
					break;
				}
				case 'tombstone': {
					// Delete for everyone (ERASE-1): only messages the device saw acknowledged.
					const own = ownMessages(device).filter((m) => m.deletedAt === undefined && seqMap(device.doc).has(m.id));
					if (own.length === 0) break;
					const value = random.pick(own);
					device.write({ id: value.id, author: value.author, body: '', createdAt: value.createdAt, deletedAt: Date.now() });
					deleted.add(value.id);
					f.deletes += 1;
					break;
				}
				case 'react': {
					// Any member's message of the epoch, not deleted: this user's whole list, a few emoji.
					const messages = [...messagesMap(device.doc).entries()].filter(([, v]) => !v.event && v.deletedAt === undefined);
					if (messages.length === 0) break;
					const [messageId] = random.pick(messages);
					const emoji = ['👍', '❤️', '😂', '😮'].filter(() => random.chance(0.4));
					setReactions(device.doc, messageId, device.userId, emoji);
					f.reactions += 1;
					break;
				}
				case 'offline':
					device.disconnect();
					break;
				case 'online':
					void device.connect(server);
					break;
				case 'reload':
					device.disconnect();
					device.reload();
					f.reloads += 1;
					if (random.chance(0.7)) void device.connect(server);
					break;
				case 'flap': {
					// A connect dropped before (or just as) it opens, then maybe a real one.
					device.disconnect();
					void device.connect(server);
					if (random.chance(0.5)) await sleep(random.int(0, 15));
					device.disconnect();
					f.flaps += 1;
					if (random.chance(0.5)) void device.connect(server);
					break;
				}
				case 'twin': {
					// Another provider on the same Y.Doc (a second tab sharing state): both send the same items.
					const twin = device.twin(`${device.label}+`);
					void twin.connect(server);
					twins.push(twin);
					f.twins += 1;
					setTimeout(() => twin.disconnect(), random.int(50, 800));
					break;
				}
				case 'wait':
					await sleep(random.int(0, 150));
					break;
			}
			if (random.chance(0.3)) await sleep(random.int(0, 30));
		}

		// The end: everyone online until the devices agree with each other and with the server.
		for (const twin of twins) twin.disconnect();
		for (const device of devices) {
			device.disconnect();
			void device.connect(server);
		}
		const agree = () => {
			for (const device of devices) {
				if (device.needsReconnect) {
					device.disconnect();
					void device.connect(server);
				}
			}
			const first = snapshot(devices[0]!);
			return devices.every((d) => d.unacknowledged().length === 0 && snapshot(d) === first);
		};
		// An epoch may end on the turn after the last acknowledgement: agreeing counts in the current epoch only.
		const agreeInCurrentEpoch = async () => {
			const deadline = Date.now() + 30_000;
			for (;;) {
				await waitUntil(agree, Math.max(0, deadline - Date.now()), 'every device to agree');
				if (devices[0]!.epoch === (await currentEpoch(server.url, conversationId, accounts[0]!.token))) return;
				if (Date.now() > deadline) throw new Error('the devices agree in an ended epoch');
				await sleep(50);
			}
		};
		try {
			await agreeInCurrentEpoch();
		} catch {
			const distinct = new Set(devices.map((d) => snapshot(d))).size;
			f.divergences += distinct - 1;
			f.violations.push(
				`devices did not converge in 30 s: ${distinct} distinct states; unacknowledged: ${devices.map((d) => d.unacknowledged().length).join(',')}`
			);
		}

		// The devices agree with each other; now they (in the current epoch) and the history agree with what was seen.
		const reference = devices[0]!;
		f.acknowledged = acked.size;
		f.epochs = await currentEpoch(server.url, conversationId, accounts[0]!.token);
		// The epoch may end (at its quiet moment) between the server's answer and this read of the
		// devices': then they agree again in the new one, and both are read again.
		for (let again = 0; again < 5 && reference.epoch !== f.epochs; again++) {
			await sleep(200);
			await agreeInCurrentEpoch().catch(() => {});
			f.epochs = await currentEpoch(server.url, conversationId, accounts[0]!.token);
		}
		Object.assign(f, countMoves([...devices, ...twins]));
		if (reference.epoch !== f.epochs) f.violations.push(`the devices are in epoch ${reference.epoch}, the conversation in ${f.epochs}`);
		const rows = await history(server.url, conversationId, accounts[0]!.token);
		f.violations.push(...compareDocumentWithHistory(rows, reference.doc, 'a device'));
		f.violations.push(...(await checkConversation(server, conversationId, accounts[1]!.token, 'the conversation', { acked, mayBeDeleted: deleted })));
		f.refusals = sum([...devices, ...twins].map((d) => d.refusals));
		f.retries = sum([...devices, ...twins].map((d) => d.retries));
		if (f.refusals.size > 0) {
			f.violations.push(`updates of honest devices were refused: ${formatCounts(f.refusals)}`);
			f.violations.push(...[...devices, ...twins].flatMap((d) => d.refusalMessages));
		}
		for (const device of devices) device.disconnect();
		// The stop is part of the run: it must end cleanly and leave nothing to recover.
		f.violations.push(...(await server.shutDown()));
		f.violations.push(...server.violations());
		notes.push(...server.log.samples);
		return f;
	} finally {
		for (const twin of twins) twin.disconnect();
		await server.stop();
	}
}

function ownMessages(device: Device): MessageValue[] {
	return [...messagesMap(device.doc).entries()].map(([id, v]) => ({ ...v, id })).filter((v) => v.author === device.userId && !v.event);
}

/** What a device shows: its epoch, and every message value and seq of it, in a stable order. */
function snapshot({ epoch, doc }: { epoch: number; doc: Y.Doc }): string {
	const seqs = seqMap(doc);
	return JSON.stringify([
		epoch,
		[...messagesMap(doc).entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([id, v]) => [id, v.body, v.editedAt ?? null, v.deletedAt ?? null, seqs.get(id) ?? null]),
		[...reactionsMap(doc).entries()].sort(([a], [b]) => (a < b ? -1 : 1))
	]);
}
