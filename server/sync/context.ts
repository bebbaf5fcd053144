import type { Connection } from '@hocuspocus/server';
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

export interface Refusal {
	code: number;
	reason: CloseReason;
}

/** What Hocuspocus turns into a permission-denied message or a CLOSE message for the client. */
export function refuse(reason: CloseReason): Refusal {
	return { code: 4403, reason };
}

export function isRefusal(value: unknown): value is Refusal {
	return typeof value === 'object' && value !== null && (value as Refusal).code === 4403 && typeof (value as Refusal).reason === 'string';
}

/**
 * Ends a refused frame's journey from a `beforeHandleMessage` hook: the connection closes with the
 * reason, and the returned promise never settles, so Hocuspocus neither applies the frame nor logs
 * the refusal as an exception (which a flood of bad frames would turn into a flood of log lines).
 */
export function dropFrame(connection: Connection, refusal: Refusal): Promise<never> {
	connection.close(refusal);
	return new Promise<never>(() => {});
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
