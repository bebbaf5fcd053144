import { monotonicFactory } from 'ulid';
import { writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { EpochClient } from '../utils/epoch-client.ts';
import { api, type Account } from '../utils/server.ts';
import type { Person } from './helpers.ts';

const nextId = monotonicFactory();

/** A bearer token and id for someone who signed up in the browser (same password as `signUp`). */
export async function accountOf(url: string, person: Person): Promise<Account> {
	const token = await api<{ token: string }>(url, '/api/auth/tokens', { body: { username: person.username, password: 'correct horse battery' } });
	const me = await api<{ user: { id: string } }>(url, '/api/me', { token: token.body.token });
	return { id: me.body.user.id, username: person.username, token: token.body.token };
}

/**
 * Writes `bodies` as `author` through a real sync client (following the conversation's epochs),
 * in batches, and waits until the server has given each a sequence number. `createdAt` starts at
 * `since` and moves a minute per message.
 */
export async function writeMessages(url: string, wsUrl: string, conversationId: string, author: Account, bodies: string[], since = Date.now() - bodies.length * 60_000): Promise<void> {
	const { body } = await api<{ conversation: { epoch: number } }>(url, `/api/conversations/${conversationId}`, { token: author.token });
	const client = new EpochClient(url, wsUrl, conversationId, author, body.conversation.epoch);
	client.connect();
	try {
		for (let i = 0; i < bodies.length; i += 200) {
			const ids: string[] = [];
			client.doc.transact(() => {
				bodies.slice(i, i + 200).forEach((text, j) => {
					const id = nextId();
					ids.push(id);
					writeMessage(client.doc, { id, author: author.id, body: text, createdAt: since + (i + j) * 60_000 });
				});
			});
			await client.whenAcked(ids, 30_000);
		}
	} finally {
		client.destroy();
	}
}

/** Moves `reader`'s read marker to `seq`, as reading on another device would. */
export async function readUpTo(url: string, conversationId: string, reader: Account, seq: number): Promise<void> {
	const response = await api(url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: reader.token, body: { seq } });
	if (response.status !== 200) throw new Error(`read failed: ${response.status}`);
}
