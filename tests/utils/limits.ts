/**
 * LIMIT_* values for test servers that are about something else: suites sign up many accounts from
 * one address (127.0.0.1) and add hundreds of members at once, which the production defaults
 * (5 sign-ups per hour per address, 60 people added per minute) rightly refuse, and send messages
 * and frames faster than a person. Every test server starts with these (tests/utils/server.ts);
 * tests of the limits themselves pass their own values on top.
 */
export const RELAXED_LIMITS: Record<string, string> = {
	LIMIT_LOGIN_ACCOUNT: '1000/m',
	LIMIT_LOGIN_IP: '10000/m',
	LIMIT_SIGNUP_IP: '10000/m',
	LIMIT_GROUPS_CREATED: '1000/m',
	LIMIT_MEMBERS_ADDED: '100000/m',
	LIMIT_PEOPLE_SEARCH: '100000/m',
	LIMIT_MESSAGES: '1000000/m',
	LIMIT_STATELESS: '1000000/m',
	LIMIT_SOCKETS_PER_USER: '1000'
};
