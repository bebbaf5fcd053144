/** The results table: each figure for the three systems side by side, the ratio to Socket.IO, and each goal's verdict. */
import { LABELS, type SystemName } from './systems/types.ts';

export interface Goal {
	/** `ratio`: this project / Socket.IO; `app`: this project's own figure. */
	on: 'ratio' | 'app';
	op: '<=' | '>=';
	limit: number;
	unit?: string;
}

export interface Row {
	scenario: string;
	metric: string;
	values: Partial<Record<SystemName, number>>;
	digits?: number;
	goal?: Goal;
	/** Systems whose figure is only a lower bound (shown as ≥): the run was cut off before it finished. */
	floors?: SystemName[];
}

export type Verdict = 'PASS' | 'MISS' | 'n/a' | '';

export function ratioOf(row: Row): number {
	const { app, socketio } = row.values;
	return app !== undefined && socketio !== undefined ? app / socketio : NaN;
}

export function verdictOf(row: Row): Verdict {
	if (!row.goal) return '';
	const value = row.goal.on === 'ratio' ? ratioOf(row) : (row.values.app ?? NaN);
	if (!Number.isFinite(value)) return 'n/a';
	// A lower bound decides "at most" goals only when it is over the limit already.
	const floor = row.floors?.includes('app') || (row.goal.on === 'ratio' && row.floors?.includes('socketio'));
	if (floor && !(row.goal.op === '<=' && row.goal.on === 'app' && value > row.goal.limit)) return 'n/a';
	return (row.goal.op === '<=' ? value <= row.goal.limit : value >= row.goal.limit) ? 'PASS' : 'MISS';
}

const fmt = (n: number | undefined, digits = 2) => (n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

function goalText(goal: Goal | undefined): string {
	if (!goal) return '';
	const op = goal.op === '<=' ? '≤' : '≥';
	return goal.on === 'ratio' ? `ratio ${op} ${goal.limit}` : `${op} ${goal.limit}${goal.unit ? ' ' + goal.unit : ''}`;
}

export function formatTable(rows: Row[]): string {
	const systems: SystemName[] = ['app', 'socketio', 'bare'];
	const table = [['scenario', 'metric', ...systems.map((s) => LABELS[s]), 'app / Socket.IO', 'goal', 'verdict']];
	for (const row of rows) {
		table.push([
			row.scenario,
			row.metric,
			...systems.map((s) => (s in row.values ? (row.floors?.includes(s) ? '≥ ' : '') + fmt(row.values[s], row.digits) : '—')),
			'socketio' in row.values ? fmt(ratioOf(row)) : '',
			goalText(row.goal),
			verdictOf(row)
		]);
	}
	const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => [...r[i]!].length)));
	const line = (r: string[]) => r.map((cell, i) => (i >= 2 && i <= 5 ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!))).join('  ').trimEnd();
	const out = [line(table[0]!), widths.map((w) => '-'.repeat(w)).join('  ')];
	let scenario = '';
	for (const r of table.slice(1)) {
		if (r[0] !== scenario && scenario !== '') out.push('');
		scenario = r[0]!;
		out.push(line(r));
	}
	return out.join('\n');
}
