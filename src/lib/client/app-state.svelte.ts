import { getContext, setContext } from 'svelte';
import type { User } from './api.ts';
import type { Inbox } from './inbox.svelte.ts';
import type { SyncHub } from '$lib/sync/sync-hub.svelte';

/** What every page of the signed-in app shares: me, the sync hub and the conversation list. */
export class AppState {
	me = $state.raw<User | null>(null);
	hub = $state.raw<SyncHub | null>(null);
	inbox = $state.raw<Inbox | null>(null);
}

const KEY = Symbol('app-state');

export function provideAppState(): AppState {
	return setContext(KEY, new AppState());
}

export function useAppState(): { me: User; hub: SyncHub; inbox: Inbox } {
	const state = getContext<AppState>(KEY);
	if (!state.me || !state.hub || !state.inbox) throw new Error('the app is not started');
	return { me: state.me, hub: state.hub, inbox: state.inbox };
}
