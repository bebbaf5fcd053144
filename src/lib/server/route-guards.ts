import type { Db } from './db/index.ts';
import type { ContextRow, User } from './db/schema.ts';
import { isAdmin } from './admin-stats.ts';
import { unwrap } from './api.ts';
import { findContext } from './contexts.ts';
import { accessFailure } from './conversations.ts';
import { fail } from './outcome.ts';

/** A route goes no further unless the user is a member of the conversation (404 when it does not exist, 403 when not a member). */
export function requireMembership(db: Db, conversationId: string, userId: string): void {
	const denied = accessFailure(db, conversationId, userId);
	if (denied) unwrap(denied);
}

/** The context a route names; 404 when there is none. */
export function requireContext(db: Db, kind: string, externalId: string, platformId = ''): ContextRow {
	return findContext(db, kind, externalId, platformId) ?? unwrap(fail('not-found', 'Context not found.'));
}

/** Only the chat's admins (ADMIN_USERNAMES) go further (ADMIN-1). */
export function requireAdmin(user: User, adminUsernames: string[]): void {
	if (!isAdmin(user, adminUsernames)) unwrap(fail('forbidden', 'Only the chat’s admins (ADMIN_USERNAMES) see its statistics.'));
}
