import type { HistoryCache, HistoryRow } from '$lib/client/history-cache';
import { HISTORY_PAGE_MAX } from '$lib/shared/limits';

/**
 * The messages of a conversation's ended epochs that a device shows: one run of history rows
 * without gaps, ending right before the current epoch's first sequence number. It grows at the top
 * a page at a time (from the device when it holds the page whole, else from the server), and moves
 * on with the epoch; a run that no longer reaches the new epoch is dropped rather than shown with a hole.
 * A page shown from the device is asked of the server too: its messages may have been edited or
 * deleted for everyone since the device stored them.
 */
export class OlderHistory {
	/** Oldest first. */
	rows: HistoryRow[] = [];
	#loading: Promise<number> | null = null;

	constructor(
		private readonly cache: HistoryCache,
		readonly conversationId: string,
		/** The current epoch's first sequence number: the run ends right before it. */
		public end: number,
		/** Rows changed after the call that added them returned (the server's copy of a page shown from the device). */
		private readonly onRevalidated: () => void = () => {}
	) {}

	/** The lowest sequence number shown (the epoch's first when no history is). */
	get oldest(): number {
		return this.rows[0]?.seq ?? this.end;
	}

	get hasOlder(): boolean {
		return this.oldest > 1;
	}

	/** The epoch moved on to `end`: `archived` (the ended document's messages) joins the run if it connects. */
	moveEnd(end: number, archived: HistoryRow[]): void {
		this.end = Math.max(this.end, end);
		void this.cache.put(archived);
		this.rows = runEndingAt([...this.rows, ...archived], this.end);
	}

	/** At least `count` rows when there are as many: what the device has at once, then the server's (which brings edits too). */
	async fill(count: number): Promise<void> {
		if (this.rows.length >= count || !this.hasOlder) return;
		const end = this.end;
		this.#merge(end, await this.cache.page(this.conversationId, end, count));
		const fresh = await this.cache.fetch(this.conversationId, end, Math.max(count, this.rows.length)).catch(() => null);
		if (fresh) this.#merge(end, fresh);
	}

	/**
	 * The server's copy of the newest `count` rows before the end (at most one page), replacing what
	 * the device had: after an epoch ended, the device's own copy of it may be stale. Offline: nothing.
	 */
	async refreshRecent(count: number): Promise<void> {
		if (count <= 0 || !this.hasOlder) return;
		const end = this.end;
		const fresh = await this.cache.fetch(this.conversationId, end, Math.min(count, HISTORY_PAGE_MAX)).catch(() => null);
		if (fresh) this.#merge(end, fresh);
	}

	/** The page just older than the run; resolves with the number of rows added. */
	older(limit: number): Promise<number> {
		this.#loading ??= this.#loadOlder(limit).finally(() => (this.#loading = null));
		return this.#loading;
	}

	async #loadOlder(limit: number): Promise<number> {
		const before = this.oldest;
		if (before <= 1) return 0;
		let page = await this.cache.page(this.conversationId, before, limit);
		const whole = page.length === limit || page[0]?.seq === 1;
		if (!whole) page = await this.cache.fetch(this.conversationId, before, limit).catch(() => page);
		const count = this.rows.length;
		if (before === this.oldest) this.#merge(this.end, page);
		if (whole) void this.#revalidate(before, limit);
		return this.rows.length - count;
	}

	/**
	 * After a reconnect: the server's copy of every row shown, a page at a time from the newest. Pages
	 * shown while offline kept the device's copy, and edits and deletions may have come meanwhile.
	 */
	async revalidateShown(): Promise<void> {
		const end = this.end;
		let before = end;
		while (this.end === end && before > this.oldest) {
			const fetched = await this.#revalidate(before, Math.min(HISTORY_PAGE_MAX, before - this.oldest));
			if (!fetched?.length) return;
			before = fetched[0]!.seq;
		}
	}

	/**
	 * The server's copy of a page shown from the device: edits and deletions made since replace it
	 * (offline, the device's stays). Resolves with the server's rows (oldest first), or null when it
	 * could not be asked or the epoch moved on.
	 */
	async #revalidate(before: number, limit: number): Promise<HistoryRow[] | null> {
		const end = this.end;
		const fresh = await this.cache.fetch(this.conversationId, before, limit).catch(() => null);
		if (!fresh || end !== this.end) return null;
		// Rows shown now may be fresher than this answer (another fetch merged meanwhile): never step back.
		const shown = new Map(this.rows.map((row) => [row.seq, row]));
		const changed = new Map<number, HistoryRow>();
		for (const row of fresh) {
			const old = shown.get(row.seq);
			if (!old || (old.deletedAt !== null && row.deletedAt === null) || (row.editedAt ?? 0) < (old.editedAt ?? 0)) continue;
			if (JSON.stringify(old) !== JSON.stringify({ ...old, ...row })) changed.set(row.seq, row);
		}
		if (changed.size > 0) {
			this.rows = this.rows.map((row) => changed.get(row.seq) ?? row);
			this.onRevalidated();
		}
		return fresh;
	}

	#merge(end: number, rows: HistoryRow[]): void {
		if (end !== this.end) return; // the epoch moved on meanwhile
		this.rows = runEndingAt([...this.rows, ...rows], end);
	}
}

/** The rows forming one run without gaps that ends right before `end` (later copies of a seq win). */
export function runEndingAt(rows: HistoryRow[], end: number): HistoryRow[] {
	const bySeq = new Map<number, HistoryRow>();
	for (const row of rows) if (row.seq < end) bySeq.set(row.seq, row);
	const run: HistoryRow[] = [];
	for (let seq = end - 1; bySeq.has(seq); seq--) run.push(bySeq.get(seq)!);
	return run.reverse();
}
