import type { RequestHandler } from './$types';
import { json } from '@sveltejs/kit';
import { z } from 'zod';
import { api, readJson, requireUser, unwrap } from '$lib/server/api';
import { listConversations } from '$lib/server/conversations';
import { getRuntime } from '$lib/server/runtime';
import { getUserById, toPublicUser } from '$lib/server/users';

const avatarBody = z.object({ uploadId: z.string().regex(/^[0-9A-HJKMNP-TV-Z]{26}$/, 'an upload id') }).strict();

/** Makes one of my image uploads my profile photo (cropped square); every conversation I am in shows it. */
export const PUT: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	const { uploadId } = await readJson(event, avatarBody);
	return json({ user: await changeAvatar(user.id, uploadId) });
});

/** Back to initials on a colour; the photo is erased. */
export const DELETE: RequestHandler = api(async (event) => {
	const user = requireUser(event);
	return json({ user: await changeAvatar(user.id, null) });
});

async function changeAvatar(userId: string, uploadId: string | null) {
	const { db, live, uploads } = getRuntime();
	unwrap(await uploads.setAvatar(userId, uploadId));
	for (const conversation of listConversations(db, userId)) live.conversationChanged(conversation.id);
	return toPublicUser(getUserById(db, userId)!);
}
