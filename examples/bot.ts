/**
 * An echo bot: answers every new message from someone else in each of its conversations.
 *
 *   CHAT_URL=http://localhost:3000 BOT_USERNAME=echo_bot BOT_PASSWORD='a long password' \
 *     node --import tsx examples/bot.ts
 *
 * It signs up on first run, gets a bearer token, and joins the conversations it is a member of
 * (start a direct conversation with "echo_bot" to talk to it). See docs/protocol.md.
 */
import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { ulid } from 'ulid';
import WebSocket from 'ws';
import * as Y from 'yjs';
import { messagesMap, seqMap, writeMessage } from '../src/lib/shared/conversation-doc.ts';
import { conversationDocName, decodeServerStateless, SYNC_PATH } from '../src/lib/shared/protocol.ts';

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

const { token, userId } = await login();
const socket = new HocuspocusProviderWebsocket({ url: base.replace(/^http/, 'ws') + SYNC_PATH, WebSocketPolyfill: WebSocket });
const joined = new Map<string, HocuspocusProvider>();

function join(conversationId: string): void {
	if (joined.has(conversationId)) return;
	const doc = new Y.Doc();
	const provider = new HocuspocusProvider({
		websocketProvider: socket,
		name: conversationDocName(conversationId),
		document: doc,
		token,
		onAuthenticationFailed: ({ reason }) => console.error(`refused ${conversationId}: ${reason}`),
		onStateless: ({ payload }) => {
			const refusal = decodeServerStateless(payload);
			if (refusal?.type === 'update-refused') console.error(`update refused (${refusal.code}): ${refusal.message}`);
		}
	});
	provider.attach();
	joined.set(conversationId, provider);
	let ready = false;
	provider.on('synced', () => (ready = true));
	// Answer once the server has acknowledged a message (its sequence number arrived), never our own.
	seqMap(doc).observe((event) => {
		if (!ready) return;
		for (const id of event.keysChanged) {
			const message = messagesMap(doc).get(id);
			if (!message || message.author === userId) continue;
			writeMessage(doc, { id: ulid(), author: userId, body: `echo: ${message.body}`.slice(0, 2000) });
		}
	});
	console.log(`joined ${conversationId}`);
}

async function refresh(): Promise<void> {
	const response = await fetch(`${base}/api/conversations`, { headers: { authorization: `Bearer ${token}` } });
	const { conversations } = (await response.json()) as { conversations: Array<{ id: string }> };
	for (const conversation of conversations) join(conversation.id);
}

await refresh();
setInterval(() => void refresh().catch((error: unknown) => console.error(error)), 5000);
console.log(`${username} is listening on ${base}`);
