import { describe, expect, it } from 'vitest';
import { PROBE_MARKER } from '../reliability/lib/probe-marker.ts';
import { FAILURE_MARKER } from '../../src/lib/server/failure.ts';
import { ServerLog } from '../reliability/lib/server.ts';

describe('the server log as the reliability runs judge it', () => {
	it('[GUARD-4] counts uncaught errors, rebuilt documents, skipped stored updates and other reported failures, each a violation', () => {
		const log = new ServerLog();
		for (const line of [
			'basement-chat listening on http://127.0.0.1:4000',
			`${PROBE_MARKER} uncaughtException: Error: boom`,
			'    at somewhere (file.ts:1:1)',
			'Unhandled rejection reported by a library',
			'conversation 01ABC: the document no longer matches the database; reloading it Error: pending',
			'    at LiveConversation.admit (live-conversation.ts:10:5)',
			'    at CommitGroup.run (commit-group.ts:20:3)',
			'conversation 01ABC: skipped a stored update that does not apply',
			`${FAILURE_MARKER} compaction worker failed TypeError: Unknown file extension`,
			'a quiet line'
		]) {
			log.scan(line);
		}
		expect(log.counts).toMatchObject({ uncaught: 1, reloads: 1, skippedStored: 1, failures: 1 });
		expect(log.counts.samples).toHaveLength(8);
		expect(log.violations()).toEqual([
			'1 uncaught exceptions or unhandled rejections in the server log',
			'1 documents stopped matching the database (GUARD-4 reloads)',
			'1 stored updates could not be loaded back (GUARD-4 skips)',
			'1 other failures reported by the server'
		]);
	});

	it('finds nothing in a clean log', () => {
		const log = new ServerLog();
		log.scan('basement-chat listening on http://127.0.0.1:4000');
		expect(log.violations()).toEqual([]);
		expect(log.counts.samples).toEqual([]);
	});
});
