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
	#scheduled = false;

	constructor(private readonly db: Db) {}

	/** The member has updates waiting: it is committed with the others in the next turn. */
	request(member: GroupMember): void {
		this.#waiting.add(member);
		if (this.#scheduled) return;
		this.#scheduled = true;
		setImmediate(() => this.#run());
	}

	#run(): void {
		this.#scheduled = false;
		const taken = [...this.#waiting].slice(0, MAX_MEMBERS);
		for (const member of taken) this.#waiting.delete(member);
		if (this.#waiting.size > 0) {
			this.#scheduled = true;
			setImmediate(() => this.#run());
		}
		const members = taken.filter((member) => member.beginFlush());
		if (members.length === 0) return;
		const commit = () => {
			try {
				// IMMEDIATE: take the write lock up front (waiting for the compactor's short write if need be).
				this.db.transaction(() => {
					for (const member of members) member.writeFlush();
				}, { behavior: 'immediate' });
			} catch (error) {
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
		}
	}
}
