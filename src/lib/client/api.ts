/** The browser's view of the JSON API (docs/api.md): typed calls, one error type. */

export interface User {
	id: string;
	username: string;
	displayName: string;
}

export interface Member extends User {
	role: 'owner' | 'member';
}

export interface MessageDto {
	id: string;
	conversationId: string;
	seq: number;
	author: User;
	body: string;
	createdAt: number;
	receivedAt: number;
	editedAt: number | null;
	deletedAt: number | null;
}

export interface ConversationSummary {
	id: string;
	kind: 'direct' | 'group';
	title: string | null;
	members: Member[];
	lastMessage: MessageDto | null;
	unreadCount: number;
	updatedAt: number;
}

export type NewConversation = Pick<ConversationSummary, 'id' | 'kind' | 'title' | 'members'>;

/** A failed call: `status` 0 means the network itself failed (offline). */
export class ApiError extends Error {
	constructor(
		readonly status: number,
		readonly code: string,
		message: string
	) {
		super(message);
		this.name = 'ApiError';
	}

	get offline(): boolean {
		return this.status === 0;
	}
}

export async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
	let response: Response;
	try {
		response = await fetch(path, {
			method,
			headers: body === undefined ? {} : { 'content-type': 'application/json' },
			body: body === undefined ? undefined : JSON.stringify(body),
			credentials: 'same-origin'
		});
	} catch {
		throw new ApiError(0, 'offline', 'No connection. Try again when you are back online.');
	}
	if (response.status === 204) return undefined as T;
	const data = (await response.json().catch(() => null)) as { error?: { code: string; message: string } } | null;
	if (!response.ok) {
		throw new ApiError(response.status, data?.error?.code ?? 'error', data?.error?.message ?? response.statusText);
	}
	return data as T;
}

export const api = {
	me: () => call<{ user: User }>('GET', '/api/me'),
	signup: (input: { username: string; password: string; displayName?: string }) => call<{ user: User }>('POST', '/api/auth/signup', input),
	login: (input: { username: string; password: string }) => call<{ user: User }>('POST', '/api/auth/login', input),
	logout: () => call<void>('POST', '/api/auth/logout'),
	conversations: () => call<{ conversations: ConversationSummary[] }>('GET', '/api/conversations'),
	openDirect: (username: string) =>
		call<{ conversation: NewConversation }>('POST', '/api/conversations', { kind: 'direct', members: [username] }),
	createGroup: (title: string, members: string[]) =>
		call<{ conversation: NewConversation }>('POST', '/api/conversations', { kind: 'group', title, members })
};
