import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import { messagesMap, seqMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { CloseReason } from '../../src/lib/shared/protocol.ts';
import {
	api,
	connectClient,
	createAccount,
	createConversation,
	waitFor,
	type Account
} from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

describe('a document that stops matching the database is rebuilt, never served', () => {
	const server = useTestServer();
	let alice: Account;
	let bob: Account;

	beforeAll(async () => {
		[alice, bob] = await Promise.all([createAccount(server.url), createAccount(server.url)]);
	});

	it('[GUARD-4] a failed commit closes the document before anyone sees the update, and the message is stored once after the reload', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Disk trouble');
		const a = connectClient(server.wsUrl, conversationId, alice.token);
		const b = connectClient(server.wsUrl, conversationId, bob.token);
		await Promise.all([a.synced, b.synced]);
		const sqlite = server.app.core.db.$client;
		// The disk refuses this one message's row: the commit of its batch fails after Yjs applied it.
		sqlite.exec(`CREATE TRIGGER refuse_boom BEFORE INSERT ON messages WHEN NEW.body = 'boom' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END;`);
		const boom = ulid();
		const seenByBob: string[] = [];
		messagesMap(b.doc).observe((event) => {
			for (const key of event.keysChanged) seenByBob.push(key);
		});
		writeMessage(a.doc, { id: boom, author: alice.id, body: 'boom' });
		await waitFor(() => a.refusals.includes(CloseReason.Reloading), 5000, 'the reload close');
		expect(seenByBob).not.toContain(boom);
		expect(a.rejected).toEqual([]);
		sqlite.exec('DROP TRIGGER refuse_boom');
		// As the web app does on a retryable close: a fresh socket (the old one cannot reopen a closed document), which resends what was never acknowledged.
		await waitFor(() => b.refusals.includes(CloseReason.Reloading), 5000, 'the other member\'s reload close');
		for (const client of [a, b]) {
			client.socket.disconnect();
			await waitFor(() => client.socket.status === 'disconnected', 5000, 'the old socket to close');
			void client.socket.connect();
		}
		await waitFor(() => seqMap(b.doc).has(boom) && seqMap(a.doc).has(boom), 10_000, 'the message after the reload');
		const history = await api<{ messages: Array<{ id: string; body: string }> }>(server.url, `/api/conversations/${conversationId}/messages`, {
			token: bob.token
		});
		expect(history.body.messages.filter((m) => m.id === boom)).toEqual([expect.objectContaining({ body: 'boom' })]);
		const later = ulid();
		writeMessage(b.doc, { id: later, author: bob.id, body: 'still here' });
		await waitFor(() => seqMap(a.doc).get(later) === seqMap(a.doc).get(boom)! + 1, 5000, 'the next message');
		a.destroy();
		b.destroy();
	});
});
