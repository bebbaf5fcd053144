import { ulid } from 'ulid';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listConversations, summariesFor } from '../../src/lib/server/conversations.ts';
import type { ConversationSummary, InboxActivity } from '../../src/lib/shared/api-types.ts';
import { seqMap, writeMessage } from '../../src/lib/shared/conversation-doc.ts';
import { userDocName, type ServerStateless } from '../../src/lib/shared/protocol.ts';
import { tickFor, type Markers } from '../../src/lib/shared/receipts.ts';
import {
	api,
	connectClient,
	connectDocument,
	createAccount,
	createConversation,
	waitFor,
	type Account,
	type SyncClient
} from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

type Of<T extends ServerStateless['type']> = Extract<ServerStateless, { type: T }>;
const ofType = <T extends ServerStateless['type']>(client: SyncClient, type: T) => client.stateless.filter((m): m is Of<T> => m.type === type);
/** What a user channel last heard of a conversation's unread count and last message, from a summary or from activity. */
const inboxView = (channel: SyncClient, conversationId: string): Pick<InboxActivity, 'lastMessage' | 'unreadCount'> | undefined =>
	channel.stateless
		.flatMap((m): Array<Pick<InboxActivity, 'lastMessage' | 'unreadCount'>> =>
			m.type === 'inbox' && m.conversation.id === conversationId ? [m.conversation] : m.type === 'inbox-activity' && m.conversationId === conversationId ? [m] : []
		)
		.at(-1);

describe('receipts, unread counts, typing, presence, live inbox', () => {
	const server = useTestServer();
	let alice: Account;
	let bob: Account;
	let carol: Account;
	const open: SyncClient[] = [];
	const track = (client: SyncClient) => (open.push(client), client);

	beforeAll(async () => {
		[alice, bob, carol] = [await createAccount(server.url), await createAccount(server.url), await createAccount(server.url)];
	});
	afterAll(async () => {
		for (const client of open) client.destroy();
	});

	async function summaries(account: Account): Promise<ConversationSummary[]> {
		return (await api<{ conversations: ConversationSummary[] }>(server.url, '/api/conversations', { token: account.token })).body.conversations;
	}

	/** Every member's markers as published, one entry per member per message. */
	const markerEvents = (client: SyncClient) => ofType(client, 'receipt-markers').flatMap((e) => e.markers);

	/** Alice's view of the markers, as her client keeps them: the conversation's members, then live events. */
	function markersSeenBy(client: SyncClient, members: Markers[]): Markers[] {
		return members.map((member) => {
			const events = markerEvents(client).filter((e) => e.userId === member.id);
			return events.reduce((m, e) => ({ ...m, deliveredSeq: Math.max(m.deliveredSeq, e.deliveredSeq), readSeq: Math.max(m.readSeq, e.readSeq) }), member);
		});
	}

	it('[RCPT-1] direct: ✓ sent, then ✓✓ delivered when the recipient syncs, then read when they read', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], '');
		const a = track(connectClient(server.wsUrl, conversationId, alice.token));
		await a.synced;
		const id = ulid();
		writeMessage(a.doc, { id, author: alice.id, body: 'tick tock' });
		await waitFor(() => seqMap(a.doc).has(id));
		const seq = seqMap(a.doc).get(id)!;
		const start = [alice, bob].map((m) => ({ id: m.id, deliveredSeq: 0, readSeq: 0 }));
		const ticks: string[] = [tickFor(seq, alice.id, markersSeenBy(a, start)).tick];

		const b = track(connectClient(server.wsUrl, conversationId, bob.token));
		await b.synced;
		b.send({ type: 'receipt', deliveredSeq: seq });
		await waitFor(() => markerEvents(a).length === 1);
		ticks.push(tickFor(seq, alice.id, markersSeenBy(a, start)).tick);
		b.send({ type: 'receipt', readSeq: seq });
		await waitFor(() => markerEvents(a).length === 2);
		ticks.push(tickFor(seq, alice.id, markersSeenBy(a, start)).tick);
		expect(ticks).toEqual(['sent', 'delivered', 'read']);

		// Markers never move back: an older receipt from a stale device changes nothing.
		b.send({ type: 'receipt', deliveredSeq: 0, readSeq: 0 });
		await new Promise((resolve) => setTimeout(resolve, 100));
		expect(markerEvents(a)).toHaveLength(2);
		const bobAsMember = (await summaries(alice)).find((c) => c.id === conversationId)?.members.find((m) => m.id === bob.id);
		expect(bobAsMember).toMatchObject({ deliveredSeq: seq, readSeq: seq });
	});

	it('[RCPT-1] group: delivered and read only once every other member is, naming who read it', async () => {
		const conversationId = await createConversation(server.url, alice, [bob, carol], 'Ticks');
		const a = track(connectClient(server.wsUrl, conversationId, alice.token));
		await a.synced;
		const id = ulid();
		writeMessage(a.doc, { id, author: alice.id, body: 'for both of you' });
		await waitFor(() => seqMap(a.doc).has(id));
		const seq = seqMap(a.doc).get(id)!;
		const start = [alice, bob, carol].map((m) => ({ id: m.id, deliveredSeq: 0, readSeq: 0 }));
		const states: Array<{ tick: string; readBy: string[] }> = [];
		const snapshot = () => {
			const { tick, readBy } = tickFor(seq, alice.id, markersSeenBy(a, start));
			states.push({ tick, readBy });
		};
		// Bob reads on his phone via REST, Carol only receives it over her user channel.
		await api(server.url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: bob.token });
		await waitFor(() => markerEvents(a).length === 1);
		snapshot();
		const carolChannel = track(connectDocument(server.wsUrl, userDocName(carol.id), carol.token));
		await carolChannel.synced;
		carolChannel.send({ type: 'receipt', conversationId, deliveredSeq: seq });
		await waitFor(() => markerEvents(a).length === 2);
		snapshot();
		carolChannel.send({ type: 'receipt', conversationId, readSeq: seq });
		await waitFor(() => markerEvents(a).length === 3);
		snapshot();
		expect(states).toEqual([
			{ tick: 'sent', readBy: [bob.id] },
			{ tick: 'delivered', readBy: [bob.id] },
			{ tick: 'read', readBy: [bob.id, carol.id] }
		]);
	});

	it('[RCPT-2] a receipt written for another user is refused and changes nothing', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Forgery');
		await api(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token, body: { body: 'read me' } });
		const b = track(connectClient(server.wsUrl, conversationId, bob.token));
		await b.synced;
		b.send({ type: 'receipt', userId: alice.id, readSeq: 1, deliveredSeq: 1 });
		await waitFor(() => ofType(b, 'receipt-refused').length === 1);
		expect(ofType(b, 'receipt-refused')[0]?.message).toMatch(/yourself/);
		const outsider = track(connectDocument(server.wsUrl, userDocName(carol.id), carol.token));
		await outsider.synced;
		outsider.send({ type: 'receipt', conversationId, readSeq: 1 });
		await waitFor(() => ofType(outsider, 'receipt-refused').length === 1);
		const members = (await summaries(alice)).find((c) => c.id === conversationId)!.members;
		expect(members.map((m) => [m.deliveredSeq, m.readSeq])).toEqual([
			[0, 0],
			[0, 0]
		]);
	});

	it('[RCPT-1] someone joining a group does not take ticks back, and starts with no unread history', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Joiners');
		await api(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token, body: { body: 'before carol' } });
		await api(server.url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: bob.token });
		const before = (await summaries(alice)).find((c) => c.id === conversationId)!;
		expect(tickFor(1, alice.id, before.members).tick).toBe('read');
		await api(server.url, `/api/conversations/${conversationId}/members`, { token: alice.token, body: { members: [carol.username] } });
		const after = (await summaries(alice)).find((c) => c.id === conversationId)!;
		expect(tickFor(1, alice.id, after.members).tick).toBe('read');
		expect((await summaries(carol)).find((c) => c.id === conversationId)?.unreadCount).toBe(0);

		const b = track(connectClient(server.wsUrl, conversationId, bob.token));
		await b.synced;
		b.send({ type: 'receipt', conversationId: ulid(), readSeq: 1 });
		await waitFor(() => ofType(b, 'receipt-refused').length === 1);
	});

	it('[RCPT-3] unread counts follow reads and "mark unread", on every device, and survive a restart', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Unread');
		for (const body of ['one', 'two', 'three']) {
			await api(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token, body: { body } });
		}
		const unread = async () => (await summaries(bob)).find((c) => c.id === conversationId)!.unreadCount;
		expect(await unread()).toBe(3);
		const read = await api<{ readSeq: number }>(server.url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: bob.token, body: { seq: 2 } });
		expect(read.body.readSeq).toBe(2);
		expect(await unread()).toBe(1);
		const bad = await api<{ error: { code: string } }>(server.url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: bob.token, body: { seq: -1 } });
		expect([bad.status, bad.body.error.code]).toEqual([400, 'invalid-request']);
		const outsider = await api(server.url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: carol.token });
		expect(outsider.status).toBe(403);

		await server.restart();
		expect(await unread()).toBe(1);
		await api(server.url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: bob.token });
		expect(await unread()).toBe(0);
		expect((await api(server.url, `/api/conversations/${conversationId}/unread`, { method: 'PUT', token: bob.token })).status).toBe(204);
		expect(await unread()).toBe(1);
		await api(server.url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: bob.token });
		expect(await unread()).toBe(0);
	});

	it('[RCPT-3] a delivered receipt keeps "mark unread"; a read receipt over the socket clears it', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Kept unread');
		const send = (body: string) => api(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token, body: { body } });
		await send('one');
		await api(server.url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: bob.token });
		await api(server.url, `/api/conversations/${conversationId}/unread`, { method: 'PUT', token: bob.token });
		await send('two');
		const marked = async () => (await summaries(bob)).find((c) => c.id === conversationId)!.markedUnread;
		expect(await marked()).toBe(true);

		const device = track(connectClient(server.wsUrl, conversationId, bob.token));
		await device.synced;
		device.send({ type: 'receipt', conversationId, deliveredSeq: 2 });
		await waitFor(() => markerEvents(device).some((m) => m.userId === bob.id && m.deliveredSeq === 2));
		expect(await marked()).toBe(true);
		device.send({ type: 'receipt', conversationId, readSeq: 2 });
		await waitFor(() => markerEvents(device).some((m) => m.userId === bob.id && m.readSeq === 2));
		expect(await marked()).toBe(false);
	});

	it('[INBOX-1] the live inbox: a new conversation and each new message reach the user channel of every member', async () => {
		const dave = await createAccount(server.url);
		const channel = track(connectDocument(server.wsUrl, userDocName(dave.id), dave.token));
		await channel.synced;
		const conversationId = await createConversation(server.url, alice, [dave], 'Fresh');
		await waitFor(() => ofType(channel, 'inbox').some((e) => e.conversation.id === conversationId));
		await api(server.url, `/api/conversations/${conversationId}/messages`, { token: alice.token, body: { body: 'news' } });
		await waitFor(() => inboxView(channel, conversationId)?.lastMessage?.body === 'news');
		expect(inboxView(channel, conversationId)).toMatchObject({ unreadCount: 1 });
		await api(server.url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: dave.token });
		await waitFor(() => inboxView(channel, conversationId)?.unreadCount === 0);

		await api(server.url, `/api/conversations/${conversationId}/members/${dave.username}`, { method: 'DELETE', token: alice.token });
		await waitFor(() => channel.stateless.some((m) => m.type === 'inbox-removed' && m.conversationId === conversationId));

		// Nobody may open another user's channel, nor write into their own.
		const spy = track(connectDocument(server.wsUrl, userDocName(dave.id), alice.token));
		await waitFor(() => spy.refusals.length > 0);
		expect(spy.refusals).toEqual(['forbidden']);
		const writer = track(connectDocument(server.wsUrl, userDocName(dave.id), dave.token));
		await writer.synced;
		writer.doc.getMap('anything').set('x', 1);
		await waitFor(() => writer.refusals.length > 0);
		expect(writer.refusals).toEqual(['forbidden']);
	});

	it('[PRES-1] online while any device is connected, then "last seen"; nobody can speak for someone else', async () => {
		const erin = await createAccount(server.url);
		const frank = await createAccount(server.url);
		const conversationId = await createConversation(server.url, erin, [frank], 'Presence');
		const watch = track(connectDocument(server.wsUrl, userDocName(erin.id), erin.token));
		await watch.synced;
		const phone = connectClient(server.wsUrl, conversationId, frank.token);
		const laptop = connectClient(server.wsUrl, conversationId, frank.token);
		await Promise.all([phone.synced, laptop.synced]);
		await waitFor(() => ofType(watch, 'presence').length === 1);
		expect(ofType(watch, 'presence')[0]).toMatchObject({ userId: frank.id, online: true });
		const frankOf = async () => (await summaries(erin)).find((c) => c.id === conversationId)!.members.find((m) => m.id === frank.id)!;
		expect((await frankOf()).online).toBe(true);
		phone.destroy();
		await new Promise((resolve) => setTimeout(resolve, 150));
		expect(ofType(watch, 'presence')).toHaveLength(1);
		laptop.destroy();
		await waitFor(() => ofType(watch, 'presence').length === 2);
		expect(ofType(watch, 'presence')[1]).toMatchObject({ userId: frank.id, online: false });
		const seen = await frankOf();
		expect(seen.online).toBe(false);
		expect(seen.lastSeenAt).toBeGreaterThan(Date.now() - 10_000);
	});

	it('[PRES-1] closing and reopening within a second tells nobody and writes nothing (a reconnect loop costs no commits)', async () => {
		const erin = await createAccount(server.url);
		const frank = await createAccount(server.url);
		const conversationId = await createConversation(server.url, erin, [frank], 'Blips');
		const watch = track(connectDocument(server.wsUrl, userDocName(erin.id), erin.token));
		await watch.synced;
		const first = connectClient(server.wsUrl, conversationId, frank.token);
		await first.synced;
		await waitFor(() => ofType(watch, 'presence').length === 1);
		const sqlite = server.app.core.db.$client;
		const changes = () => (sqlite.prepare('select total_changes() as n').get() as { n: number }).n;
		const before = changes();
		let device = first;
		for (let i = 0; i < 5; i++) {
			device.destroy();
			// The same device (one Y.Doc, so no new clientID to bind) reconnecting.
			device = connectClient(server.wsUrl, conversationId, frank.token, first.doc);
			await device.synced;
		}
		await new Promise((resolve) => setTimeout(resolve, 1300));
		expect(ofType(watch, 'presence')).toHaveLength(1);
		expect(changes()).toBe(before);
		device.destroy();
		await waitFor(() => ofType(watch, 'presence').length === 2, 3000);
		expect(ofType(watch, 'presence')[1]).toMatchObject({ userId: frank.id, online: false });
	});

	it('[TYPING-1] typing is relayed as the connection’s user, and stops on send and on close', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Typing');
		const a = track(connectClient(server.wsUrl, conversationId, alice.token));
		const b = connectClient(server.wsUrl, conversationId, bob.token);
		await Promise.all([a.synced, b.synced]);
		b.send({ type: 'typing', active: true });
		await waitFor(() => ofType(a, 'typing').length === 1);
		expect(ofType(a, 'typing')[0]).toMatchObject({ userId: bob.id, active: true });
		expect(ofType(b, 'typing')).toEqual([]);
		writeMessage(b.doc, { id: ulid(), author: bob.id, body: 'done typing' });
		await waitFor(() => ofType(a, 'typing').length === 2);
		expect(ofType(a, 'typing')[1]).toMatchObject({ userId: bob.id, active: false });
		b.send({ type: 'typing', active: true });
		await waitFor(() => ofType(a, 'typing').length === 3);
		b.destroy();
		await waitFor(() => ofType(a, 'typing').length === 4);
		expect(ofType(a, 'typing')[3]).toMatchObject({ userId: bob.id, active: false });
	});

	it('[TYPING-1] a flood of typing frames is relayed about once a second, and stopping still goes through at once', async () => {
		const conversationId = await createConversation(server.url, alice, [bob], 'Typing flood');
		const a = track(connectClient(server.wsUrl, conversationId, alice.token));
		const b = track(connectClient(server.wsUrl, conversationId, bob.token));
		await Promise.all([a.synced, b.synced]);
		for (let i = 0; i < 200; i++) b.send({ type: 'typing', active: true });
		b.send({ type: 'typing', active: false });
		await waitFor(() => ofType(a, 'typing').some((m) => m.type === 'typing' && !m.active));
		const relayed = ofType(a, 'typing');
		expect(relayed.length).toBeLessThanOrEqual(3);
		expect(relayed.at(-1)).toMatchObject({ userId: bob.id, active: false });
	});
	it('[RCPT-4] [INBOX-2] [INBOX-3] in a group of 20, one message and its 38 receipts reach each member as a few small frames, not one per receipt', async () => {
		const others: Account[] = [];
		for (let i = 0; i < 19; i++) others.push(await createAccount(server.url));
		const conversationId = await createConversation(server.url, alice, others, 'Twenty');
		const everyone = [alice, ...others];
		const docs = everyone.map((member) => track(connectClient(server.wsUrl, conversationId, member.token)));
		const channels = everyone.map((member) => track(connectDocument(server.wsUrl, userDocName(member.id), member.token)));
		await Promise.all([...docs, ...channels].map((c) => c.synced));
		await new Promise((resolve) => setTimeout(resolve, 200));
		const before = docs.map((c) => c.stateless.length);
		const channelBefore = channels.map((c) => c.stateless.length);

		const id = ulid();
		// Each other member sends delivered, then read, as soon as the message is acknowledged on their device.
		docs.slice(1).forEach((client) => {
			const observer = () => {
				const seq = seqMap(client.doc).get(id);
				if (seq === undefined) return;
				seqMap(client.doc).unobserve(observer);
				client.send({ type: 'receipt', deliveredSeq: seq });
				client.send({ type: 'receipt', readSeq: seq });
			};
			seqMap(client.doc).observe(observer);
		});
		writeMessage(docs[0]!.doc, { id, author: alice.id, body: 'hello twenty' });
		const seq = () => seqMap(docs[0]!.doc).get(id);
		await waitFor(() => seq() !== undefined);
		// Alice's client learns every member's read marker.
		await waitFor(
			() => others.every((o) => markerEvents(docs[0]!).some((m) => m.userId === o.id && m.readSeq === seq())),
			5000,
			'every read marker at alice'
		);
		await new Promise((resolve) => setTimeout(resolve, 300));
		const markerFrames = docs.map((c, i) => c.stateless.slice(before[i]).filter((m) => m.type === 'receipt-markers').length);
		const inboxMessages = channels.map((c, i) => c.stateless.slice(channelBefore[i]).filter((m) => m.type === 'inbox' || m.type === 'inbox-activity'));
		const inboxFrames = inboxMessages.map((list) => list.length);
		// One frame per receipt would be 38 each; windows of 50 ms make a handful.
		expect(Math.max(...markerFrames)).toBeLessThanOrEqual(6);
		expect(Math.max(...inboxFrames)).toBeLessThanOrEqual(8);
		expect(Math.min(...inboxFrames)).toBeGreaterThanOrEqual(1);

		// [INBOX-3] Only alice, whose message is not read by all yet, hears the others' markers in her inbox;
		// each other member hears only their own: what a member receives does not grow with the group.
		const markersHeard = inboxMessages.map((list) => new Set(list.flatMap((m) => (m.type === 'inbox-activity' ? m.markers.map((x) => x.userId) : []))));
		expect(markersHeard[0]!.size).toBe(19);
		for (const [i, heard] of markersHeard.slice(1).entries()) expect([...heard].every((userId) => userId === others[i]!.id)).toBe(true);
		const bytes = inboxMessages.slice(1).map((list) => list.reduce((sum, m) => sum + JSON.stringify(m).length, 0));
		expect(Math.max(...bytes)).toBeLessThan(4000);
		// The inbox agrees with the conversation: alice's last activity has everyone's read marker.
		const last = inboxView(channels[0]!, conversationId);
		expect(last?.lastMessage?.seq).toBe(seq());
	});
	it('[INBOX-2] a summary built once for many members equals each member’s own listing', async () => {
		const conversationId = await createConversation(server.url, alice, [bob, carol], 'Shared summary');
		for (const [author, body] of [
			[alice, 'one'],
			[bob, 'two'],
			[carol, 'three']
		] as const) {
			await api(server.url, `/api/conversations/${conversationId}/messages`, { token: author.token, body: { body } });
		}
		await api(server.url, `/api/conversations/${conversationId}/read`, { method: 'PUT', token: bob.token });
		await api(server.url, `/api/conversations/${conversationId}/unread`, { method: 'PUT', token: carol.token });
		const db = server.app.core.db;
		const online = (userId: string) => userId === bob.id;
		const shared = summariesFor(db, conversationId, [alice.id, bob.id, carol.id, 'not-a-member'], online);
		expect([...shared.keys()].sort()).toEqual([alice.id, bob.id, carol.id].sort());
		for (const member of [alice, bob, carol]) {
			expect(shared.get(member.id)).toEqual(listConversations(db, member.id, online, conversationId)[0]);
		}
		expect(new Set([alice, bob, carol].map((m) => shared.get(m.id)!.unreadCount)).size).toBeGreaterThan(1);
	});
});
