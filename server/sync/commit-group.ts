import type { Db } from '../../src/lib/server/db/index.ts';
import { reportFailure } from '../../src/lib/server/failure.ts';

/** What the group asks of each conversation with updates waiting (see `LiveConversation`). */
export interface GroupMember {
	/** Takes the queued updates; false when there is nothing to commit. */
	beginFlush(): boolean;
	/** Inside the member's Yjs transaction: admits its updates, runs `deeper`, applies what was committed. */
	flushWithin(deeper: () => void): void;
	/** Inside the group's SQLite transaction. */
	writeFlush(): void;
	/** The group's commit failed. */
	commitFailed(error: unknown): void;
	/** Settles the member's submissions. */
	endFlush(): void;
	/** Something failed outside the member's own checks: reload the document, send its batch back. */
	abortFlush(error: unknown): void;
}

/** Conversations in one commit at most (each nests one Yjs transaction on the stack). */
const MAX_MEMBERS = 256;

/**
 * Group commit across conversations: every conversation that received updates during a turn of the
 * event loop is committed in one SQLite transaction, so the turn costs one fsync, not one per
 * conversation. Each conversation's Yjs transaction stays open around the commit (they nest), so no
 * member of any of them is sent anything before it is on disk; one conversation's failed write
 * rolls back to its savepoint and reloads that conversation alone; a failed commit reloads them all.
 */
export class CommitGroup {
	readonly #waiting = new Set<GroupMember>();
	/** Small writes that ride along the next commit (clientID bindings), each with its promise. */
	#extras: Array<{ write: () => void; settle: (error: unknown) => void }> = [];
	#scheduled = false;

	constructor(private readonly db: Db) {}

	/** The member has updates waiting: it is committed with the others in the next turn. */
	request(member: GroupMember): void {
		this.#waiting.add(member);
		this.#schedule();
	}

	/**
	 * Runs `write` inside the next turn's transaction, in a savepoint of its own (its failure is its
	 * own), so a thousand sockets opening at once cost one fsync a turn, not one each; settles once
	 * that transaction is committed.
	 */
	include(write: () => void): Promise<void> {
		return new Promise((resolve, reject) => {
			this.#extras.push({ write, settle: (error) => (error === undefined ? resolve() : reject(error)) });
			this.#schedule();
		});
	}

	#schedule(): void {
		if (this.#scheduled) return;
		this.#scheduled = true;
		setImmediate(() => this.#run());
	}

	#run(): void {
		this.#scheduled = false;
		const taken = [...this.#waiting].slice(0, MAX_MEMBERS);
		for (const member of taken) this.#waiting.delete(member);
		const extras = this.#extras;
		this.#extras = [];
		if (this.#waiting.size > 0) this.#schedule();
		const members = taken.filter((member) => member.beginFlush());
		if (members.length === 0 && extras.length === 0) return;
		const failed = new Map<(typeof extras)[number], unknown>();
		let committed = false;
		const commit = () => {
			try {
				// IMMEDIATE: take the write lock up front (waiting for the compactor's short write if need be).
				this.db.transaction(() => {
					for (const extra of extras) {
						try {
							this.db.transaction(extra.write);
						} catch (error) {
							failed.set(extra, error);
						}
					}
					for (const member of members) member.writeFlush();
				}, { behavior: 'immediate' });
				committed = true;
			} catch (error) {
				for (const extra of extras) failed.set(extra, error);
				for (const member of members) member.commitFailed(error);
			}
		};
		const nest = (index: number): void => {
			if (index === members.length) commit();
			else members[index]!.flushWithin(() => nest(index + 1));
		};
		try {
			nest(0);
		} catch (error) {
			// Not expected (each member catches its own failures); every batch still settles.
			reportFailure('group commit failed', error);
			for (const member of members) member.abortFlush(error);
		} finally {
			for (const member of members) member.endFlush();
			for (const extra of extras) extra.settle(committed ? failed.get(extra) : (failed.get(extra) ?? new Error('the group commit did not run')));
		}
	}
}
