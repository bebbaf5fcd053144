import { reportFailure } from '../../src/lib/server/failure.ts';

/**
 * Collects work for a short window and hands it over in one go: the first item opens the window,
 * and `run` gets everything that came in before it closed. A group of 100 members sends 200
 * receipts for one message; one window turns them into one commit and one frame per connection.
 */
export class CoalescingWindow<T> {
	#items: T[] = [];
	#timer: ReturnType<typeof setTimeout> | undefined;

	constructor(
		private readonly ms: number,
		private readonly run: (items: T[]) => void
	) {}

	add(item: T): void {
		this.#items.push(item);
		if (this.#timer !== undefined) return;
		this.#timer = setTimeout(() => this.flush(), this.ms);
		this.#timer.unref?.();
	}

	/** Runs what is waiting now. */
	flush(): void {
		clearTimeout(this.#timer);
		this.#timer = undefined;
		const items = this.#items;
		this.#items = [];
		if (items.length === 0) return;
		try {
			this.run(items);
		} catch (error) {
			// Runs from a timer: a failure (the database, say) is reported, never left to crash the process.
			reportFailure('a coalesced batch failed', error);
		}
	}
}
