import Database from 'better-sqlite3';
import { describe, expect, it, vi } from 'vitest';
import { cacheStatements } from '../../src/lib/server/db/statement-cache.ts';

function database() {
	const sqlite = new Database(':memory:');
	sqlite.exec('create table t (id integer primary key, name text)');
	sqlite.exec("insert into t (name) values ('a'), ('b'), ('c')");
	return sqlite;
}

describe('statement cache', () => {
	it('[LIMIT-6] compiles each SQL text once, and one caller’s raw mode never leaks into another’s results', () => {
		const sqlite = database();
		const compile = vi.spyOn(sqlite, 'prepare');
		cacheStatements(sqlite);
		const rawView = sqlite.prepare('select id, name from t where id = ?');
		const plainView = sqlite.prepare('select id, name from t where id = ?');
		expect(compile).toHaveBeenCalledTimes(1);
		expect(rawView.raw().get(1)).toEqual([1, 'a']);
		expect(plainView.get(2)).toEqual({ id: 2, name: 'b' });
		expect(plainView.all(3)).toEqual([{ id: 3, name: 'c' }]);
		expect(rawView.raw().all(3)).toEqual([[3, 'c']]);
		expect(sqlite.prepare("insert into t (name) values ('d')").run().changes).toBe(1);
		expect(() => sqlite.prepare("insert into t (name) values ('e')").raw()).toThrow();
	});

	it('[LIMIT-6] an iteration gets its own statement, so the shared one stays usable while it runs', () => {
		const sqlite = database();
		cacheStatements(sqlite);
		const names: string[] = [];
		for (const row of sqlite.prepare('select id, name from t order by id').iterate() as Iterable<{ id: number; name: string }>) {
			names.push(row.name);
			expect(sqlite.prepare('select id, name from t order by id').get()).toEqual({ id: 1, name: 'a' });
		}
		expect(names).toEqual(['a', 'b', 'c']);
	});

	it('[LIMIT-6] keeps at most `size` statements, least recently used out', () => {
		const sqlite = database();
		const compile = vi.spyOn(sqlite, 'prepare');
		cacheStatements(sqlite, 2);
		sqlite.prepare('select 1');
		sqlite.prepare('select 2');
		sqlite.prepare('select 1');
		sqlite.prepare('select 3'); // evicts "select 2"
		sqlite.prepare('select 1');
		expect(compile).toHaveBeenCalledTimes(3);
		sqlite.prepare('select 2');
		expect(compile).toHaveBeenCalledTimes(4);
	});
});
