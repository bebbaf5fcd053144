/**
 * An echo bot: answers every new message from someone else in each of its conversations.
 *
 *   CHAT_URL=http://localhost:3000 BOT_USERNAME=echo_bot BOT_PASSWORD='a long password' \
 *     node --import tsx examples/bot.ts
 *
 * It signs up on first run, gets a bearer token, and joins the conversations it is a member of
 * (start a direct conversation with "echo_bot" to talk to it). See docs/protocol.md.
 *
 * A conversation's document holds only its current epoch. When an epoch ends, the bot opens the
 * next epoch's document and writes there the echoes the server had not acknowledged yet (EPOCH-3).
 */
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { ulid } from 'ulid';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { carryInto, messageOf, seqMap, unacknowledged, writeMessage } from '../src/lib/shared/conversation-doc.ts';
import { CloseReason, conversationDocName, decodeServerStateless, SYNC_PATH, type MessageValue } from '../src/lib/shared/protocol.ts';

const base = process.env.CHAT_URL ?? 'http://localhost:3000';
const username = process.env.BOT_USERNAME ?? 'echo_bot';
const password = process.env.BOT_PASSWORD ?? 'echo bot password';

async function post<T>(path: string, body: unknown, token?: string): Promise<{ status: number; body: T }> {
	const response = await fetch(base + path, {
		method: 'POST',
		headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
		body: JSON.stringify(body)
	});
	return { status: response.status, body: (await response.json()) as T };
}

async function login(): Promise<{ token: string; userId: string }> {
	let issued = await post<{ token: string }>('/api/auth/tokens', { username, password });
	if (issued.status === 401) {
		await post('/api/auth/signup', { username, password, displayName: 'Echo bot' });
		issued = await post<{ token: string }>('/api/auth/tokens', { username, password });
	}
	if (issued.status !== 201) throw new Error(`could not log in: ${JSON.stringify(issued.body)}`);
	const me = await fetch(`${base}/api/me`, { headers: { authorization: `Bearer ${issued.body.token}` } });
	const { user } = (await me.json()) as { user: { id: string } };
	return { token: issued.body.token, userId: user.id };
}

async function get<T>(path: string): Promise<T> {
	const response = await fetch(base + path, { headers: { authorization: `Bearer ${token}` } });
	if (!response.ok) throw new Error(`GET ${path}: ${response.status}`);
	return (await response.json()) as T;
}

/** What the conversation list says of a conversation: its current epoch, and its newest message when listed. */
interface Summary {
	id: string;
	epoch: number;
	lastMessage: { seq: number } | null;
}

/** A conversation the bot is in: the document of the epoch it has open, and how far it has answered. */
interface Joined {
	id: string;
	epoch: number;
	doc: Y.Doc;
	provider: HocuspocusProvider;
	/**
	 * The highest sequence number seen: only messages above it are new. Sequence numbers run across
	 * epochs, so a message of an ended epoch written again into the current one (an edit, or a
	 * device that missed its acknowledgement) keeps its old number and is not answered twice.
	 */
	answeredUpTo: number;
}

const { token, userId } = await login();
const socket = new HocuspocusProviderWebsocket({ url: base.replace(/^http/, 'ws') + SYNC_PATH, WebSocketPolyfill: WebSocket });
const joined = new Map<string, Joined>();

/** Joins a listed conversation, or moves to its current epoch if that one is newer than the bot's. */
function join(summary: Summary): void {
	const conversation = joined.get(summary.id);
	if (conversation) {
		moveTo(conversation, summary.epoch);
		return;
	}
	// Everything sequenced before the bot joined is old: it answers what comes after.
	const fresh = { id: summary.id, epoch: summary.epoch, answeredUpTo: summary.lastMessage?.seq ?? 0 };
	joined.set(summary.id, { ...fresh, ...open(fresh, []) });
	console.log(`joined ${summary.id}`);
}

/** Opens a conversation's epoch in a fresh document holding `carried`, the echoes not acknowledged in the one before. */
function open(conversation: Pick<Joined, 'id' | 'epoch'>, carried: MessageValue[]): Pick<Joined, 'doc' | 'provider'> {
	const doc = new Y.Doc();
	carryInto(doc, carried);
	const provider = new HocuspocusProvider({
		websocketProvider: socket,
		name: conversationDocName(conversation.id, conversation.epoch),
		document: doc,
		token,
		onAuthenticationFailed: ({ reason }) => {
			if (reason === CloseReason.EpochEnded) void follow(conversation.id);
			else console.error(`refused ${conversation.id}: ${reason}`);
		},
		onClose: ({ event }) => {
			if (event.reason === CloseReason.EpochEnded) void follow(conversation.id);
		},
		onStateless: ({ payload }) => {
			const message = decodeServerStateless(payload);
			if (message?.type === 'update-refused') console.error(`update refused (${message.code}): ${message.message}`);
			if (message?.type === 'epoch-ended') moveTo(joined.get(conversation.id)!, message.epoch);
		}
	});
	provider.attach();
	// Answer once the server has acknowledged a message (its sequence number arrived), never our own.
	seqMap(doc).observe((event) => answer(joined.get(conversation.id)!, doc, event.keysChanged));
	return { doc, provider };
}

/** Echoes every message from someone else that is new: above the highest sequence number seen, in order. */
function answer(conversation: Joined, doc: Y.Doc, ids: Iterable<string>): void {
	const seqs = seqMap(doc);
	const fresh = [...ids].filter((id) => (seqs.get(id) ?? 0) > conversation.answeredUpTo).sort((a, b) => seqs.get(a)! - seqs.get(b)!);
	for (const id of fresh) {
		conversation.answeredUpTo = Math.max(conversation.answeredUpTo, seqs.get(id)!);
		const message = messageOf(doc, id);
		if (!message || message.author === userId || message.event) continue;
		writeMessage(doc, { id: ulid(), author: userId, body: `echo: ${message.body}`.slice(0, 2000) });
	}
}

/** The epoch ended (EPOCH-3): open the new one, carrying the echoes the server has not acknowledged. */
function moveTo(conversation: Joined, epoch: number): void {
	if (epoch <= conversation.epoch) return;
	const carried = unacknowledged(conversation.doc, userId);
	conversation.provider.destroy();
	conversation.doc.destroy();
	conversation.epoch = epoch;
	Object.assign(conversation, open(conversation, carried));
	console.log(`${conversation.id} moved to epoch ${epoch}`);
}

/** A refusal or close said the epoch ended without naming the next one: the conversation says which is current. */
async function follow(conversationId: string): Promise<void> {
	try {
		const { conversation } = await get<{ conversation: { epoch: number } }>(`/api/conversations/${conversationId}`);
		moveTo(joined.get(conversationId)!, conversation.epoch);
	} catch (error) {
		console.error(error); // the next refresh moves it
	}
}

async function refresh(): Promise<void> {
	const { conversations } = await get<{ conversations: Summary[] }>('/api/conversations');
	for (const conversation of conversations) join(conversation);
}

await refresh();
setInterval(() => void refresh().catch((error: unknown) => console.error(error)), 5000);
console.log(`${username} is listening on ${base}`);
