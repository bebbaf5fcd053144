/**
 * The server's rules for names and passwords (src/lib/server/schemas.ts), told in plain words before a
 * request is sent, and the server's refusals turned into the same words next to the field they are about.
 */

import { DISPLAY_NAME_MAX, PASSWORD_MAX, PASSWORD_MIN } from '$lib/shared/limits';
import { checkDisplayName } from '$lib/shared/names';
import { ApiError } from './api.ts';

const USERNAME_MIN = 3;
const USERNAME_MAX = 32;

export function usernameProblem(raw: string): string | null {
	const name = raw.trim();
	if (name.length === 0) return 'Choose a username.';
	if (/[^a-z0-9_]/.test(name)) return 'Use only lowercase letters, digits and _ (no spaces or capitals).';
	if (name.length < USERNAME_MIN) return `Use at least ${USERNAME_MIN} characters.`;
	if (name.length > USERNAME_MAX) return `Use at most ${USERNAME_MAX} characters (this one has ${name.length}).`;
	return null;
}

export function passwordProblem(password: string): string | null {
	if (password.length === 0) return 'Choose a password.';
	if (password.length < PASSWORD_MIN) return `Use at least ${PASSWORD_MIN} characters (this one has ${password.length}).`;
	if (password.length > PASSWORD_MAX) return `Use at most ${PASSWORD_MAX} characters.`;
	return null;
}

/** `optional`: an empty name is fine (sign-up uses the username instead). */
export function displayNameProblem(raw: string, optional = false): string | null {
	const name = raw.trim();
	if (name.length === 0) return optional ? null : 'Enter a name.';
	if (name.length > DISPLAY_NAME_MAX) return `Use at most ${DISPLAY_NAME_MAX} characters (this one has ${name.length}).`;
	const check = checkDisplayName(name);
	return check.ok ? null : check.message;
}

/** A refusal the person can act on, said the way the rest of the app says it. */
export function plainMessage(error: unknown): string {
	if (!(error instanceof ApiError)) return 'Something went wrong. Try again.';
	if (error.offline) return 'You are offline. Try again when you are back online.';
	if (error.status >= 500) return 'The server had a problem. Try again in a moment.';
	return error.message;
}
