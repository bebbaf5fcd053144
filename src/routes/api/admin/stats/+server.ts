import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { adminStats } from '$lib/server/admin-stats';
import { api, requireUser } from '$lib/server/api';
import { requireAdmin } from '$lib/server/route-guards';
import { getRuntime } from '$lib/server/runtime';

/** The admin view's figures: conversations by status, messages per day, users online, staff's median first response. */
export const GET: RequestHandler = api((event) => {
	const user = requireUser(event);
	const { db, config, live } = getRuntime();
	requireAdmin(user, config.adminUsernames);
	return json(adminStats(db, live.onlineCount()));
});
