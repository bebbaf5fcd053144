/** How long a user whose frame was refused waits behind everyone else (each refusal starts it again). */
export const SUSPECT_MS = 30_000;
/** Frames or bytes one socket may have waiting before its socket stops being read (nothing is dropped). */
const WAITING_FRAMES = 64;
const WAITING_BYTES = 1024 * 1024;

/** One socket as the line sees it. */
export interface Sender {
	/** Stops and restarts reading the socket (TCP back-pressure). */
	pause(): void;
	resume(): void;
	/** Hands a frame on. */
	forward(frame: Buffer, isBinary: boolean): void;
}

interface Waiting {
	frames: Array<{ frame: Buffer; isBinary: boolean }>;
	bytes: number;
	paused: boolean;
}

/**
 * Frames of users whose frames were refused recently (an honest client never is: GUARD-2) wait
 * behind everyone else's: they are handed on one per turn of the event loop, round-robin across
 * sockets, so anything other users send in the meantime goes first. A socket with many frames
 * waiting is no longer read until they drain. Nothing is dropped and a socket's frames keep their
 * order; when the server has time to spare, the wait is one turn.
 */
export class BackOfTheLine {
	readonly #suspects = new Map<string, number>();
	readonly #waiting = new Map<Sender, Waiting>();
	#scheduled = false;

	constructor(private readonly now: () => number = Date.now) {}

	/** Puts a user at the back of the line for a while. */
	suspect(userId: string): void {
		this.#suspects.set(userId, this.now() + SUSPECT_MS);
	}

	isSuspect(userId: string | null): boolean {
		if (userId === null) return false;
		const until = this.#suspects.get(userId);
		if (until === undefined) return false;
		if (until > this.now()) return true;
		this.#suspects.delete(userId);
		return false;
	}

	/** Hands the frame on now, or queues it (a suspect's, or behind frames of the same socket still waiting). */
	offer(sender: Sender, userId: string | null, frame: Buffer, isBinary: boolean): void {
		const waiting = this.#waiting.get(sender);
		if (!waiting && !this.isSuspect(userId)) {
			sender.forward(frame, isBinary);
			return;
		}
		const line = waiting ?? { frames: [], bytes: 0, paused: false };
		if (!waiting) this.#waiting.set(sender, line);
		line.frames.push({ frame, isBinary });
		line.bytes += frame.byteLength;
		if (!line.paused && (line.frames.length >= WAITING_FRAMES || line.bytes >= WAITING_BYTES)) {
			line.paused = true;
			sender.pause();
		}
		this.#schedule();
	}

	/** The socket closed: its waiting frames go nowhere. */
	forget(sender: Sender): void {
		this.#waiting.delete(sender);
	}

	/** Frames waiting, over all sockets (for tests and monitoring). */
	get waiting(): number {
		let count = 0;
		for (const line of this.#waiting.values()) count += line.frames.length;
		return count;
	}

	#schedule(): void {
		if (this.#scheduled || this.#waiting.size === 0) return;
		this.#scheduled = true;
		setImmediate(() => {
			this.#scheduled = false;
			this.#handOnOne();
			this.#schedule();
		});
	}

	/** The socket first in line hands on one frame and goes to the back. */
	#handOnOne(): void {
		const next = this.#waiting.entries().next();
		if (next.done) return;
		const [sender, line] = next.value;
		this.#waiting.delete(sender);
		const { frame, isBinary } = line.frames.shift()!;
		line.bytes -= frame.byteLength;
		if (line.frames.length > 0) this.#waiting.set(sender, line);
		if (line.paused && line.frames.length <= WAITING_FRAMES / 2 && line.bytes <= WAITING_BYTES / 2) {
			line.paused = false;
			sender.resume();
		}
		sender.forward(frame, isBinary);
	}
}
