/** Tick states of a message, from the members' receipt markers. Pure: shared by client, server and tests. */

export type Tick = 'sent' | 'delivered' | 'read';

export interface Markers {
	id: string;
	deliveredSeq: number;
	readSeq: number;
}

/**
 * ✓ sent (the message has a sequence number), ✓✓ delivered (every other member has it on a device),
 * read (every other member has read it). In a group, `readBy` names who has read it so far.
 */
export function tickFor(seq: number, authorId: string, members: Markers[]): { tick: Tick; readBy: string[]; deliveredTo: string[] } {
	const others = members.filter((m) => m.id !== authorId);
	const readBy = others.filter((m) => m.readSeq >= seq).map((m) => m.id);
	const deliveredTo = others.filter((m) => m.deliveredSeq >= seq || m.readSeq >= seq).map((m) => m.id);
	if (others.length === 0) return { tick: 'sent', readBy, deliveredTo };
	const tick: Tick = readBy.length === others.length ? 'read' : deliveredTo.length === others.length ? 'delivered' : 'sent';
	return { tick, readBy, deliveredTo };
}

/** Markers only move forward: merging two views of them keeps the larger of each. */
export function mergeMarkers<T extends Markers>(known: T, incoming: { deliveredSeq: number; readSeq: number }): T {
	return {
		...known,
		deliveredSeq: Math.max(known.deliveredSeq, incoming.deliveredSeq, incoming.readSeq),
		readSeq: Math.max(known.readSeq, incoming.readSeq)
	};
}
