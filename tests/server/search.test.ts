import { ulid } from 'ulid';
import { beforeAll, describe, expect, it } from 'vitest';
import type { SearchPage } from '../../src/lib/shared/api-types.ts';
import { ftsQuery } from '../../src/lib/server/search.ts';
import { deleteForEveryone, editMessage, messageOf } from '../../src/lib/shared/conversation-doc.ts';
import { api, connectClient, createAccount, createConversation, waitFor, type Account } from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

describe('message search', () => {
	const server = useTestServer();
	let alice: Account;
	let bob: Account;
	let carol: Account;
	let group: string;
	let private_: string;

	const say = async (account: Account, conversationId: string, body: string) => {
		const response = await api<{ message: { id: string } }>(server.url, `/api/conversations/${conversationId}/messages`, { token: account.token, body: { body } });
		expect(response.status).toBe(201);
		return response.body.message.id;
	};
	const search = (account: Account, q: string, extra = '') =>
		api<SearchPage & { error?: { code: string } }>(server.url, `/api/search?q=${encodeURIComponent(q)}${extra}`, { token: account.token });
	const found = async (account: Account, q: string) => (await search(account, q)).body.results.map((r) => r.message.body);

	beforeAll(async () => {
		alice = await createAccount(server.url);
		bob = await createAccount(server.url);
		carol = await createAccount(server.url);
		group = await createConversation(server.url, alice, [bob, carol], 'Flat');
		private_ = await createConversation(server.url, alice, [bob], 'Just us');
	});


	it('[SEARCH-1] finds every word, the last as a prefix, newest first, with the matches marked in a snippet', async () => {
		await say(alice, group, 'The address is 12 Rue Lépine, flat 3');
		await say(bob, group, 'thanks, what is the address again?');
		await say(bob, private_, 'address of the party: 4 Elm Street');
		const page = await search(carol, 'addr');
		expect(page.status).toBe(200);
		expect(page.body.results.map((r) => r.message.body)).toEqual(['thanks, what is the address again?', 'The address is 12 Rue Lépine, flat 3']);
		expect(page.body.results[0]!.snippet).toContain('\u0002address\u0003');
		expect(page.body.results[0]!.conversationId).toBe(group);
		expect(await found(alice, 'address flat')).toEqual(['The address is 12 Rue Lépine, flat 3']);
		// Accents and case do not matter.
		expect(await found(alice, 'lepine')).toEqual(['The address is 12 Rue Lépine, flat 3']);
		expect(await found(alice, 'ADDRESS')).toHaveLength(3);
	});

	it('[SEARCH-1] pages with a cursor, without repeats or gaps', async () => {
		const ids: string[] = [];
		for (let i = 0; i < 7; i++) ids.push(await say(alice, private_, `pagination marker ${i}`));
		const seen: string[] = [];
		let cursor = '';
		for (let pages = 0; pages < 10; pages++) {
			const page = await search(alice, 'pagination marker', `&limit=3${cursor}`);
			seen.push(...page.body.results.map((r) => r.message.id));
			if (page.body.nextCursor === null) break;
			cursor = `&before=${page.body.nextCursor}`;
		}
		expect(seen).toEqual([...ids].reverse());
	});

	it('[SEARCH-1] only my conversations: not others’, and not one I was removed from', async () => {
		await say(alice, private_, 'secret plan for the birthday');
		expect(await found(carol, 'birthday')).toEqual([]);
		expect(await found(bob, 'birthday')).toEqual(['secret plan for the birthday']);
		await say(alice, group, 'carol will see this birthday note while a member');
		expect(await found(carol, 'birthday')).toEqual(['carol will see this birthday note while a member']);
		expect((await api(server.url, `/api/conversations/${group}/members/${carol.username}`, { method: 'DELETE', token: alice.token })).status).toBe(204);
		expect(await found(carol, 'birthday')).toEqual([]);
	});

	it('[SEARCH-1] an edit is found by its new words only; a deleted message not at all', async () => {
		const id = ulid();
		const stranger = `zebra${Date.now()}`;
		await api(server.url, `/api/conversations/${private_}/messages`, { token: alice.token, body: { id, body: `meet at the ${stranger} crossing` } });
		expect(await found(bob, stranger)).toHaveLength(1);
		// Edits and deletions come through the document.
		const c = connectClient(server.wsUrl, private_, alice.token);
		await c.synced;
		editMessage(c.doc, id, 'meet at the library');
		await waitFor(() => messageOf(c.doc, id)?.editedAt !== undefined, 5000, 'the edit');
		await waitFor(async () => (await found(bob, 'library')).length === 1, 5000, 'the edit in the index');
		expect(await found(bob, 'library')).toEqual(['meet at the library']);
		expect(await found(bob, stranger)).toEqual([]);
		deleteForEveryone(c.doc, id);
		await waitFor(async () => (await found(bob, 'library')).length === 0, 5000, 'the deletion out of the index');
		expect(await found(bob, 'library')).toEqual([]);
		c.destroy();
	});

	it('[SEARCH-1] a query without a word, or too long, is a clear 400; searching needs a session', async () => {
		for (const q of ['', '   ', '!!! ***', 'x'.repeat(201)]) {
			const response = await search(alice, q);
			expect(response.status).toBe(400);
			expect(response.body.error?.code).toBe('invalid-request');
		}
		expect((await search(alice, 'address', '&limit=0')).status).toBe(400);
		expect((await api(server.url, '/api/search?q=address')).status).toBe(401);
	});

	it('[SEARCH-1] what is typed is never read as FTS5 syntax', () => {
		expect(ftsQuery('a OR b NEAR(c) "d" e*')).toBe('"a" "OR" "b" "NEAR" "c" "d" "e"*');
		expect(ftsQuery('-- ;')).toBeNull();
	});
});
