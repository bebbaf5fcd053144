import { TYPING_TTL_MS } from './protocol.ts';

/**
 * Who is typing in one conversation, as told by the server. Each signal lasts `ttl` unless renewed,
 * so a lost "stopped" (a closed laptop) still clears itself. The clock is injectable for tests.
 */
export class TypingTracker {
	#until = new Map<string, number>();

	constructor(
		private readonly ttl = TYPING_TTL_MS,
		private readonly now: () => number = Date.now
	) {}

	set(userId: string, active: boolean): void {
		if (active) this.#until.set(userId, this.now() + this.ttl);
		else this.#until.delete(userId);
	}

	/** The users typing right now, in the order they started. */
	active(): string[] {
		const now = this.now();
		for (const [userId, until] of this.#until) if (until <= now) this.#until.delete(userId);
		return [...this.#until.keys()];
	}

	/** Ms until the next signal expires, or null when nobody is typing. */
	nextExpiry(): number | null {
		const times = [...this.#until.values()];
		return times.length === 0 ? null : Math.max(0, Math.min(...times) - this.now());
	}
}

/**
 * When this client should tell the server it is typing: at the first keystroke (so others see it
 * within a round trip), then at most every `every` ms while keys keep coming.
 */
export class TypingSignal {
	#lastSent = -Infinity;
	#active = false;

	constructor(
		private readonly every = TYPING_TTL_MS / 2,
		private readonly now: () => number = Date.now
	) {}

	/** On a keystroke: true when a "typing" signal should go out now. */
	keystroke(): boolean {
		const now = this.now();
		if (this.#active && now - this.#lastSent < this.every) return false;
		this.#active = true;
		this.#lastSent = now;
		return true;
	}

	/** On send, clear or leaving: true when a "stopped" signal should go out. */
	stop(): boolean {
		const was = this.#active;
		this.#active = false;
		this.#lastSent = -Infinity;
		return was;
	}
}
