import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { api, requireUser } from '$lib/server/api';
import { toPublicUser } from '$lib/server/users';

export const GET: RequestHandler = api((event) => json({ user: toPublicUser(requireUser(event)) }));
