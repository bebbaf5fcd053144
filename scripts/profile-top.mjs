#!/usr/bin/env node
/**
 * node scripts/profile-top.mjs FILE.cpuprofile [N]
 * Prints the N functions with the most self time and the most total time (a flat view of the flame
 * graph) of a profile written by `node --cpu-prof`.
 */
import { readFileSync } from 'node:fs';

const [file, count = '25'] = process.argv.slice(2);
if (!file) {
	console.error('usage: node scripts/profile-top.mjs FILE.cpuprofile [N]');
	process.exit(2);
}
const profile = JSON.parse(readFileSync(file, 'utf8'));
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const parent = new Map();
for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

const hits = new Map();
for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
const deltas = profile.timeDeltas;
const totalMs = deltas.reduce((sum, d) => sum + d, 0) / 1000;
const msPerSample = totalMs / profile.samples.length;

const label = (node) => {
	const f = node.callFrame;
	const where = f.url ? `${f.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*?\/(server|src|tests)\//, '$1/')}:${f.lineNumber + 1}` : '';
	return `${f.functionName || '(anonymous)'} ${where}`.trim();
};

const self = new Map();
const total = new Map();
for (const [id, n] of hits) {
	const own = label(nodes.get(id));
	self.set(own, (self.get(own) ?? 0) + n);
	const seen = new Set();
	for (let at = id; at !== undefined; at = parent.get(at)) {
		const name = label(nodes.get(at));
		if (seen.has(name)) continue;
		seen.add(name);
		total.set(name, (total.get(name) ?? 0) + n);
	}
}
const print = (title, map) => {
	console.log(`\n${title}`);
	for (const [name, n] of [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(count))) {
		console.log(`${(n * msPerSample).toFixed(0).padStart(8)} ms ${((100 * n) / profile.samples.length).toFixed(1).padStart(5)}%  ${name}`);
	}
};
console.log(`${file}: ${totalMs.toFixed(0)} ms sampled`);
print('self time', self);
print('total time', total);
