import type Database from 'better-sqlite3';

/**
 * better-sqlite3 compiles a statement on every `prepare`, and drizzle prepares every query it runs
 * that was not prepared ahead, so the same few SQL texts were compiled again on every request and
 * frame. This keeps the compiled statements by SQL text (least recently used out past `size`) and
 * hands each caller its own view, so one caller's `raw()` mode never leaks into another's.
 */
export function cacheStatements(sqlite: Database.Database, size = 500): void {
	const compile = sqlite.prepare.bind(sqlite);
	const cache = new Map<string, Database.Statement>();
	sqlite.prepare = ((source: string) => {
		let statement = cache.get(source);
		if (statement) cache.delete(source);
		else statement = compile(source);
		cache.set(source, statement);
		if (cache.size > size) cache.delete(cache.keys().next().value!);
		return new StatementView(statement, compile) as unknown as Database.Statement;
	}) as typeof sqlite.prepare;
}

/** One caller's handle on a shared statement: it carries its own raw mode and sets it on each call. */
class StatementView {
	#raw = false;
	constructor(
		private readonly statement: Database.Statement,
		private readonly compile: (source: string) => Database.Statement
	) {}

	get reader(): boolean {
		return this.statement.reader;
	}
	get source(): string {
		return this.statement.source;
	}
	raw(toggle = true): this {
		if (!this.statement.reader) this.statement.raw(toggle); // throws the library's own error
		this.#raw = toggle;
		return this;
	}
	run(...params: unknown[]) {
		return this.statement.run(...params);
	}
	get(...params: unknown[]) {
		return this.#mode().get(...params);
	}
	all(...params: unknown[]) {
		return this.#mode().all(...params);
	}
	/** Iterating holds the statement busy: an iteration gets a statement of its own. */
	iterate(...params: unknown[]) {
		const own = this.compile(this.statement.source);
		if (own.reader) own.raw(this.#raw);
		return own.iterate(...params);
	}
	columns() {
		return this.statement.columns();
	}
	#mode(): Database.Statement {
		if (this.statement.reader) this.statement.raw(this.#raw);
		return this.statement;
	}
}
