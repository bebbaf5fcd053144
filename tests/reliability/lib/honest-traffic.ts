/**
 * Honest conversations for the fuzzer, run as their own process so that the fuzzer's work does
 * not delay their measurements: in each conversation one member writes a message every
 * `intervalMs` through a stock provider and another member's provider receives it; the time from
 * write to receipt is recorded under the current phase (the parent switches phases over IPC).
 * Both are reliability devices, so they follow the conversation's epochs (EPOCH-3): a message
 * written as an epoch ends arrives through the next one, its latency counting the move.
 */
import { performance } from 'node:perf_hooks';
import { ulid } from 'ulid';
import { Device, type Endpoint } from './device.ts';

export interface HonestPair {
	conversationId: string;
	writer: { id: string; token: string };
	reader: { id: string; token: string };
}

export type ParentMessage =
	| { type: 'start'; server: Endpoint; pairs: HonestPair[]; intervalMs: number }
	| { type: 'phase'; phase: string }
	| { type: 'report' }
	| { type: 'stop' };

export interface PhaseFigures {
	count: number;
	p50: number;
	p99: number;
	max: number;
	/** Messages written in the phase that never arrived (checked at report time, after a grace period). */
	missing: number;
}

export function percentile(sorted: number[], p: number): number {
	if (sorted.length === 0) return NaN;
	return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

if (process.send) {
	let phase = 'warmup';
	const sent = new Map<string, { at: number; phase: string }>();
	const latencies = new Map<string, number[]>();
	const closers: Array<() => void> = [];
	let timers: Array<ReturnType<typeof setInterval>> = [];

	process.on('message', (message: ParentMessage) => {
		if (message.type === 'start') {
			for (const pair of message.pairs) {
				const writer = new Device('honest writer', pair.writer.id, pair.writer.token, pair.conversationId);
				const reader = new Device('honest reader', pair.reader.id, pair.reader.token, pair.conversationId, {
					onMessage(id) {
						const write = sent.get(id);
						if (!write) return;
						sent.delete(id);
						if (!latencies.has(write.phase)) latencies.set(write.phase, []);
						latencies.get(write.phase)!.push(performance.now() - write.at);
					}
				});
				void writer.connect(message.server);
				void reader.connect(message.server);
				closers.push(() => writer.disconnect(), () => reader.disconnect());
				// Spread the writers over the interval.
				setTimeout(() => {
					timers.push(
						setInterval(() => {
							const id = ulid();
							sent.set(id, { at: performance.now(), phase });
							writer.write({ id, author: pair.writer.id, body: `honest ${id.slice(-6)}`, createdAt: Date.now() });
						}, message.intervalMs)
					);
				}, Math.random() * message.intervalMs);
			}
			process.send!({ type: 'started' });
		} else if (message.type === 'phase') {
			phase = message.phase;
			process.send!({ type: 'phase' });
		} else if (message.type === 'report') {
			const phases: Record<string, PhaseFigures> = {};
			const names = new Set([...latencies.keys(), ...[...sent.values()].map((s) => s.phase)]);
			for (const name of names) {
				const sorted = [...(latencies.get(name) ?? [])].sort((a, b) => a - b);
				const missing = [...sent.values()].filter((s) => s.phase === name && performance.now() - s.at > 5000).length;
				phases[name] = { count: sorted.length, p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? NaN, missing };
			}
			process.send!({ type: 'report', phases });
		} else if (message.type === 'stop') {
			for (const timer of timers) clearInterval(timer);
			timers = [];
			for (const close of closers) close();
			process.send!({ type: 'stopped' });
			setTimeout(() => process.exit(0), 100);
		}
	});
}
