/** What server and client agree on about files (server/SPEC.md ATTACH-1, ATTACH-4). */

/** Image types the server decodes, re-encodes without metadata, makes a thumbnail of and serves inline; anything else is a file to download. */
export const IMAGE_TYPES: ReadonlySet<string> = new Set(['image/png', 'image/jpeg', 'image/webp', 'image/gif']);

/** Sizes in decimal units, as phones and file managers show them. */
export function formatSize(bytes: number): string {
	if (bytes >= 1e9) return `${Math.round(bytes / 1e8) / 10} GB`;
	if (bytes >= 1e6) return `${Math.round(bytes / 1e5) / 10} MB`;
	if (bytes >= 1e3) return `${Math.round(bytes / 1e3)} KB`;
	return `${bytes} bytes`;
}
