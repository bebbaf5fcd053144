/** Rules for the names people show each other; shared so the sign-up form says what the server will refuse. */

// Characters that render as nothing, or reorder the text around them, let one person pass for another
// ("admin" followed by an invisible mark, a name that reads backwards): format (Cf) and control (Cc)
// characters, line and paragraph separators, and the blank Hangul fillers, which are letters.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\u115F\u1160\u3164\uFFA0]/u;
// The zero-width joiner is format too, but between two emoji it only draws them as one (👩‍💻).
const EMOJI_JOINER = /(?<=\p{Extended_Pictographic}\uFE0F?)\u200D(?=\p{Extended_Pictographic})/gu;

export const HIDDEN_CHARACTERS_MESSAGE =
	'Display names cannot contain invisible characters or characters that change the direction of text.';

export type NameCheck = { ok: true } | { ok: false; message: string };

export function checkDisplayName(name: string): NameCheck {
	if (HIDDEN.test(name.replace(EMOJI_JOINER, ''))) return { ok: false, message: HIDDEN_CHARACTERS_MESSAGE };
	return { ok: true };
}

/**
 * Whether to show `@username` beside a display name. Display names are free text, so two people can
 * pick the same one; a name that is not the person's own username comes with it, so every name
 * shown is either unique or next to something unique.
 */
export function showsUsername(user: { username: string; displayName: string }): boolean {
	return user.displayName !== user.username;
}
