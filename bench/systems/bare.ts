/** The raw Hocuspocus relay (bench/bare-relay.ts): the same transport as this project, no auth, no disk. */
import { ulid } from 'ulid';
import { spawnListening } from '../processes.ts';
import { hocuspocusClient } from './hocuspocus-client.ts';
import type { System, User } from './types.ts';

export async function startBare(): Promise<System> {
	const relay = await spawnListening('bench/bare-relay.ts');
	const wsUrl = relay.url.replace('http', 'ws');
	return {
		name: 'bare',
		pid: relay.child.pid!,
		// Anyone may connect: users are names only.
		users: async (n) => Array.from({ length: n }, (_, i): User => ({ id: `user-${i}`, username: `user_${i}`, token: 'anything' })),
		conversation: async () => `bench-${ulid()}`,
		connect: (user, counter) => hocuspocusClient({ wsUrl, docName: (id) => id, ack: 'sync-status' }, user, counter),
		stop: () => relay.stop()
	};
}
