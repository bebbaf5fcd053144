import * as decoding from 'lib0/decoding';
import * as encoding from 'lib0/encoding';

/** Largest awareness state (its JSON text) a client may publish. */
export const AWARENESS_STATE_MAX_CHARS = 2048;
/** ClientIDs one awareness frame may bind to its user; a provider names one of its own. */
export const AWARENESS_NEW_CLIENTS_MAX = 4;
/**
 * ClientIDs one connection may hold states for (a provider holds one): every new connection to the
 * document is sent all states, so their number must follow the number of connections.
 */
export const AWARENESS_CLIENTS_PER_CONNECTION_MAX = 4;

interface Entry {
	clientId: number;
	clock: number;
	state: string;
}

export type AwarenessVerdict =
	/** `update` holds only the user's own entries; `newClients` are to be bound to the user. */
	| { ok: true; update: Uint8Array; newClients: number[] }
	| { ok: false; message: string };

/**
 * Keeps a user's own entries of an awareness update (y-protocols encoding). Entries for other
 * users' clientIDs are dropped, not refused: providers re-send the states they relay, renew or
 * time out. An over-large state, or more new clientIDs than a device uses, is refused.
 */
export function filterAwareness(
	update: Uint8Array,
	ownerOf: (clientId: number) => string | null | undefined,
	userId: string,
	/** The clientIDs the connection already holds states for. */
	held: ReadonlySet<number> = new Set()
): AwarenessVerdict {
	const entries: Entry[] = [];
	const decoder = decoding.createDecoder(update);
	const count = decoding.readVarUint(decoder);
	for (let i = 0; i < count; i++) {
		entries.push({ clientId: decoding.readVarUint(decoder), clock: decoding.readVarUint(decoder), state: decoding.readVarString(decoder) });
	}
	const own: Entry[] = [];
	const newClients: number[] = [];
	for (const entry of entries) {
		const owner = ownerOf(entry.clientId);
		if (owner !== undefined && owner !== userId) continue;
		if (entry.state.length > AWARENESS_STATE_MAX_CHARS) return { ok: false, message: `awareness states are at most ${AWARENESS_STATE_MAX_CHARS} characters` };
		if (owner === undefined && !newClients.includes(entry.clientId)) newClients.push(entry.clientId);
		own.push(entry);
	}
	if (newClients.length > AWARENESS_NEW_CLIENTS_MAX) return { ok: false, message: 'the awareness update names too many new clientIDs' };
	const holding = new Set(held);
	for (const entry of own) if (entry.state !== 'null') holding.add(entry.clientId);
	if (holding.size > AWARENESS_CLIENTS_PER_CONNECTION_MAX) return { ok: false, message: 'a connection holds too many awareness states' };
	const encoder = encoding.createEncoder();
	encoding.writeVarUint(encoder, own.length);
	for (const entry of own) {
		encoding.writeVarUint(encoder, entry.clientId);
		encoding.writeVarUint(encoder, entry.clock);
		encoding.writeVarString(encoder, entry.state);
	}
	return { ok: true, update: encoding.toUint8Array(encoder), newClients };
}
