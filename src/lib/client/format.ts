/** Times as people read them in a chat. */

const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekday = new Intl.DateTimeFormat(undefined, { weekday: 'short' });
const date = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDay = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });

/** Dates beyond what Date can hold (a broken clock, an old server's data) show as "now" rather than break the view. */
function clamp(ms: number): number {
	return Number.isFinite(ms) && Math.abs(ms) <= 8.64e15 ? ms : Date.now();
}

function startOfDay(ms: number): number {
	const d = new Date(ms);
	d.setHours(0, 0, 0, 0);
	return d.getTime();
}

export function formatTime(ms: number): string {
	return time.format(clamp(ms));
}

/** Today: the time; this week: the weekday; older: the date. */
export function formatListTime(ms: number, now = Date.now()): string {
	ms = clamp(ms);
	const days = Math.round((startOfDay(now) - startOfDay(ms)) / 86_400_000);
	if (days <= 0) return time.format(ms);
	if (days < 7) return weekday.format(ms);
	return date.format(ms);
}

export function formatDay(ms: number, now = Date.now()): string {
	ms = clamp(ms);
	const days = Math.round((startOfDay(now) - startOfDay(ms)) / 86_400_000);
	if (days === 0) return 'Today';
	if (days === 1) return 'Yesterday';
	return longDay.format(ms);
}

export function dayKey(ms: number): number {
	return startOfDay(clamp(ms));
}

/** "today at 14:05", "yesterday at 09:12", "on 3 Mar at 18:40". */
export function formatLastSeen(ms: number, now = Date.now()): string {
	ms = clamp(ms);
	const days = Math.round((startOfDay(now) - startOfDay(ms)) / 86_400_000);
	if (days <= 0) return `today at ${time.format(ms)}`;
	if (days === 1) return `yesterday at ${time.format(ms)}`;
	return `on ${date.format(ms)} at ${time.format(ms)}`;
}
