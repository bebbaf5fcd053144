import type { ConversationSummary, PublicUser } from '$lib/shared/api-types';
import { readJson, userKey, writeJson } from './local-data.ts';

/**
 * What this device remembers of a conversation after the server stops telling: its title and
 * everyone who was ever a member. A removed member still reads the history with names, and a line
 * like "Ben left" still names Ben after he is gone from the member list.
 */
export interface RememberedConversation {
	id: string;
	kind: ConversationSummary['kind'];
	title: string | null;
	/** Current and former members, newest name first wins. */
	people: PublicUser[];
}

const key = (userId: string, conversationId: string) => userKey(userId, `known:${conversationId}`);

export function recallConversation(userId: string, conversationId: string): RememberedConversation | null {
	return readJson<RememberedConversation>(key(userId, conversationId));
}

/** What was known, with the summary's title and members merged in (pure: nothing is written). */
export function mergeConversation(known: RememberedConversation | null, summary: ConversationSummary): RememberedConversation {
	const people = new Map((known?.people ?? []).map((p) => [p.id, p]));
	for (const { id, username, displayName, avatar } of summary.members) people.set(id, { id, username, displayName, avatar: avatar ?? null });
	const author = summary.lastMessage?.author;
	if (author) people.set(author.id, { id: author.id, username: author.username, displayName: author.displayName, avatar: author.avatar ?? people.get(author.id)?.avatar ?? null });
	return { id: summary.id, kind: summary.kind, title: summary.title, people: [...people.values()] };
}

/** Keeps `conversation` on this device, writing only when something changed. */
export function rememberConversation(userId: string, conversation: RememberedConversation): void {
	if (JSON.stringify(conversation) !== JSON.stringify(recallConversation(userId, conversation.id))) writeJson(key(userId, conversation.id), conversation);
}
