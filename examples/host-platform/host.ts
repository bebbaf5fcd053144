import { SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny host platform on its own origin: a campus marketplace post with "Message the seller", a
 * knitting pattern with "Ask the designer" and a bus booking with "Contact support". It never runs chat code: its server registers its users and
 * contexts through the chat's platform API, and its pages link to the chat with a sign-in token it
 * signs for whoever is looking (opened in a new tab, so the chat's own cookie is first-party).
 */

export interface HostOptions {
	/** The chat's base URL, e.g. http://localhost:3000. */
	chatUrl: string;
	platformId: string;
	secret: string;
	port?: number;
}

interface Person {
	id: string;
	name: string;
	staff?: boolean;
}

export const PEOPLE: Person[] = [
	{ id: 'alice', name: 'Alice (seller)' },
	{ id: 'bob', name: 'Bob (buyer)' },
	{ id: 'carol', name: 'Carol (buyer)' },
	{ id: 'dina', name: 'Dina (designer)' },
	{ id: 'sam', name: 'Sam', staff: true },
	{ id: 'tess', name: 'Tess', staff: true }
];

export const POST = { kind: 'post', externalId: 'market/123', title: 'Road bike, 54 cm', owner: 'alice', path: '/posts/123' };
export const PATTERN = { kind: 'pattern', externalId: '77', title: 'Cable-knit scarf pattern', owner: 'dina', path: '/patterns/77' };
export const BOOKING = { kind: 'booking', externalId: '8841', title: 'Booking 8841: Lisbon → Porto bus, 12 Dec', owner: 'sam', audience: 'support' as const, path: '/bookings/8841' };

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export async function startHostPlatform(options: HostOptions): Promise<{ url: string; close(): Promise<void> }> {
	const { chatUrl, platformId, secret } = options;
	const key = new TextEncoder().encode(secret);
	const basic = `Basic ${Buffer.from(`${platformId}:${secret}`).toString('base64')}`;

	async function platformCall(path: string, body: unknown): Promise<void> {
		const response = await fetch(`${chatUrl}/api/platform${path}`, { method: 'PUT', headers: { authorization: basic, 'content-type': 'application/json' }, body: JSON.stringify(body) });
		if (!response.ok) throw new Error(`chat platform API ${path}: ${response.status} ${await response.text()}`);
	}

	let base = '';
	/** A link into the chat as `person`, going on to `next`: a token for one use, valid five minutes. */
	async function chatLink(person: Person, next: string): Promise<string> {
		const token = await new SignJWT({ name: person.name })
			.setProtectedHeader({ alg: 'HS256' })
			.setIssuer(platformId)
			.setSubject(person.id)
			.setAudience('basement-chat')
			.setIssuedAt()
			.setExpirationTime('5m')
			.setJti(randomUUID())
			.sign(key);
		return `${chatUrl}/api/platform/sign-in?${new URLSearchParams({ token, next })}`;
	}
	const contactPath = (c: { kind: string; externalId: string }) => `/contact/${c.kind}/${encodeURIComponent(c.externalId)}?platform=${platformId}`;

	const page = (title: string, body: string) =>
		`<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>body{font:16px system-ui;max-width:40rem;margin:2rem auto;padding:0 1rem}a.cta{display:inline-block;padding:.6rem 1rem;border-radius:.5rem;background:#2563eb;color:#fff;text-decoration:none}</style></head><body>${body}</body></html>`;

	const server: Server = createServer((request, response) => {
		void (async () => {
			const url = new URL(request.url ?? '/', base);
			const who = /(?:^|;\s*)host_user=([a-z]+)/.exec(request.headers.cookie ?? '')?.[1];
			const me = PEOPLE.find((p) => p.id === who);
			const send = (status: number, html: string, headers: Record<string, string> = {}) => {
				response.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
				response.end(html);
			};
			if (url.pathname === '/login') {
				const as = PEOPLE.find((p) => p.id === url.searchParams.get('as'));
				if (!as) return send(400, page('Log in', 'Unknown user.'));
				return send(303, '', { location: url.searchParams.get('next') ?? '/', 'set-cookie': `host_user=${as.id}; Path=/; HttpOnly; SameSite=Lax` });
			}
			const header = `<p>Campus market · ${me ? `signed in as ${escapeHtml(me.name)}` : 'not signed in'} · ${PEOPLE.map((p) => `<a href="/login?as=${p.id}&next=${encodeURIComponent(url.pathname)}">${escapeHtml(p.id)}</a>`).join(' ')}</p>`;
			if (url.pathname === POST.path) {
				const owner = PEOPLE.find((p) => p.id === POST.owner)!;
				let action = '<p>Sign in to message the seller.</p>';
				if (me && me.id === owner.id) action = `<a class="cta" target="_blank" href="${escapeHtml(await chatLink(me, contactPath(POST)))}">Messages about this post</a>`;
				else if (me) action = `<a class="cta" target="_blank" href="${escapeHtml(await chatLink(me, contactPath(POST)))}">Message the seller</a>`;
				return send(200, page(POST.title, `${header}<h1>${escapeHtml(POST.title)}</h1><p>Sold by ${escapeHtml(owner.name)}. 120 €.</p>${action}`));
			}
			if (url.pathname === PATTERN.path) {
				const designer = PEOPLE.find((p) => p.id === PATTERN.owner)!;
				let action = '<p>Sign in to ask the designer.</p>';
				if (me) action = `<a class="cta" target="_blank" href="${escapeHtml(await chatLink(me, contactPath(PATTERN)))}">${me.id === designer.id ? 'Questions about this pattern' : 'Ask the designer'}</a>`;
				return send(200, page(PATTERN.title, `${header}<h1>${escapeHtml(PATTERN.title)}</h1><p>By ${escapeHtml(designer.name)}.</p>${action}`));
			}
			if (url.pathname === BOOKING.path) {
				const action = me ? `<a class="cta" target="_blank" href="${escapeHtml(await chatLink(me, me.staff ? '/staff' : contactPath(BOOKING)))}">${me.staff ? 'Support inbox' : 'Contact support'}</a>` : '<p>Sign in to contact support.</p>';
				return send(200, page(BOOKING.title, `${header}<h1>${escapeHtml(BOOKING.title)}</h1><p>Seat 14B.</p>${action}`));
			}
			return send(200, page('Campus market', `${header}<ul><li><a href="${POST.path}">${escapeHtml(POST.title)}</a></li><li><a href="${PATTERN.path}">${escapeHtml(PATTERN.title)}</a></li><li><a href="${BOOKING.path}">${escapeHtml(BOOKING.title)}</a></li></ul>`));
		})().catch((error: unknown) => {
			response.writeHead(500);
			response.end(String(error));
		});
	});
	await new Promise<void>((resolve) => server.listen(options.port ?? 0, '127.0.0.1', resolve));
	base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

	// The platform's server tells the chat who its people are and what can be talked about.
	for (const person of PEOPLE) await platformCall(`/users/${person.id}`, { displayName: person.name, staff: person.staff ?? false });
	await platformCall(`/contexts/${POST.kind}/${encodeURIComponent(POST.externalId)}`, { title: POST.title, url: base + POST.path, owner: POST.owner });
	await platformCall(`/contexts/${PATTERN.kind}/${PATTERN.externalId}`, { title: PATTERN.title, url: base + PATTERN.path, owner: PATTERN.owner });
	await platformCall(`/contexts/${BOOKING.kind}/${encodeURIComponent(BOOKING.externalId)}`, { title: BOOKING.title, url: base + BOOKING.path, owner: BOOKING.owner, audience: BOOKING.audience });

	return { url: base, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}
