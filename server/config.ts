import { resolve } from 'node:path';
import { z } from 'zod';

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
	SECURE_COOKIES: z.enum(['true', 'false']).default('false').transform((value) => value === 'true')
});

export interface Config {
	port: number;
	host: string;
	dataDir: string;
	allowedOrigins: string[];
	synchronous: 'FULL' | 'NORMAL';
	sessionDays: number;
	secureCookies: boolean;
	/** Take X-Forwarded-Proto from a reverse proxy in front of the app. */
	trustProxy: boolean;
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
		trustProxy: c.TRUST_PROXY
	};
}
