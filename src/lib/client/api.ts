/** The browser's view of the JSON API (docs/api.md): typed calls, one error type. */

import { ApiError } from '$lib/shared/api-error';
import type { ContextDto, ConversationSummary, MemberDto, MessageDto, PublicUser, SearchPage } from '$lib/shared/api-types';

export type { ConversationSummary, MemberDto, MessageDto };
export type User = PublicUser;

export type NewConversation = Pick<ConversationSummary, 'id' | 'kind' | 'title' | 'members' | 'epoch' | 'epochFirstSeq' | 'context' | 'status'>;

export { ApiError };

export async function call<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
	let response: Response;
	try {
		response = await fetch(path, {
			method,
			headers: body === undefined ? {} : { 'content-type': 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body),
			credentials: 'same-origin',
			signal
		});
	} catch (error) {
		if (signal?.aborted) throw error;
		throw new ApiError(0, 'offline', 'No connection. Try again when you are back online.');
	}
	if (response.status === 204) return undefined as T;
	const data = (await response.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
	if (!response.ok) {
		throw new ApiError(response.status, data?.error?.code ?? 'error', data?.error?.message ?? response.statusText);
	}
	return data as T;
}

/** A context's API path in its namespace (a platform's, or users' own when `platform` is empty). */
function contextPath(kind: string, externalId: string, platform: string, rest = ''): string {
	return `/api/contexts/${kind}/${encodeURIComponent(externalId)}${rest}${platform ? `?${new URLSearchParams({ platform })}` : ''}`;
}

export const api = {
	me: () => call<{ user: User }>('GET', '/api/me'),
	signup: (input: { username: string; password: string; displayName?: string }) => call<{ user: User }>('POST', '/api/auth/signup', input),
	login: (input: { username: string; password: string }) => call<{ user: User }>('POST', '/api/auth/login', input),
	logout: () => call<void>('POST', '/api/auth/logout'),
	conversations: (limit: number, before?: string) =>
		call<{ conversations: ConversationSummary[]; nextCursor: string | null }>('GET', `/api/conversations?${new URLSearchParams({ limit: String(limit), ...(before ? { before } : {}) })}`),
	openDirect: (username: string) =>
		call<{ conversation: NewConversation }>('POST', '/api/conversations', { kind: 'direct', members: [username] }),
	createGroup: (title: string, members: string[]) =>
		call<{ conversation: NewConversation }>('POST', '/api/conversations', { kind: 'group', title, members }),
	markRead: (conversationId: string, seq: number) => call<{ readSeq: number }>('PUT', `/api/conversations/${conversationId}/read`, { seq }),
	setArchived: (conversationId: string, archived: boolean) => call<void>(archived ? 'PUT' : 'DELETE', `/api/conversations/${conversationId}/archive`),
	markUnread: (conversationId: string) => call<void>('PUT', `/api/conversations/${conversationId}/unread`),
	updateMe: (displayName: string) => call<{ user: User }>('PATCH', '/api/me', { displayName }),
	setAvatar: (uploadId: string) => call<{ user: User }>('PUT', '/api/me/avatar', { uploadId }),
	removeAvatar: () => call<{ user: User }>('DELETE', '/api/me/avatar'),
	searchPeople: (q: string, signal?: AbortSignal) => call<{ users: User[] }>('GET', `/api/users?q=${encodeURIComponent(q)}`, undefined, signal),
	search: (q: string, signal?: AbortSignal) => call<SearchPage>('GET', `/api/search?${new URLSearchParams({ q, limit: '30' })}`, undefined, signal),
	conversation: (conversationId: string) => call<{ conversation: NewConversation }>('GET', `/api/conversations/${conversationId}`),
	setStatus: (conversationId: string, status: 'open' | 'closed') => call<{ conversation: NewConversation }>('PATCH', `/api/conversations/${conversationId}`, { status }),
	contextOf: (kind: string, externalId: string, platform: string) => call<{ context: ContextDto }>('GET', `${contextPath(kind, externalId, platform)}`),
	contact: (kind: string, externalId: string, platform: string, message: { id: string; body: string }) =>
		call<{ conversation: NewConversation }>('POST', contextPath(kind, externalId, platform, '/conversations'), { message }),
	rename: (conversationId: string, title: string) => call<{ conversation: NewConversation }>('PATCH', `/api/conversations/${conversationId}`, { title }),
	addMembers: (conversationId: string, usernames: string[]) =>
		call<{ conversation: NewConversation }>('POST', `/api/conversations/${conversationId}/members`, { members: usernames }),
	setRole: (conversationId: string, username: string, role: 'moderator' | 'member') =>
		call<{ conversation: NewConversation }>('PATCH', `/api/conversations/${conversationId}/members/${encodeURIComponent(username)}`, { role }),
	removeMember: (conversationId: string, username: string) =>
		call<void>('DELETE', `/api/conversations/${conversationId}/members/${encodeURIComponent(username)}`)
};
