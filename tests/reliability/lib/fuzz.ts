/**
 * The fuzzer: `lanes` authenticated member sockets each send hostile frames one at a time to
 * their own conversation (shared with a victim member whose messages they must not touch), each
 * followed by a sync step 1, and wait for the server's reply to it (or the close of the document or socket)
 * before the next. A closed document is authenticated again on the same socket (Hocuspocus queues
 * the frames that follow until it is let in); a closed socket is replaced. Updates are committed
 * on the server's next turn, so what one costs shows in the server's probe, not in the reply time.
 * Meanwhile honest conversations run in another process and their latency is compared with a
 * baseline measured before the fuzzing, in the same run.
 * Epochs are small (50 messages) and the victim keeps writing into every fuzzed conversation, so
 * fuzzed and honest conversations roll over during the run: honest devices follow them (EPOCH-3),
 * and so does each lane, whose frames then go to the new epoch's document (frames it kept from
 * before still name the ended one). Every message the victim saw acknowledged must be stored once.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { ulid } from 'ulid';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { messagesMap } from '../../../src/lib/shared/conversation-doc.ts';
import { CloseReason, conversationDocName, decodeServerStateless, type AttachmentRef } from '../../../src/lib/shared/protocol.ts';
import { decodeServerFrame, frame } from '../../utils/frames.ts';
import { createAccount, createConversation, uniqueName, type Account } from '../../utils/server.ts';
import { checkConversation, epochsEnded, withTimeout } from './checks.ts';
import { waitUntil } from './crash.ts';
import { count, currentEpoch, Device, formatCounts, sum, type Endpoint } from './device.ts';
import { FrameFactory, modelOf } from './fuzz-frames.ts';
import { percentile, type HonestPair, type ParentMessage, type PhaseFigures } from './honest-traffic.ts';
import { Random } from './random.ts';
import type { RunResult } from './report.ts';
import { ServerUnderTest } from './server.ts';

export interface FuzzOptions {
	seed: number;
	frames: number;
	lanes?: number;
	/** Honest conversations measured during the run. */
	honest?: number;
	/** Seconds of honest traffic measured before the fuzzing starts (and again after it). */
	baselineSeconds?: number;
	/**
	 * Whether the timing properties (server time per frame, honest p99) are verdicts. The short run in
	 * `npm test` reports them but does not judge them: timings are judged by the script, on a quiet machine.
	 */
	judgeTiming?: boolean;
	/** The most server time one frame may cost. */
	frameBudgetMs?: number;
	/** Stop sending after this many seconds even if fewer frames were sent (0: no limit); a short count fails the run. */
	seconds?: number;
	/** EPOCH_MESSAGES of the server: an epoch ends once it holds this many messages (more than the 10 of a lane's setup). */
	epochMessages?: number;
	log?: (line: string) => void;
}

/** How long a lane waits for the answer to the sync step 1 behind its frame before it moves on. */
const ANSWER_MS = 2000;
/** Frames a lane sends before it waits for the server to catch up. */
const WINDOW = 4;
const HONEST_INTERVAL_MS = 100;
/**
 * Honest messages a phase must have measured before its p99 is judged: with fewer, the "p99" is the
 * maximum, and one message behind a garbage collection decides the run. When the timing is judged,
 * the baseline and the fuzzing last until each has measured this many (the frame count becomes a
 * minimum), and a phase cut shorter than that (`seconds`) fails the run.
 */
export const TIMING_SAMPLES = 400;
/**
 * The victim's pace in each fuzzed conversation: an epoch of 50 messages ends about every 12 s, so
 * the attacked documents roll over under fire, without the victim's traffic outweighing the lanes'.
 */
const VICTIM_INTERVAL_MS = 250;
const HONEST_CHILD = fileURLToPath(new URL('./honest-traffic.ts', import.meta.url));

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Answer = 'reply' | 'closed' | 'socket-closed' | 'none';

/** A raw member socket that keeps counters, not the frames (a run sends millions). */
class LaneSocket {
	readonly ws: WebSocket;
	acks = 0;
	/** Sync step 2 replies: the answers to the sync step 1 sent behind each frame. */
	syncReplies = 0;
	closeCount = 0;
	docOpen = false;
	socketOpen = true;
	authAnswer: string | null = null;
	/** The document's epoch ended (a stateless message, a close or a refusal said so); `nextEpoch` when the server named it. */
	epochEnded = false;
	nextEpoch: number | null = null;
	#wake: (() => void) | null = null;

	constructor(
		url: string,
		private readonly docName: string,
		private readonly closes: Map<string, number>
	) {
		this.ws = new WebSocket(url);
		this.ws.on('error', () => {});
		this.ws.on('message', (data: Buffer) => {
			let f;
			try {
				f = decodeServerFrame(new Uint8Array(data));
			} catch {
				count(this.closes, 'undecodable server frame');
				return;
			}
			if (f.doc !== this.docName) return;
			if (f.kind === 'sync-status') this.acks += 1;
			else if (f.kind === 'sync' && f.step === 1) this.syncReplies += 1;
			else if (f.kind === 'authenticated') {
				this.authAnswer = 'authenticated';
				this.docOpen = true;
			} else if (f.kind === 'permission-denied') {
				this.authAnswer = `denied: ${f.reason}`;
				this.#noteEpochEnded(f.reason);
				count(this.closes, `permission-denied: ${f.reason}`);
			} else if (f.kind === 'close') {
				this.docOpen = false;
				this.closeCount += 1;
				this.#noteEpochEnded(f.reason);
				count(this.closes, `document closed: ${f.reason}`);
			} else if (f.kind === 'stateless') {
				const message = decodeServerStateless(f.payload);
				if (message?.type === 'epoch-ended') this.nextEpoch = message.epoch;
			}
			this.#wake?.();
		});
		this.ws.once('close', (code, reason) => {
			this.socketOpen = false;
			this.docOpen = false;
			count(this.closes, `socket closed: ${code} ${reason.toString()}`.trim());
			this.#wake?.();
		});
	}

	#noteEpochEnded(reason: string): void {
		if (reason === CloseReason.EpochEnded) this.epochEnded = true;
	}

	opened(): Promise<boolean> {
		return new Promise((resolve) => {
			this.ws.once('open', () => resolve(true));
			this.ws.once('close', () => resolve(false));
		});
	}

	send(data: Uint8Array): void {
		if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
	}

	/** Resolves when `done` holds, the socket closes, or the time is up. */
	until(done: () => boolean, ms: number): Promise<boolean> {
		return new Promise((resolve) => {
			if (done()) return resolve(true);
			const timer = setTimeout(() => finish(false), ms);
			const finish = (ok: boolean) => {
				clearTimeout(timer);
				this.#wake = null;
				resolve(ok);
			};
			this.#wake = () => {
				if (done()) finish(true);
				else if (!this.socketOpen) finish(false);
			};
		});
	}

	close(): void {
		this.ws.terminate();
	}
}

interface LaneSetup {
	conversationId: string;
	attacker: Account;
	factory: FrameFactory;
	/** The epoch the lane's frames go to. */
	epoch: number;
	/** The fuzzer's own device's document of that epoch: the server's reply to a sync step 1 with its state vector is small. */
	own: Y.Doc;
}

interface Totals {
	frames: number;
	byKind: Map<string, number>;
	answers: Map<string, number>;
	closes: Map<string, number>;
	reauths: number;
	newSockets: number;
	/** Lanes moving to a new epoch's document. */
	moves: number;
	/** Round trip of each answered frame, ms. */
	roundTrips: number[];
}

/**
 * The lane's epoch ended: like a device (EPOCH-3), it moves to the current epoch with a fresh
 * document of its own, and its frames follow. The attacker carries nothing over: what it wrote is
 * not checked, and the frames are hostile anyway. False when it did not move (the new epoch could
 * not be read: the lane's next authentication is refused again and it tries again).
 */
async function followEpoch(server: Endpoint, lane: LaneSetup, named: number | null): Promise<boolean> {
	const epoch = named ?? (await currentEpoch(server.url, lane.conversationId, lane.attacker.token).catch(() => null));
	if (epoch === null || epoch <= lane.epoch) return false;
	lane.epoch = epoch;
	lane.own = new Y.Doc();
	lane.factory.moveTo(conversationDocName(lane.conversationId, epoch), lane.own);
	return true;
}

async function runLane(server: Endpoint, lane: LaneSetup, quota: () => boolean, totals: Totals): Promise<void> {
	let docName = conversationDocName(lane.conversationId, lane.epoch);
	let sock: LaneSocket | null = null;
	let authSent = false;
	while (quota()) {
		if (sock?.epochEnded && (await followEpoch(server, lane, sock.nextEpoch))) {
			totals.moves += 1;
			docName = conversationDocName(lane.conversationId, lane.epoch);
			sock.close();
			sock = null;
		}
		if (!sock || !sock.socketOpen || sock.authAnswer?.startsWith('denied')) {
			sock?.close();
			sock = new LaneSocket(server.wsUrl, docName, totals.closes);
			authSent = false;
			totals.newSockets += 1;
			if (!(await withTimeout(sock.opened(), 10_000, 'a lane socket to open'))) continue;
		}
		if (!sock.docOpen && !authSent) {
			// Hocuspocus queues what follows until the document is let in again, so there is no need to wait here.
			sock.authAnswer = null;
			sock.send(frame.auth(docName, lane.attacker.token));
			authSent = true;
			totals.reauths += 1;
		}
		// A window of frames, then a sync step 1 whose reply says the server has read them all.
		const s = sock;
		const closes = s.closeCount;
		const replies = s.syncReplies;
		const started = performance.now();
		for (let i = 0; i < WINDOW && quota(); i++) {
			const { kind, data } = lane.factory.next();
			totals.frames += 1;
			count(totals.byKind, kind);
			s.send(data);
		}
		s.send(frame.syncStep1(docName, Y.encodeStateVector(lane.own)));
		const answered = await s.until(() => s.syncReplies > replies || s.closeCount > closes || s.authAnswer?.startsWith('denied') === true, ANSWER_MS);
		const answer: Answer = !s.socketOpen ? 'socket-closed' : s.closeCount > closes ? 'closed' : answered ? 'reply' : 'none';
		if (s.closeCount > closes) authSent = false;
		count(totals.answers, answer);
		if (answer === 'reply' || answer === 'closed') totals.roundTrips.push(performance.now() - started);
	}
	sock?.close();
}

/**
 * The victim keeps talking in every fuzzed conversation, in every phase (so the timing comparison
 * stays fair): its messages must all be stored whatever the attacker sends, and they fill epochs,
 * so the attacked documents roll over under fire. Its devices follow epochs and reconnect after a
 * retryable close, as the web app does.
 */
class VictimChatter {
	/** Per conversation: every message the victim saw acknowledged, with its seq. */
	readonly acked = new Map<string, Map<string, number>>();
	/** Messages of others among them (the attackers' own, which they may delete). */
	readonly others = new Set<string>();
	readonly devices: Device[] = [];
	written = 0;
	#timer: ReturnType<typeof setInterval> | undefined;

	constructor(private readonly server: Endpoint) {}

	/** The victim's device in a conversation, its acknowledgements recorded. */
	deviceIn(victim: Account, conversationId: string, label: string): Device {
		const acked = new Map<string, number>();
		this.acked.set(conversationId, acked);
		const device = new Device(label, victim.id, victim.token, conversationId, {
			onAck: (id, seq) => {
				acked.set(id, seq);
				// The victim's own messages are in its document from the moment it wrote them.
				if (messagesMap(device.doc).get(id)?.author !== victim.id) this.others.add(id);
			}
		});
		this.devices.push(device);
		return device;
	}

	start(intervalMs: number): void {
		for (const device of this.devices) void device.connect(this.server);
		this.#timer = setInterval(() => {
			this.#reconnectIfAsked();
			for (const device of this.devices) {
				device.write({ id: ulid(), author: device.userId, body: `${device.label} says ${this.written}`, createdAt: Date.now() });
				this.written += 1;
			}
		}, intervalMs);
	}

	/** Stops talking and waits until everything said is acknowledged; returns what went wrong. */
	async stop(): Promise<string[]> {
		clearInterval(this.#timer);
		const problems: string[] = [];
		const settled = () => {
			this.#reconnectIfAsked();
			return this.devices.every((device) => device.unacknowledged().length === 0);
		};
		await waitUntil(settled, 15_000, "the victim's messages to be acknowledged").catch((error: Error) => problems.push(error.message));
		const refusals = sum(this.devices.map((device) => device.refusals));
		if (refusals.size > 0) problems.push(`the victim's devices were refused: ${formatCounts(refusals)}`, ...this.devices.flatMap((d) => d.refusalMessages));
		this.close();
		return problems;
	}

	/** Silences the victim at once (also when a run fails half-way). */
	close(): void {
		clearInterval(this.#timer);
		for (const device of this.devices) device.disconnect();
	}

	#reconnectIfAsked(): void {
		for (const device of this.devices) {
			if (!device.needsReconnect) continue;
			device.disconnect();
			void device.connect(this.server);
		}
	}
}

function ask(child: ChildProcess, message: ParentMessage, answer: string): Promise<unknown> {
	return new Promise((resolve) => {
		const onMessage = (reply: { type: string }) => {
			if (reply.type !== answer) return;
			child.off('message', onMessage);
			resolve(reply);
		};
		child.on('message', onMessage);
		child.send(message);
	});
}

export async function runFuzz(options: FuzzOptions): Promise<RunResult> {
	const { seed, frames, lanes = 6, honest = 4, baselineSeconds = 10, frameBudgetMs = 100, judgeTiming = true, seconds = 0, epochMessages = 50, log = () => {} } = options;
	const random = new Random(seed);
	const violations: string[] = [];
	const server = await ServerUnderTest.start({ EPOCH_MESSAGES: String(epochMessages), EPOCH_QUIET_MS: '100' });
	const endpoint: Endpoint = { url: server.url, wsUrl: server.wsUrl };
	const chatter = new VictimChatter(endpoint);
	let child: ChildProcess | null = null;
	try {
		// The victim shares every fuzzed conversation; each lane has its own attacker.
		const victim = await createAccount(server.url, uniqueName('victim'));
		const setups: LaneSetup[] = [];
		for (let l = 0; l < lanes; l++) {
			const attacker = await createAccount(server.url, uniqueName(`fuzz${l}`));
			const conversationId = await createConversation(server.url, attacker, [victim], `Fuzz ${l}`);
			const victimDevice = chatter.deviceIn(victim, conversationId, `victim/${l}`);
			const own = new Device(`fuzz${l}`, attacker.id, attacker.token, conversationId);
			await Promise.all([victimDevice.connect(endpoint), own.connect(endpoint)]);
			const stream = random.fork(1000 + l);
			for (let i = 0; i < 5; i++) {
				for (const device of [victimDevice, own]) {
					const id = stream.ulid();
					device.write({ id, author: device.userId, body: `${device.label} setup ${i}`, createdAt: Date.now() });
				}
			}
			await waitUntil(() => [victimDevice, own].every((d) => d.unacknowledged().length === 0) && own.doc.getMap('seq').size === 10, 10_000, 'setup messages');
			victimDevice.disconnect();
			own.disconnect();
			const keysOf = (userId: string) => [...own.doc.getMap<{ author: string }>('messages').entries()].filter(([, v]) => v.author === userId).map(([k]) => k);
			const model = modelOf(own.doc, {
				docName: conversationDocName(conversationId, own.epoch),
				userId: attacker.id,
				ownClient: own.doc.clientID,
				ownKeys: keysOf(attacker.id),
				victimId: victim.id,
				victimClient: victimDevice.doc.clientID,
				victimKeys: keysOf(victim.id),
				ownUploads: await uploads(server.url, attacker.token, 3),
				victimUploads: await uploads(server.url, victim.token, 1)
			});
			setups.push({ conversationId, attacker, factory: new FrameFactory(stream, model, own.doc), epoch: own.epoch, own: own.doc });
		}

		// Honest conversations, in their own process.
		const pairs: HonestPair[] = [];
		const honestAccounts: Account[] = [];
		for (let h = 0; h < honest; h++) {
			const writer = await createAccount(server.url, uniqueName(`hw${h}`));
			const reader = await createAccount(server.url, uniqueName(`hr${h}`));
			honestAccounts.push(writer);
			pairs.push({ conversationId: await createConversation(server.url, writer, [reader], ''), writer: { id: writer.id, token: writer.token }, reader: { id: reader.id, token: reader.token } });
		}
		child = fork(HONEST_CHILD, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
		const honestProcess = child;
		process.once('exit', () => honestProcess.kill('SIGKILL'));
		await ask(child, { type: 'start', server: endpoint, pairs, intervalMs: HONEST_INTERVAL_MS }, 'started');
		chatter.start(VICTIM_INTERVAL_MS);
		await sleep(3000);
		// Long enough for TIMING_SAMPLES honest messages when the timing is judged.
		const phaseSeconds = judgeTiming ? Math.max(baselineSeconds, Math.ceil((TIMING_SAMPLES * HONEST_INTERVAL_MS) / 1000 / honest) + 1) : baselineSeconds;
		const timingPhaseMs = judgeTiming ? phaseSeconds * 1000 : 0;
		await ask(child, { type: 'phase', phase: 'baseline' }, 'phase');
		log(`baseline: ${phaseSeconds} s of honest traffic (${honest} conversations, one message every ${HONEST_INTERVAL_MS} ms each)`);
		await sleep(phaseSeconds * 1000);

		await ask(child, { type: 'phase', phase: 'fuzz' }, 'phase');
		await server.resetLoopStats();
		const totals: Totals = { frames: 0, byKind: new Map(), answers: new Map(), closes: new Map(), reauths: 0, newSockets: 0, moves: 0, roundTrips: [] };
		const started = performance.now();
		const progress = setInterval(() => {
			const seconds = (performance.now() - started) / 1000;
			log(`${totals.frames} frames, ${Math.round(totals.frames / seconds)}/s, server ${server.alive ? 'up' : 'DOWN'}`);
		}, 30_000);
		try {
			const inTime = () => seconds === 0 || performance.now() - started < seconds * 1000;
			const moreToDo = () => totals.frames < frames || performance.now() - started < timingPhaseMs;
			await Promise.all(setups.map((lane) => runLane(endpoint, lane, () => moreToDo() && server.alive && inTime(), totals)));
		} finally {
			clearInterval(progress);
		}
		const fuzzSeconds = (performance.now() - started) / 1000;
		const loop = await server.loopStats();

		await ask(child, { type: 'phase', phase: 'after' }, 'phase');
		await sleep(phaseSeconds * 1000);
		const report = (await ask(child, { type: 'report' }, 'report')) as { phases: Record<string, PhaseFigures> };
		await ask(child, { type: 'stop' }, 'stopped');
		child = null;
		violations.push(...(await chatter.stop()));

		// Every conversation still loads, and its history is its document.
		let loaded = 0;
		let fuzzedEpochs = 0;
		let honestEpochs = 0;
		if (server.alive) {
			for (const lane of setups) {
				const seen = { acked: chatter.acked.get(lane.conversationId), mayBeDeleted: chatter.others };
				const problems = await checkConversation(endpoint, lane.conversationId, victim.token, `fuzzed conversation ${lane.conversationId}`, seen);
				violations.push(...problems);
				if (problems.length === 0) loaded += 1;
			}
			for (const [h, pair] of pairs.entries()) {
				const problems = await checkConversation(endpoint, pair.conversationId, honestAccounts[h]!.token, `honest conversation ${pair.conversationId}`);
				violations.push(...problems);
				if (problems.length === 0) loaded += 1;
			}
			fuzzedEpochs = await epochsEnded(server.url, setups.map((lane) => lane.conversationId), victim.token).catch((error: unknown) => {
				throw new Error(`${(error as Error).message}\n--- server output ---\n${server.output().slice(-4000)}`);
			});
			for (const [h, pair] of pairs.entries()) honestEpochs += await epochsEnded(server.url, [pair.conversationId], honestAccounts[h]!.token);
		}

		const trips = totals.roundTrips.sort((a, b) => a - b);
		const baseline = report.phases.baseline;
		const during = report.phases.fuzz;
		const after = report.phases.after;
		const normal = latencyBound(baseline?.p99 ?? NaN);
		if (!server.alive) violations.push('the server is not running at the end');
		// The stop is part of the run: it must end cleanly and leave nothing to recover.
		else violations.push(...(await server.shutDown()));
		violations.push(...server.violations());
		if (!loop) violations.push('no event-loop figures from the server');
		else if (judgeTiming && loop.maxCpuMs > frameBudgetMs) violations.push(`the server worked ${loop.maxCpuMs.toFixed(1)} ms of CPU time without a break (budget ${frameBudgetMs} ms per frame)`);
		if (!during || !baseline) violations.push('no honest latency figures');
		else if (judgeTiming && Math.min(during.count, baseline.count) < TIMING_SAMPLES) {
			violations.push(`too few honest messages to judge their p99: ${baseline.count} in the baseline, ${during.count} during fuzzing (${TIMING_SAMPLES} needed)`);
		} else if (judgeTiming && !(during.p99 <= normal)) violations.push(`honest p99 during fuzzing ${during.p99.toFixed(1)} ms is over the normal figure ${normal.toFixed(1)} ms`);
		for (const [name, phase] of Object.entries(report.phases)) {
			if (phase.missing > 0) violations.push(`${phase.missing} honest messages written in the ${name} phase never arrived`);
		}
		if (totals.frames < frames) violations.push(`only ${totals.frames} of ${frames} frames were sent`);

		const fmt = (p: PhaseFigures | undefined) => (p ? `p50 ${p.p50.toFixed(1)} ms, p99 ${p.p99.toFixed(1)} ms, max ${p.max.toFixed(1)} ms (${p.count} messages)` : 'n/a');
		return {
			figures: {
				seed,
				'frames sent': totals.frames,
				'frames/s': Math.round(totals.frames / fuzzSeconds),
				'fuzzing seconds': Math.round(fuzzSeconds),
				lanes,
				'frames by kind': formatCounts(totals.byKind),
				[`windows of ${WINDOW} frames (reply = the sync step 1 behind them answered, closed = document or socket closed)`]: formatCounts(totals.answers),
				'closes by reason': formatCounts(totals.closes),
				're-authentications / new sockets': `${totals.reauths} / ${totals.newSockets}`,
				[`epochs ended (roll-overs at ${epochMessages} messages): fuzzed / honest conversations`]: `${fuzzedEpochs} / ${honestEpochs}`,
				'moves of lanes to a new epoch': totals.moves,
				'messages of the victim in fuzzed conversations (all stored once)': chatter.written,
				'max frame cost (most server CPU without a break)': loop ? `${loop.maxCpuMs.toFixed(1)} ms` : 'n/a',
				'longest event-loop block (wall clock, fsync and OS scheduling included)': loop ? `${loop.maxMs.toFixed(1)} ms (p99 ${loop.p99Ms.toFixed(1)} ms)` : 'n/a',
				'window round trip (frames + sync step 1)': trips.length ? `p50 ${percentile(trips, 50).toFixed(2)} ms, p99 ${percentile(trips, 99).toFixed(2)} ms, max ${trips.at(-1)!.toFixed(1)} ms` : 'n/a',
				'honest latency, baseline': fmt(baseline),
				'honest latency, during fuzzing': fmt(during),
				'honest latency, after': fmt(after),
				'normal figure (the bound for during)': `${normal.toFixed(1)} ms`,
				'server crashes': server.crashes,
				'uncaught errors in the server log': server.log.uncaught,
				'documents rebuilt (GUARD-4)': server.log.reloads,
				'stored updates skipped on load (GUARD-4)': server.log.skippedStored,
				'other failures reported by the server': server.log.failures,
				'conversations that load with REST = document': `${loaded} of ${setups.length + pairs.length}`
			},
			violations,
			notes: server.log.samples
		};
	} finally {
		chatter.close();
		child?.kill('SIGKILL');
		await server.stop();
	}
}

/** The normal figure for honest p99 latency while fuzzing: see README.md, "Reliability". */
export function latencyBound(baselineP99: number): number {
	return Math.max(2 * baselineP99, baselineP99 + 10);
}

/** Small files uploaded as `token`'s user, for messages to carry (or to forge). */
async function uploads(url: string, token: string, count: number): Promise<AttachmentRef[]> {
	const refs: AttachmentRef[] = [];
	for (let i = 0; i < count; i++) {
		const response = await fetch(`${url}/api/uploads?name=fuzz-${i}.bin`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream' }, body: `fuzz upload ${i} ${Math.random()}` });
		if (response.status !== 201) throw new Error(`upload failed: ${response.status} ${await response.text()}`);
		refs.push(((await response.json()) as { upload: AttachmentRef }).upload);
	}
	return refs;
}
