import { ApiError } from './errors.ts';
import { CONTEXT_EXTERNAL_ID, CONTEXT_KIND } from './contexts.ts';

/** `:kind` and `:externalId` of a context route, checked (400 `invalid-context`). */
export function contextParams(params: { kind?: string; externalId?: string }): { kind: string; externalId: string } {
	const kind = params.kind ?? '';
	const externalId = params.externalId ?? '';
	if (!CONTEXT_KIND.test(kind)) throw new ApiError(400, 'invalid-context', 'A context kind is a lower-case word of up to 32 letters, digits, - and _.');
	if (!CONTEXT_EXTERNAL_ID.test(externalId)) throw new ApiError(400, 'invalid-context', 'A context id is 1 to 200 printable characters without spaces.');
	return { kind, externalId };
}
