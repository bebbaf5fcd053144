/**
 * A seeded random source (sfc32, seeded through splitmix32): the same seed gives the same choices,
 * so a failing run is replayed with its printed `--seed`.
 */
export class Random {
	#a: number;
	#b: number;
	#c: number;
	#d: number;

	constructor(readonly seed: number) {
		let s = seed >>> 0;
		const next = () => {
			s = (s + 0x9e3779b9) >>> 0;
			let z = s;
			z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
			z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
			return (z ^ (z >>> 16)) >>> 0;
		};
		this.#a = next();
		this.#b = next();
		this.#c = next();
		this.#d = next();
		for (let i = 0; i < 12; i++) this.next();
	}

	/** A uniform 32-bit unsigned integer. */
	next(): number {
		const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
		this.#d = (this.#d + 1) >>> 0;
		this.#a = this.#b ^ (this.#b >>> 9);
		this.#b = (this.#c + (this.#c << 3)) >>> 0;
		this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
		this.#c = (this.#c + t) >>> 0;
		return t;
	}

	/** In [0, 1). */
	float(): number {
		return this.next() / 4294967296;
	}

	/** An integer in [min, max] (both included). */
	int(min: number, max: number): number {
		return min + Math.floor(this.float() * (max - min + 1));
	}

	chance(p: number): boolean {
		return this.float() < p;
	}

	pick<T>(items: readonly T[]): T {
		if (items.length === 0) throw new Error('pick from an empty list');
		return items[Math.floor(this.float() * items.length)]!;
	}

	/** Picks by weight: `[[weight, value], ...]`. */
	weighted<T>(choices: ReadonlyArray<readonly [number, T]>): T {
		const total = choices.reduce((sum, [w]) => sum + w, 0);
		let x = this.float() * total;
		for (const [w, value] of choices) {
			x -= w;
			if (x < 0) return value;
		}
		return choices[choices.length - 1]![1];
	}

	bytes(length: number): Uint8Array {
		const out = new Uint8Array(length);
		for (let i = 0; i < length; i++) out[i] = this.next() & 0xff;
		return out;
	}

	shuffle<T>(items: T[]): T[] {
		for (let i = items.length - 1; i > 0; i--) {
			const j = Math.floor(this.float() * (i + 1));
			[items[i], items[j]] = [items[j]!, items[i]!];
		}
		return items;
	}

	/** An independent stream for a sub-task (a lane, a device), still fixed by the seed. */
	fork(label: number): Random {
		return new Random((Math.imul(this.seed ^ 0x5bd1e995, 31) + Math.imul(label + 1, 0x27d4eb2d)) >>> 0);
	}

	/** A ULID-shaped id (valid for the server) drawn from this stream, so runs repeat exactly. */
	ulid(time = Date.now()): string {
		const alphabet = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
		let out = '';
		let t = time;
		for (let i = 0; i < 10; i++) {
			out = alphabet[t % 32] + out;
			t = Math.floor(t / 32);
		}
		for (let i = 0; i < 16; i++) out += alphabet[this.next() % 32];
		return out;
	}
}

/** A seed from the command line, or a fresh one (printed, so the run can be repeated). */
export function seedFrom(value: string | undefined): number {
	if (value !== undefined && value !== '') {
		const seed = Number(value);
		if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed must be a non-negative integer, got ${value}`);
		return seed >>> 0;
	}
	return (Math.random() * 2 ** 32) >>> 0;
}
