/**
 * Shared plumbing for the benchmarks: what a benchmark receives and returns,
 * statistics, table formatting and the fixture server's command line.
 *
 * A benchmark is a file `bench/<name>.bench.ts` that exports
 * `description` (one line) and `run(context)`; `run-benchmarks.ts` finds it,
 * calls it and prints what it returns. Benchmarks print figures, they never
 * assert: a target is reported as met or not met, and the exit code stays 0.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** `node test/fixtures/fixture-server.mjs`, as an absolute command line. */
export const FIXTURE_SERVER = {
  command: process.execPath,
  args: [resolve(REPO_ROOT, 'test/fixtures/fixture-server.mjs')],
};

export interface BenchOptions {
  /** Calls (or tasks) per measurement; `--n`. */
  n: number;
  /** Measurements of each kind; the median is reported. `--rounds`. */
  rounds: number;
  /** Untimed calls made on each fresh server before the timed ones; `--warmup`. */
  warmup: number;
  /** Untimed rounds of every measurement first, so this process's JIT is warm; `--warmup-rounds`. */
  warmupRounds: number;
}

export interface BenchContext extends BenchOptions {
  /** Progress lines; they go to stderr so `--json` output stays clean. */
  log(line: string): void;
}

export interface BenchTable {
  title: string;
  /** [label, value, note?] */
  rows: Array<[string, string, string?]>;
}

export interface BenchResult {
  /** Human-readable sections, printed in order. */
  tables: BenchTable[];
  /** Free lines printed after the tables (targets, caveats). */
  lines: string[];
  /** The same figures as plain data, for `--json`. */
  figures: Record<string, unknown>;
}

/** What a `bench/<name>.bench.ts` module exports. */
export interface BenchModule {
  description: string;
  run(context: BenchContext): Promise<BenchResult>;
}

export interface Summary {
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new Error('no samples');
  const sorted = [...samples].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]!, samples: [...samples] };
}

/** Rounds for display and JSON: 3 decimals below 10, 1 above. */
export function round(value: number): number {
  const digits = Math.abs(value) < 10 ? 1000 : 10;
  return Math.round(value * digits) / digits;
}

export function ms(value: number): string {
  return `${round(value)} ms`;
}

export function range(summary: Summary, scale = 1): string {
  return `min ${round(summary.min * scale)}, max ${round(summary.max * scale)}`;
}

export function formatTable(table: BenchTable): string {
  const labelWidth = Math.max(...table.rows.map(([label]) => label.length));
  const valueWidth = Math.max(...table.rows.map(([, value]) => value.length));
  const lines = [table.title, '-'.repeat(table.title.length)];
  for (const [label, value, note] of table.rows) {
    const line = `${label.padEnd(labelWidth)}  ${value.padStart(valueWidth)}${note ? `   ${note}` : ''}`;
    lines.push(line);
  }
  return lines.join('\n');
}

/** CPU time this process has used so far (user + system, all threads, GC helpers included), in ms. */
export function cpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}

/** Gives the garbage collector a chance between measurements when `--expose-gc` is on. */
export function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}
