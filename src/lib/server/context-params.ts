import { ApiError } from './errors.ts';
import { CONTEXT_EXTERNAL_ID, CONTEXT_KIND } from './contexts.ts';
import { PLATFORM_ID } from './platforms.ts';

/**
 * `:kind` and `:externalId` of a context route and its namespace (`?platform=`, users' own when
 * absent), checked (400 `invalid-context`).
 */
export function contextParams(params: { kind?: string; externalId?: string }, url?: URL): { kind: string; externalId: string; platform: string } {
	const platform = url?.searchParams.get('platform') ?? '';
	if (platform !== '' && !PLATFORM_ID.test(platform)) throw new ApiError(400, 'invalid-context', 'platform is a registered platform’s id.');
	const kind = params.kind ?? '';
	const externalId = params.externalId ?? '';
	if (!CONTEXT_KIND.test(kind)) throw new ApiError(400, 'invalid-context', 'A context kind is a lower-case word of up to 32 letters, digits, - and _.');
	if (!CONTEXT_EXTERNAL_ID.test(externalId)) throw new ApiError(400, 'invalid-context', 'A context id is 1 to 200 printable characters without spaces.');
	return { kind, externalId, platform };
}
