import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/lib/server/db/index.ts';
import { perDatabase } from '../../src/lib/server/db/per-database.ts';

describe('perDatabase', () => {
	it('prepares on first use, once for each database', () => {
		const prepared: object[] = [];
		const statements = perDatabase((db) => {
			prepared.push(db);
			return { db };
		});
		const one = {} as Db;
		const two = {} as Db;
		expect(prepared).toEqual([]);
		const first = statements(one);
		expect(statements(one)).toBe(first);
		expect(statements(two)).not.toBe(first);
		expect(statements(two).db).toBe(two);
		expect(prepared).toEqual([one, two]);
	});
});
