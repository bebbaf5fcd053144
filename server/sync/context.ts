import type { IncomingHttpHeaders } from 'node:http';
import type { CloseReason } from '../../src/lib/shared/protocol.ts';

export interface SyncUser {
	id: string;
	username: string;
}

/** What every connection carries from authentication on (Hocuspocus's `context`). */
export interface SyncContext {
	user: SyncUser;
	sessionId: string;
	/** When the session expires as last seen; past it, the database is asked again (sessions slide forward). */
	sessionExpiresAt: number;
	/** Set on conversation documents. */
	conversationId?: string;
	/** Set on the user's own channel. */
	channel?: true;
	/** Set once the connection counts for presence. */
	counted?: true;
}

/** What Hocuspocus turns into a permission-denied message or a CLOSE message for the client. */
export function refuse(reason: CloseReason): { code: number; reason: CloseReason } {
	return { code: 4403, reason };
}

export function readCookie(headers: IncomingHttpHeaders, name: string): string | null {
	for (const part of (headers.cookie ?? '').split(';')) {
		const eq = part.indexOf('=');
		if (eq > 0 && part.slice(0, eq).trim() === name) {
			try {
				return decodeURIComponent(part.slice(eq + 1).trim());
			} catch {
				return null;
			}
		}
	}
	return null;
}
