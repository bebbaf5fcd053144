/**
 * 8. Web open (this project, in Chromium): how soon the web app shows the last page of a
 * conversation when it opens it from IndexedDB (OFFLINE-8). A long room of BENCH_LONG messages and
 * a short room of 100 (the in-run baseline), written through the sync path; a browser user who is
 * a member of both opens each once (its epoch's document and a page of history go to IndexedDB),
 * then, BENCH_WEB_SAMPLES times per room, offline and online:
 *   - list click: the app freshly loaded on the conversation list (so the conversation is not in
 *     memory yet), a click on the room's row, until the rows are on screen;
 *   - full load: a navigation to /c/<id> that loads the whole app, from navigation start.
 * "On screen": the page holds min(50, messages in the room) `li.message` rows and the frame
 * showing them has been painted, timed in the page (performance.now(), a MutationObserver, then
 * requestAnimationFrame), so no Playwright round trip is in the figure.
 * Goal: the long room's list click, offline, median ≤ 100 ms.
 */
import type { BrowserContext, Page } from '@playwright/test';
import { HISTORY_PAGE_DEFAULT } from '../../src/lib/shared/limits.ts';
import { serviceWorkerReady } from '../../tests/e2e/helpers.ts';
import { api, createConversation } from '../../tests/utils/server.ts';
import { config } from '../config.ts';
import { median } from '../measure.ts';
import type { Row } from '../report.ts';
import type { AppSystem } from '../systems/app.ts';
import { findChromium, launchChromium, signUpInBrowser } from '../systems/browser.ts';
import type { User } from '../systems/types.ts';
import type { Scenario } from './common.ts';
import { seedRoom } from './seed.ts';

const GOAL_MS = 100;
/** What the web app shows on opening a conversation: the newest page. */
const SHOWN = HISTORY_PAGE_DEFAULT;
const SHORT_ROOM = 100;
/** How long the app may take to show a room before the sample counts as never (NaN). */
const TIMEOUT_MS = 30_000;
/** A pause before each sample, for the previous one's work (REST pages, IndexedDB writes) to end, as a person's would. */
const SETTLE_MS = 300;
const ROWS = '[data-testid="messages"] li.message';

type RoomName = 'long' | 'short';
type Network = 'offline' | 'online';
type Navigation = 'click' | 'load';
const NETWORKS: Network[] = ['offline', 'online'];
const NAVIGATIONS: Navigation[] = ['click', 'load'];
const NAVIGATION_LABEL: Record<Navigation, string> = { click: 'list click', load: 'full load' };

interface WebRoom {
	name: RoomName;
	id: string;
	messages: number;
	/** Rows to wait for: a page, or all the room has. */
	target: number;
}

/** Milliseconds until the rows were in the DOM, and until the frame showing them was painted. */
interface Shown {
	dom: number;
	painted: number;
}

type SampleKey = `${RoomName} ${Network} ${Navigation}`;
type Samples = Partial<Record<SampleKey, Shown[]>>;

/** What the page scripts below keep on `window`. */
interface BenchWindow {
	benchRows?: (target: number) => Promise<Shown>;
	/** Started at document start when the page is a room's: its rows, from navigation start. */
	benchOpened?: Promise<Shown>;
}

interface WatchOptions {
	selector: string;
	/** Rows to wait for, by page path (`/c/<id>`). */
	targets: Record<string, number>;
	timeoutMs: number;
}

// The two functions below run in the page, serialized: no named inner functions (tsx's esbuild
// wraps them in a `__name` helper the page does not have), only anonymous callbacks.

/** Init script: `window.benchRows(n)` times the next `n` rows, and a room's page times its own from navigation start. */
function installRowWatch({ selector, targets, timeoutMs }: WatchOptions): void {
	const page = window as BenchWindow;
	page.benchRows = (target) =>
		new Promise((resolve) => {
			let dom = NaN;
			const observer = new MutationObserver(() => {
				if (!Number.isNaN(dom) || document.querySelectorAll(selector).length < target) return;
				dom = performance.now();
				observer.disconnect();
				// requestAnimationFrame runs before the frame's paint; a task queued from it runs after.
				requestAnimationFrame(() => setTimeout(() => resolve({ dom, painted: performance.now() })));
			});
			observer.observe(document, { childList: true, subtree: true });
			setTimeout(() => {
				observer.disconnect();
				resolve({ dom: NaN, painted: NaN });
			}, timeoutMs);
		});
	const target = targets[location.pathname];
	if (target !== undefined) page.benchOpened = page.benchRows(target);
}

/** Clicks the row link and times its rows from the click. */
function clickAndTime({ link, target }: { link: string; target: number }): Promise<Shown> {
	const page = window as BenchWindow;
	const start = performance.now();
	const shown = page.benchRows!(target);
	document.querySelector<HTMLElement>(link)!.click();
	return shown.then(({ dom, painted }) => ({ dom: dom - start, painted: painted - start }));
}

const roomPath = (room: WebRoom) => `/c/${room.id}`;
const rowLink = (room: WebRoom) => `aside[aria-label="Conversations"] a[href$="${roomPath(room)}"]`;

/** A group of `owner` and `reader` with `count` messages from the owner, read by the reader (so it opens on the newest). */
async function seededRoom(app: AppSystem, owner: User, reader: User, name: RoomName, count: number): Promise<WebRoom & { seconds: number }> {
	const id = await createConversation(app.url, owner, [reader], `${name === 'long' ? 'Long' : 'Short'} room`);
	const { seconds } = await seedRoom(app, owner, id, count);
	const read = await api(app.url, `/api/conversations/${id}/read`, { method: 'PUT', token: reader.token });
	if (read.status !== 200) throw new Error(`marking read failed: ${JSON.stringify(read.body)}`);
	return { name, id, messages: count, target: Math.min(SHOWN, count), seconds };
}

/** Messages in the conversation's current epoch: those the app shows from its document rather than from the history. */
async function epochMessages(app: AppSystem, user: User, id: string): Promise<number> {
	const { conversation } = (await api<{ conversation: { epochFirstSeq: number } }>(app.url, `/api/conversations/${id}`, { token: user.token })).body;
	const { messages } = (await api<{ messages: { seq: number }[] }>(app.url, `/api/conversations/${id}/messages?limit=1`, { token: user.token })).body;
	return (messages.at(-1)?.seq ?? 0) - conversation.epochFirstSeq + 1;
}

/** The app on the conversation list, its service worker in control (so it also loads offline). */
async function openApp(context: BrowserContext, rooms: WebRoom[]): Promise<Page> {
	const targets = Object.fromEntries(rooms.map((room) => [roomPath(room), room.target]));
	await context.addInitScript(installRowWatch, { selector: ROWS, targets, timeoutMs: TIMEOUT_MS });
	const page = await context.newPage();
	await page.goto('/');
	await page.getByRole('button', { name: 'New conversation' }).waitFor();
	await serviceWorkerReady(page);
	return page;
}

/** Opens the room once online, so its epoch's document and a page of history are on the device. */
async function openOnce(page: Page, room: WebRoom): Promise<void> {
	await page.goto(roomPath(room));
	await page.waitForFunction(({ selector, target }) => document.querySelectorAll(selector).length >= target, { selector: ROWS, target: room.target }, { timeout: TIMEOUT_MS });
	// y-indexeddb and the history cache write behind what is shown.
	await page.waitForTimeout(1000);
}

async function timeClick(page: Page, room: WebRoom): Promise<Shown> {
	// A fresh app on the list: the conversation opens from IndexedDB, not from the memory of an earlier visit.
	await page.goto('/');
	await page.locator(rowLink(room)).waitFor();
	await page.waitForTimeout(SETTLE_MS);
	return page.evaluate(clickAndTime, { link: rowLink(room), target: room.target });
}

async function timeLoad(page: Page, room: WebRoom): Promise<Shown> {
	await page.waitForTimeout(SETTLE_MS);
	await page.goto(roomPath(room), { waitUntil: 'commit' });
	return page.evaluate(() => (window as BenchWindow).benchOpened!);
}

const TIME: Record<Navigation, (page: Page, room: WebRoom) => Promise<Shown>> = { click: timeClick, load: timeLoad };

/** Every sample: offline then online, the rooms in alternating order. */
async function measure(context: BrowserContext, page: Page, rooms: WebRoom[]): Promise<Samples> {
	const samples: Samples = {};
	for (const network of NETWORKS) {
		await context.setOffline(network === 'offline');
		for (let i = 0; i < config.webSamples; i++) {
			for (const room of i % 2 ? [...rooms].reverse() : rooms) {
				for (const navigation of NAVIGATIONS) (samples[`${room.name} ${network} ${navigation}`] ??= []).push(await TIME[navigation](page, room));
			}
		}
	}
	await context.setOffline(false);
	return samples;
}

/** Median and max of the painted times (NaN when any sample never showed its rows). */
function summary(shown: Shown[] = []): { median: number; max: number } {
	const painted = shown.map((s) => s.painted);
	return { median: median(painted), max: Math.max(...painted) };
}

function rowsOf(samples: Samples, rooms: WebRoom[], long: { epochMessages: number; seedSeconds: number }): Row[] {
	const scenario = `8 web open (${config.long} msgs)`;
	const row = (metric: string, value: number, digits: number, goal?: Row['goal']): Row => ({ scenario, metric, digits, goal, values: { app: value } });
	const rows: Row[] = [];
	for (const navigation of NAVIGATIONS) {
		for (const network of NETWORKS) {
			const label = `${NAVIGATION_LABEL[navigation]}, ${network}`;
			const longRoom = summary(samples[`long ${network} ${navigation}`]);
			const shortRoom = summary(samples[`short ${network} ${navigation}`]);
			const goal = navigation === 'click' && network === 'offline' ? ({ on: 'app', op: '<=', limit: GOAL_MS, unit: 'ms' } as const) : undefined;
			rows.push(
				row(`${label}: long room ms median`, longRoom.median, 0, goal),
				row(`${label}: long room ms max`, longRoom.max, 0),
				row(`${label}: short room ms median`, shortRoom.median, 0),
				row(`${label}: short room ms max`, shortRoom.max, 0),
				row(`${label}: long ÷ short (medians)`, longRoom.median / shortRoom.median, 2)
			);
		}
	}
	rows.push(
		...rooms.map((room) => row(`${room.name} room: rows waited for`, room.target, 0)),
		row('long room: messages in the open epoch', long.epochMessages, 0),
		row('s to write the long room', long.seedSeconds, 1)
	);
	return rows;
}

export const webOpenScenario: Scenario = async (bench) => {
	const chromium = findChromium();
	if ('missing' in chromium) {
		console.log(`  web-open skipped: ${chromium.missing}`);
		bench.details.webOpen = { skipped: chromium.missing };
		return [{ scenario: '8 web open', metric: `skipped: ${chromium.missing}`, values: {} }];
	}
	const app = (await bench.fresh('app')) as AppSystem;
	const browser = await launchChromium(chromium.path);
	try {
		const context = await browser.newContext({ baseURL: app.url });
		const [owner] = await app.users(1);
		const reader = await signUpInBrowser(context, app.url, 'bench_reader');
		const long = await seededRoom(app, owner!, reader, 'long', config.long);
		const short = await seededRoom(app, owner!, reader, 'short', SHORT_ROOM);
		const rooms = [long, short];
		const figures = { epochMessages: await epochMessages(app, reader, long.id), seedSeconds: long.seconds };
		const page = await openApp(context, rooms);
		for (const room of rooms) await openOnce(page, room);
		const samples = await measure(context, page, rooms);
		bench.details.webOpen = { rooms, figures, samples };
		return rowsOf(samples, rooms, figures);
	} finally {
		await browser.close();
		await app.stop();
	}
};
