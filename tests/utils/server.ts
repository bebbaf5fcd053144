import { HocuspocusProvider, HocuspocusProviderWebsocket } from '@hocuspocus/provider';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { QuietWebSocket } from './quiet-websocket.ts';
import * as Y from 'yjs';
import { startApp, type App } from '../../server/app.ts';
import { loadConfig } from '../../server/config.ts';
import { RELAXED_LIMITS } from './limits.ts';
import { conversationDocName, decodeServerStateless, type ClientStateless, type ServerStateless } from '../../src/lib/shared/protocol.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export function tempDataDir(): { dir: string; remove(): void } {
	const dir = mkdtempSync(join(tmpdir(), 'chat-test-'));
	return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestServer {
	url: string;
	wsUrl: string;
	app: App;
	close(): Promise<void>;
}

/** The real app in this process, on port 0, with its SQLite file in `dataDir`. */
export async function startTestServer(dataDir: string, env: Record<string, string> = {}): Promise<TestServer> {
	const app = await startApp(loadConfig({ PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, ...RELAXED_LIMITS, ...env }));
	return { url: app.url, wsUrl: app.url.replace('http', 'ws') + '/sync', app, close: () => app.close() };
}

export interface ServerProcess {
	url: string;
	wsUrl: string;
	child: ChildProcess;
	/** What the process wrote to stdout and stderr (the last megabyte of it). */
	output(): string;
	/** Resolves with the exit code (or signal) once the process is gone. */
	exited: Promise<number | string | null>;
	kill(signal: NodeJS.Signals): Promise<number | string | null>;
}

export interface SpawnOptions {
	/** A fixed port (a restart on the same address lets providers reconnect by themselves); default 0. */
	port?: number;
	env?: Record<string, string>;
	/** Extra Node flags before the entry (e.g. `--import` of a probe module). */
	execArgv?: string[];
	/** Open an IPC channel to the process (`child.send`). */
	ipc?: boolean;
}

/** The real app as its own process (`npm start`'s entry), for kill -9 and restarts. */
export function spawnServer(dataDir: string, options: SpawnOptions = {}): Promise<ServerProcess> {
	const child = spawn(process.execPath, ['--import', 'tsx', ...(options.execArgv ?? []), 'server/index.ts'], {
		cwd: ROOT,
		env: { ...process.env, ...RELAXED_LIMITS, ...options.env, PORT: String(options.port ?? 0), HOST: '127.0.0.1', DATA_DIR: dataDir },
		stdio: options.ipc ? ['ignore', 'pipe', 'pipe', 'ipc'] : ['ignore', 'pipe', 'pipe']
	});
	const exited = new Promise<number | string | null>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal)));
	let output = '';
	const keep = (chunk: Buffer) => {
		output += chunk.toString();
		if (output.length > 2_000_000) output = output.slice(-1_000_000);
	};
	child.stdout?.on('data', keep);
	child.stderr?.on('data', keep);
	return new Promise((resolve, reject) => {
		const onData = () => {
			const match = /listening on (http:\/\/[^\s]+)/.exec(output);
			if (!match?.[1]) return;
			child.stdout?.off('data', onData);
			const url = match[1];
			resolve({
				url,
				wsUrl: url.replace('http', 'ws') + '/sync',
				child,
				output: () => output,
				exited,
				kill(signal) {
					child.kill(signal);
					return exited;
				}
			});
		};
		child.stdout?.on('data', onData);
		void exited.then((code) => reject(new Error(`server exited (${code}) before listening:\n${output}`)));
	});
}

export interface Account {
	id: string;
	username: string;
	token: string;
}

let counter = 0;
export function uniqueName(prefix = 'user'): string {
	counter += 1;
	return `${prefix}_${process.pid % 10000}_${counter}`;
}

export async function api<T = unknown>(
	url: string,
	path: string,
	options: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {}
): Promise<{ status: number; body: T; headers: Headers }> {
	const headers: Record<string, string> = { ...options.headers };
	if (options.token) headers.authorization = `Bearer ${options.token}`;
	if (options.body !== undefined) headers['content-type'] ??= 'application/json';
	const response = await fetch(url + path, {
		method: options.method ?? (options.body === undefined ? 'GET' : 'POST'),
		headers,
		body: options.body === undefined ? undefined : typeof options.body === 'string' ? options.body : JSON.stringify(options.body)
	});
	const text = await response.text();
	return { status: response.status, body: (text ? JSON.parse(text) : null) as T, headers: response.headers };
}

/** Signs up a fresh user and returns a bearer token for it. */
export async function createAccount(url: string, username = uniqueName()): Promise<Account> {
	const password = 'correct horse battery';
	const signup = await api<{ user: { id: string } }>(url, '/api/auth/signup', { body: { username, password } });
	if (signup.status !== 201) throw new Error(`signup failed: ${JSON.stringify(signup.body)}`);
	const token = await api<{ token: string }>(url, '/api/auth/tokens', { body: { username, password } });
	return { id: signup.body.user.id, username, token: token.body.token };
}

export async function createConversation(url: string, owner: Account, others: Account[], title = 'Study group'): Promise<string> {
	const body =
		others.length === 1 && title === ''
			? { kind: 'direct', members: [others[0]!.username] }
			: { kind: 'group', members: others.map((o) => o.username), title };
	const response = await api<{ conversation: { id: string } }>(url, '/api/conversations', { token: owner.token, body });
	if (response.status !== 201) throw new Error(`create conversation failed: ${JSON.stringify(response.body)}`);
	return response.body.conversation.id;
}

export interface SyncClient {
	doc: Y.Doc;
	provider: HocuspocusProvider;
	socket: HocuspocusProviderWebsocket;
	/** Reasons given by the server: auth failures and closes. */
	refusals: string[];
	/** Every stateless message the server sent to this document. */
	stateless: ServerStateless[];
	/** `update-refused` stateless messages received. */
	rejected: Array<Extract<ServerStateless, { type: 'update-refused' }>>;
	synced: Promise<void>;
	send(message: ClientStateless): void;
	destroy(): void;
}

/** A real Hocuspocus provider in Node (ws polyfill), like a bot or a second device. */
export function connectClient(wsUrl: string, conversationId: string, token: string, doc = new Y.Doc(), options: ConnectOptions = {}): SyncClient {
	return connectDocument(wsUrl, conversationDocName(conversationId), token, doc, options);
}

export interface ConnectOptions {
	/** The web app's provider instead of the stock one. */
	Provider?: typeof HocuspocusProvider;
	/** False: the socket stays closed until `socket.connect()`, as in a page started offline. */
	autoConnect?: boolean;
}

/** A provider for any document name (a user channel, `user:<id>`, or a conversation). */
export function connectDocument(wsUrl: string, name: string, token: string, doc = new Y.Doc(), { Provider = HocuspocusProvider, autoConnect = true }: ConnectOptions = {}): SyncClient {
	const socket = new HocuspocusProviderWebsocket({ url: wsUrl, WebSocketPolyfill: QuietWebSocket, delay: 50, minDelay: 50, maxDelay: 500, autoConnect });
	const refusals: string[] = [];
	const rejected: SyncClient['rejected'] = [];
	const stateless: ServerStateless[] = [];
	let markSynced: () => void = () => {};
	const synced = new Promise<void>((resolve) => (markSynced = resolve));
	const provider = new Provider({
		websocketProvider: socket,
		name,
		document: doc,
		token,
		onSynced: () => markSynced(),
		onAuthenticationFailed: ({ reason }) => refusals.push(reason),
		onClose: ({ event }) => {
			if (event.reason) refusals.push(event.reason);
		},
		onStateless: ({ payload }) => {
			const message = decodeServerStateless(payload);
			if (message) stateless.push(message);
			if (message?.type === 'update-refused') rejected.push(message);
		}
	});
	provider.attach();
	return {
		doc,
		provider,
		socket,
		refusals,
		rejected,
		stateless,
		synced,
		send(message: ClientStateless) {
			provider.sendStateless(JSON.stringify(message));
		},
		destroy() {
			provider.destroy();
			socket.destroy();
		}
	};
}

/** Waits until `check` holds (it may ask the server: an async check is awaited), or throws after `timeoutMs`. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
	const start = Date.now();
	while (!(await check())) {
		if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
		await new Promise((resolve) => setTimeout(resolve, 10));
	}
}
