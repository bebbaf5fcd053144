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
/** A device that missed up to this many messages catches up in one request of history, not several. */
export const HISTORY_PAGE_MAX = 1000;
/** People search answers prefixes of at least this many characters, with at most this many people: no listing everyone. */
export const PEOPLE_SEARCH_MIN_CHARS = 2;
export const PEOPLE_SEARCH_MAX_RESULTS = 10;
export const HISTORY_PAGE_DEFAULT = 50;

/** A message's `createdAt` (its author's clock) may be this far ahead of the server's clock. */
export const CREATED_AT_MAX_AHEAD_MS = 24 * 60 * 60 * 1000;
/** No message is older than this (2020-01-01): a smaller clock value is a broken or forged one. */
export const CREATED_AT_MIN = Date.UTC(2020, 0, 1);

/**
 * Whether a client clock value is a plausible time for a message: an integer of ms between
 * {@link CREATED_AT_MIN} and a day after `now`. Anything else would break every member's view.
 */
export function isPlausibleTimestamp(value: unknown, now = Date.now()): value is number {
	return Number.isSafeInteger(value) && (value as number) >= CREATED_AT_MIN && (value as number) <= now + CREATED_AT_MAX_AHEAD_MS;
}

/** Message ids are client-made ULIDs (or UUIDs, for bots that prefer them). */
const MESSAGE_ID = /^(?:[0-9A-HJKMNP-TV-Z]{26}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

export function isMessageId(value: unknown): value is string {
	return typeof value === 'string' && MESSAGE_ID.test(value);
}

/** Files one message may carry. */
export const ATTACHMENTS_PER_MESSAGE_MAX = 10;
/** Characters of an upload's file name as stored (longer ones are shortened, keeping the extension). */
export const UPLOAD_NAME_MAX = 120;
/** Upload ids are server-made ULIDs. */
export const UPLOAD_ID = /^[0-9A-HJKMNP-TV-Z]{26}$/;

/** Whether `value` has the shape of an attachments list (1 to 10 references, distinct ids); the server checks each against its upload. */
export function isAttachmentList(value: unknown): value is Array<{ id: string; name: string; type: string; size: number; width?: number; height?: number }> {
	if (!Array.isArray(value) || value.length === 0 || value.length > ATTACHMENTS_PER_MESSAGE_MAX) return false;
	const ids = new Set<string>();
	for (const ref of value) {
		if (typeof ref !== 'object' || ref === null || Array.isArray(ref)) return false;
		const { id, name, type, size, width, height, ...rest } = ref as Record<string, unknown>;
		if (Object.keys(rest).length > 0 || typeof id !== 'string' || !UPLOAD_ID.test(id) || ids.has(id)) return false;
		if (typeof name !== 'string' || name.length > UPLOAD_NAME_MAX || typeof type !== 'string' || type.length > 100 || !Number.isSafeInteger(size)) return false;
		if ((width === undefined) !== (height === undefined)) return false;
		if (width !== undefined && (!Number.isSafeInteger(width) || !Number.isSafeInteger(height))) return false;
		ids.add(id);
	}
	return true;
}

export type BodyCheck = { ok: true; body: string } | { ok: false; code: 'message-empty' | 'message-too-long' };

/** Trims and checks a message body: 1 to {@link MESSAGE_MAX_CHARS} characters (code points) after trimming. */
export function checkMessageBody(raw: string): BodyCheck {
	const body = raw.trim();
	if (body.length === 0) return { ok: false, code: 'message-empty' };
	if ([...body].length > MESSAGE_MAX_CHARS) return { ok: false, code: 'message-too-long' };
	return { ok: true, body };
}

/** Reactions one user may put on one message. */
export const REACTIONS_PER_USER_MAX = 8;
/** UTF-16 units of one reaction (a flag or a skin-toned family emoji is long). */
const REACTION_MAX_UNITS = 32;

/**
 * Whether `value` is one emoji (a single grapheme with an emoji in it, keycaps and flags included):
 * reactions are emoji, not words.
 */
export function isReaction(value: unknown): value is string {
	if (typeof value !== 'string' || value.length === 0 || value.length > REACTION_MAX_UNITS) return false;
	if (!/\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u.test(value) || /[\s\p{L}\p{N}\p{P}]/u.test(value.replace(/[0-9#*]\uFE0F?\u20E3/gu, ''))) return false;
	graphemes ??= new Intl.Segmenter(undefined, { granularity: 'grapheme' });
	const segments = graphemes.segment(value)[Symbol.iterator]();
	segments.next();
	return segments.next().done === true;
}

/** Made once: building a segmenter costs far more than using it. */
let graphemes: Intl.Segmenter | undefined;

/** Whether `value` is a valid reactions value: distinct emoji, at most {@link REACTIONS_PER_USER_MAX}. */
export function isReactionList(value: unknown): value is string[] {
	return Array.isArray(value) && value.length <= REACTIONS_PER_USER_MAX && value.every(isReaction) && new Set(value).size === value.length;
}
