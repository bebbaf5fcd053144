import { describe, expect, it } from 'vitest';
import { decodeClientStateless, decodeServerStateless, parseConversationDocName, parseUserDocName } from '../../src/lib/shared/protocol.ts';

describe('protocol decoding of untrusted input', () => {
	it('[RCPT-2] client stateless messages: only well-formed receipts and typing signals get through', () => {
		expect(decodeClientStateless('{"type":"typing","active":true,"userId":"someone"}')).toEqual({ type: 'typing', active: true });
		expect(decodeClientStateless('{"type":"receipt","readSeq":3}')).toEqual({ type: 'receipt', readSeq: 3 });
		for (const bad of [
			'not json',
			'null',
			'42',
			'{"type":"typing","active":"yes"}',
			'{"type":"receipt","readSeq":-1}',
			'{"type":"receipt","deliveredSeq":1.5}',
			'{"type":"receipt","conversationId":"../x"}',
			'{"type":"receipt","userId":7}',
			'{"type":"presence","online":true}'
		]) {
			expect(decodeClientStateless(bad), bad).toBeNull();
		}
	});

	it('[ACCESS-1] document names: only conversation:<ULID> and user:<ULID>', () => {
		const id = '01JD0000000000000000000001';
		expect(parseConversationDocName(`conversation:${id}`)).toBe(id);
		expect(parseUserDocName(`user:${id}`)).toBe(id);
		for (const bad of ['conversation:', `conversation:${id}x`, `user:${id.toLowerCase()}`, id, `conversation:user:${id}`]) {
			expect(parseConversationDocName(bad) ?? parseUserDocName(bad), bad).toBeNull();
		}
		expect(decodeServerStateless('{"type":"nonsense"}')).toBeNull();
	});
});
