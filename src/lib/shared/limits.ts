/** Limits shared by the client (shown before they are hit) and the server (enforced). */

export const MESSAGE_MAX_CHARS = 2000;

/** Largest WebSocket frame the sync server accepts. */
export const SYNC_MAX_FRAME_BYTES = 1024 * 1024;

export const USERNAME_PATTERN = /^[a-z0-9_]{3,32}$/;
export const PASSWORD_MIN = 8;
export const PASSWORD_MAX = 256;
export const DISPLAY_NAME_MAX = 64;
export const GROUP_TITLE_MAX = 100;
export const GROUP_MAX_MEMBERS = 256;
export const HISTORY_PAGE_MAX = 200;
export const HISTORY_PAGE_DEFAULT = 50;

/** Message ids are client-made ULIDs (or UUIDs, for bots that prefer them). */
const MESSAGE_ID = /^(?:[0-9A-HJKMNP-TV-Z]{26}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function isMessageId(value: unknown): value is string {
	return typeof value === 'string' && MESSAGE_ID.test(value);
}

export type BodyCheck = { ok: true; body: string } | { ok: false; code: 'message-empty' | 'message-too-long' };

/** Trims and checks a message body: 1 to 2000 characters (code points) after trimming. */
export function checkMessageBody(raw: string): BodyCheck {
	const body = raw.trim();
	if (body.length === 0) return { ok: false, code: 'message-empty' };
	if ([...body].length > MESSAGE_MAX_CHARS) return { ok: false, code: 'message-too-long' };
	return { ok: true, body };
}
