import { resolve } from 'node:path';
import { z } from 'zod';
import type { RateLimits } from '../src/lib/server/limiters.ts';
import { parseRateSpec } from '../src/lib/server/rate-limit.ts';
import type { UploadLimits } from '../src/lib/server/uploads.ts';
import { DEFAULT_EPOCH_LIMITS, type EpochLimits } from './sync/epochs.ts';

/** A LIMIT_* rate such as "10/15m"; the message of a bad one names the variable (its path) and shows the form. */
const rate = (fallback: string) =>
	z
		.string()
		.default(fallback)
		.transform((text, context) => {
			try {
				return parseRateSpec(text);
			} catch (error) {
				context.addIssue({ code: 'custom', message: (error as Error).message });
				return z.NEVER;
			}
		});

const schema = z.object({
	PORT: z.coerce.number().int().min(0).max(65535).default(3000),
	HOST: z.string().min(1).default('0.0.0.0'),
	DATA_DIR: z.string().min(1).default('./data'),
	ALLOWED_ORIGINS: z
		.string()
		.default('')
		.transform((value) => value.split(',').map((origin) => origin.trim()).filter(Boolean))
		.pipe(z.array(z.url({ message: 'ALLOWED_ORIGINS must be comma-separated origins like https://example.com' }))),
	SQLITE_SYNCHRONOUS: z.enum(['FULL', 'NORMAL']).default('FULL'),
	SESSION_DAYS: z.coerce.number().int().min(1).max(365).default(30),
	TRUST_PROXY: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
	SECURE_COOKIES: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
	LIMIT_LOGIN_ACCOUNT: rate('10/15m'),
	LIMIT_LOGIN_IP: rate('30/15m'),
	LIMIT_SIGNUP_IP: rate('5/h'),
	LIMIT_GROUPS_CREATED: rate('10/m'),
	LIMIT_MEMBERS_ADDED: rate('60/m'),
	LIMIT_PEOPLE_SEARCH: rate('30/m'),
	LIMIT_MESSAGES: rate('120/m'),
	LIMIT_STATELESS: rate('300/m'),
	LIMIT_SOCKETS_PER_USER: z.coerce.number().int().min(1).default(30),
	DOCUMENT_LINGER_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
	EPOCH_MESSAGES: z.coerce.number().int().min(2).max(100_000).default(DEFAULT_EPOCH_LIMITS.messages),
	EPOCH_BYTES: z.coerce.number().int().min(4096).max(64 * 1024 * 1024).default(DEFAULT_EPOCH_LIMITS.bytes),
	ADMIN_USERNAMES: z
		.string()
		.default('')
		.transform((value) => value.split(',').map((name) => name.trim()).filter(Boolean)),
	FETCH_PRIVATE_ADDRESSES: z.enum(['true', 'false']).default('false').transform((value) => value === 'true'),
	UPLOAD_MAX_BYTES: z.coerce.number().int().min(1024).max(1e9).default(25_000_000),
	UPLOAD_QUOTA_BYTES: z.coerce.number().int().min(1024).max(1e12).default(1_000_000_000),
	EPOCH_QUIET_MS: z.coerce.number().int().min(0).max(600_000).default(DEFAULT_EPOCH_LIMITS.quietMs)
});

export interface Config {
	port: number;
	host: string;
	dataDir: string;
	allowedOrigins: string[];
	synchronous: 'FULL' | 'NORMAL';
	sessionDays: number;
	secureCookies: boolean;
	/** Take X-Forwarded-Proto and X-Forwarded-For from a reverse proxy in front of the app. */
	trustProxy: boolean;
	/** Abuse limits (LIMIT_*): per account, address, user or connection. */
	limits: RateLimits;
	/** How long a conversation stays loaded after its last connection closes. */
	documentLingerMs: number;
	/** When a conversation's epoch ends: messages sequenced in it, or its stored bytes. */
	epochLimits: EpochLimits;
	/** Largest upload and each user's total, bytes (UPLOAD_MAX_BYTES, UPLOAD_QUOTA_BYTES). */
	uploads: UploadLimits;
	/** Who sees the admin view (ADMIN_USERNAMES, comma-separated usernames). */
	adminUsernames: string[];
}

/** Reads the environment once; a bad value stops the start with a message naming it. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
	const parsed = schema.safeParse(env);
	if (!parsed.success) {
		const lines = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
		throw new Error(`Invalid configuration:\n${lines.join('\n')}`);
	}
	const c = parsed.data;
	return {
		port: c.PORT,
		host: c.HOST,
		dataDir: resolve(c.DATA_DIR),
		allowedOrigins: c.ALLOWED_ORIGINS.map((origin) => new URL(origin).origin),
		synchronous: c.SQLITE_SYNCHRONOUS,
		sessionDays: c.SESSION_DAYS,
		secureCookies: c.SECURE_COOKIES,
		trustProxy: c.TRUST_PROXY,
		limits: {
			loginAccount: c.LIMIT_LOGIN_ACCOUNT,
			loginIp: c.LIMIT_LOGIN_IP,
			signupIp: c.LIMIT_SIGNUP_IP,
			groupsCreated: c.LIMIT_GROUPS_CREATED,
			membersAdded: c.LIMIT_MEMBERS_ADDED,
			peopleSearch: c.LIMIT_PEOPLE_SEARCH,
			messages: c.LIMIT_MESSAGES,
			stateless: c.LIMIT_STATELESS,
			socketsPerUser: c.LIMIT_SOCKETS_PER_USER
		},
		documentLingerMs: c.DOCUMENT_LINGER_MS,
		epochLimits: { messages: c.EPOCH_MESSAGES, bytes: c.EPOCH_BYTES, quietMs: c.EPOCH_QUIET_MS },
		uploads: { maxBytes: c.UPLOAD_MAX_BYTES, quotaBytes: c.UPLOAD_QUOTA_BYTES, fetchPrivate: c.FETCH_PRIVATE_ADDRESSES },
		adminUsernames: c.ADMIN_USERNAMES
	};
}
