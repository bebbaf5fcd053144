import type { Db } from './index.ts';

/**
 * Statements a hot path runs on every request, frame or receipt, compiled once per database
 * instead of drizzle building their SQL on every call (the server opens one database; tests, many).
 * `prepare` runs on first use, after the migrations.
 */
export function perDatabase<T extends object>(prepare: (db: Db) => T): (db: Db) => T {
	const prepared = new WeakMap<Db, T>();
	return (db) => {
		let statements = prepared.get(db);
		if (!statements) prepared.set(db, (statements = prepare(db)));
		return statements;
	};
}
