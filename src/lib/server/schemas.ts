import { z } from 'zod';
import {
	ATTACHMENTS_PER_MESSAGE_MAX,
	UPLOAD_ID,
	DISPLAY_NAME_MAX,
	GROUP_MAX_MEMBERS,
	GROUP_TITLE_MAX,
	HISTORY_PAGE_MAX,
	PEOPLE_SEARCH_MIN_CHARS,
	MESSAGE_MAX_CHARS,
	PASSWORD_MAX,
	PASSWORD_MIN,
	USERNAME_PATTERN,
	isMessageId,
	isPlausibleTimestamp
} from '$lib/shared/limits';

/** Request bodies of the JSON API. */
export const username = z
	.string()
	.regex(USERNAME_PATTERN, 'usernames are 3 to 32 characters: lowercase letters, digits and _');

export const credentials = z.object({
	username,
	password: z.string().min(PASSWORD_MIN, `passwords have at least ${PASSWORD_MIN} characters`).max(PASSWORD_MAX)
});

export const signup = credentials.extend({
	displayName: z.string().trim().min(1).max(DISPLAY_NAME_MAX).optional()
});

export const login = z.object({ username: z.string().max(64), password: z.string().max(PASSWORD_MAX) });

export const newConversation = z.discriminatedUnion('kind', [
	z.object({ kind: z.literal('direct'), members: z.array(username).length(1, 'a direct conversation has exactly one other member') }),
	z.object({
		kind: z.literal('group'),
		members: z.array(username).min(1).max(GROUP_MAX_MEMBERS - 1),
		title: z.string().trim().min(1, 'a group needs a title').max(GROUP_TITLE_MAX)
	})
]);

export const newMembers = z.object({ members: z.array(username).min(1).max(GROUP_MAX_MEMBERS - 1) });

export const newMessage = z.object({
	id: z.string().refine(isMessageId, 'message ids are ULIDs or UUIDs').optional(),
	// Length is checked after trimming, by checkMessageBody; this only bounds the request.
	body: z.string().max(MESSAGE_MAX_CHARS * 4),
	createdAt: z
		.number()
		.refine((value) => isPlausibleTimestamp(value), 'createdAt is a time in ms between 2020 and a day from now')
		.optional(),
	/** The id of the message this one replies to. */
	replyTo: z.string().refine(isMessageId, 'replyTo is a message id (a ULID or UUID)').optional(),
	/** Ids of my uploads the message carries (the body may then be empty). */
	attachments: z.array(z.string().regex(UPLOAD_ID, 'an upload id')).min(1).max(ATTACHMENTS_PER_MESSAGE_MAX).refine((ids) => new Set(ids).size === ids.length, 'each upload once').optional()
});

/** A sequence number in a query string: digits only (an empty `after=` is not 0). */
const seqParam = z
	.string()
	.regex(/^\d{1,15}$/, 'a sequence number')
	.transform(Number);

export const historyQuery = z.object({
	before: seqParam.pipe(z.number().positive()).optional(),
	after: seqParam.optional(),
	limit: z.coerce.number().int().min(1).max(HISTORY_PAGE_MAX).optional()
});

export const searchQuery = z.object({
	q: z.string().trim().min(1, 'search for at least one word').max(200, 'at most 200 characters'),
	before: z.coerce.number().int().positive().optional(),
	limit: z.coerce.number().int().min(1).max(50).optional()
});

/** A display name as people will see it: the name rule (src/lib/shared/names.ts) is checked by the route. */
export const profileUpdate = z.object({ displayName: z.string().trim().min(1, 'a display name cannot be empty').max(DISPLAY_NAME_MAX) });

export const groupUpdate = z
	.object({
		title: z.string().trim().min(1, 'a group needs a title').max(GROUP_TITLE_MAX).optional(),
		/** Close (nobody can send) or reopen a group or context conversation. */
		status: z.enum(['open', 'closed']).optional()
	})
	.strict()
	.refine((value) => value.title !== undefined || value.status !== undefined, 'give a title or a status');

/** People search: a prefix of a username (an optional leading @) or of a display name. */
export const peopleQuery = z.object({
	q: z
		.string()
		.trim()
		.transform((q) => q.replace(/^@/, ''))
		.pipe(z.string().min(PEOPLE_SEARCH_MIN_CHARS, `type at least ${PEOPLE_SEARCH_MIN_CHARS} characters`).max(DISPLAY_NAME_MAX))
});

const webUrl = z
	.string()
	.max(2000)
	.refine((value) => {
		try {
			return ['http:', 'https:'].includes(new URL(value).protocol);
		} catch {
			return false;
		}
	}, 'an http(s) URL');

/** A context's card: what its conversations show about it. */
export const contextCard = z
	.object({
		title: z.string().trim().min(1).max(GROUP_TITLE_MAX * 2),
		url: webUrl.nullable().optional(),
		imageUrl: webUrl.nullable().optional()
	})
	.strict();

/** Starting (or opening) my conversation about a context, with its first message if there is one. */
export const contextStart = z.object({ message: newMessage.optional() }).strict();

/** A platform's user, as its server describes them. */
export const platformUser = z
	.object({ displayName: z.string().trim().min(1).max(DISPLAY_NAME_MAX), staff: z.boolean().optional(), avatarUrl: webUrl.nullable().optional() })
	.strict();

/** A platform's context: its card, the platform user who owns it, and who answers (`support`: its staff). */
export const platformContext = contextCard.extend({
	owner: z.string().regex(/^[\x21-\x7e]{1,200}$/, 'the platform’s id for the owner'),
	audience: z.enum(['owner', 'support']).optional()
});

/** `GET /api/conversations`: a page (`limit`, `before` = the previous page's `nextCursor`), by status, archived or not. */
export const conversationListQuery = z.object({
	limit: z.coerce.number().int().min(1).max(200).optional(),
	before: z
		.string()
		.regex(/^\d{1,16}\.[0-9A-HJKMNP-TV-Z]{26}$/, 'the nextCursor of the previous page')
		.transform((value) => ({ updatedAt: Number(value.split('.')[0]), id: value.split('.')[1]! }))
		.optional(),
	status: z.enum(['open', 'closed']).optional(),
	archived: z.enum(['true', 'false']).transform((value) => value === 'true').optional()
});
