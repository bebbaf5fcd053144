import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { api, createAccount, waitFor } from '../utils/server.ts';
import { useTestServer } from '../utils/test-server.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

describe('examples/bot.ts', () => {
	const server = useTestServer();

	it('signs up, joins its conversations and answers through the sync protocol', async () => {
		const bot = spawn(process.execPath, ['--import', 'tsx', 'examples/bot.ts'], {
			cwd: ROOT,
			env: { ...process.env, CHAT_URL: server.url, BOT_USERNAME: 'echo_bot', BOT_PASSWORD: 'echo bot password' },
			stdio: ['ignore', 'pipe', 'pipe']
		});
		let output = '';
		bot.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
		bot.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
		try {
			await waitFor(() => output.includes('is listening'), 15_000, 'the bot to start');
			const alice = await createAccount(server.url);
			const created = await api<{ conversation: { id: string } }>(server.url, '/api/conversations', {
				token: alice.token,
				body: { kind: 'direct', members: ['echo_bot'] }
			});
			const id = created.body.conversation.id;
			await waitFor(() => output.includes(`joined ${id}`), 15_000, 'the bot to join');
			await api(server.url, `/api/conversations/${id}/messages`, { token: alice.token, body: { body: 'ping' } });
			let bodies: string[] = [];
			const deadline = Date.now() + 25_000;
			while (!bodies.includes('echo: ping') && Date.now() < deadline) {
				const history = await api<{ messages: Array<{ body: string }> }>(server.url, `/api/conversations/${id}/messages`, { token: alice.token });
				bodies = history.body.messages.map((m) => m.body);
				await new Promise((resolve) => setTimeout(resolve, 50));
			}
			expect(bodies).toEqual(['ping', 'echo: ping']);
		} finally {
			bot.kill('SIGTERM');
		}
	}, 90_000);
});
