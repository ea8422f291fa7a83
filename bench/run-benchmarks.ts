/**
 * Runs Ensemble's benchmarks: every `bench/<name>.bench.ts`, in name order,
 * in this one process. Prints figures; never fails because a target is missed.
 *
 *   npm run bench                          all benchmarks, N = 1000
 *   npm run bench -- --only sequential     one benchmark (repeatable)
 *   npm run bench -- --n 200 --rounds 3    smaller run
 *   npm run bench -- --json                one JSON object on stdout
 *   npm run bench -- --list                names and descriptions
 *
 * See bench/README.md for what each benchmark measures.
 */
import { readdirSync } from 'node:fs';
import { cpus, loadavg, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { formatTable, type BenchModule, type BenchOptions, type BenchResult } from './support.js';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const SUFFIX = '.bench.ts';

const USAGE = `usage: tsx bench/run-benchmarks.ts [--only <name>]… [--n <calls>] [--rounds <k>] [--warmup <calls>] [--warmup-rounds <k>] [--json] [--list]

  --only <name>    run only this benchmark (repeat for several); see --list
  --n <calls>      calls or tasks per measurement (default 1000)
  --rounds <k>     measurements of each kind; the median is reported (default 5)
  --warmup <calls> untimed calls on each fresh server before timing (default 200)
  --warmup-rounds <k>
                   untimed rounds of each measurement first, to warm this process's JIT (default 3)
  --json           print the figures as one JSON object on stdout (progress goes to stderr)
  --list           list the benchmarks and exit`;

interface Cli extends BenchOptions {
  only: string[];
  json: boolean;
  list: boolean;
}

function readCli(argv: string[]): Cli {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string', multiple: true },
      n: { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      'warmup-rounds': { type: 'string' },
      json: { type: 'boolean' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const count = (flag: string, raw: string | undefined, fallback: number, min: number): number => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min) throw new Error(`--${flag} expects a whole number ≥ ${min}, got "${raw}"`);
    return value;
  };
  return {
    only: values.only ?? [],
    n: count('n', values.n, 1000, 1),
    rounds: count('rounds', values.rounds, 5, 1),
    warmup: count('warmup', values.warmup, 200, 0),
    warmupRounds: count('warmup-rounds', values['warmup-rounds'], 3, 0),
    json: values.json ?? false,
    list: values.list ?? false,
  };
}

/** Every `*.bench.ts` next to this file, by name. */
async function discover(): Promise<Map<string, BenchModule>> {
  const found = new Map<string, BenchModule>();
  const files = readdirSync(BENCH_DIR)
    .filter((file) => file.endsWith(SUFFIX))
    .sort();
  for (const file of files) {
    const module = (await import(pathToFileURL(join(BENCH_DIR, file)).href)) as Partial<BenchModule>;
    if (typeof module.run !== 'function') throw new Error(`bench/${file} does not export run(context)`);
    found.set(file.slice(0, -SUFFIX.length), { description: module.description ?? '', run: module.run });
  }
  return found;
}

function environment() {
  const cpu = cpus();
  return {
    node: process.version,
    platform: `${platform()} ${release()}`,
    cpu: `${cpu[0]?.model.trim() ?? 'unknown'} × ${cpu.length}`,
    // The benchmarks are latency-bound and sensitive to other load on the machine: record it.
    loadAverage: loadavg().map((value) => Math.round(value * 100) / 100),
    date: new Date().toISOString(),
  };
}

async function main(): Promise<void> {
  let cli: Cli;
  try {
    cli = readCli(process.argv.slice(2));
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n\n${USAGE}`);
    process.exit(2);
  }

  const benchmarks = await discover();
  if (cli.list) {
    for (const [name, module] of benchmarks) console.log(`${name.padEnd(24)} ${module.description}`);
    return;
  }
  const unknown = cli.only.filter((name) => !benchmarks.has(name));
  if (unknown.length > 0) {
    console.error(`unknown benchmark: ${unknown.join(', ')} (have: ${[...benchmarks.keys()].join(', ')})`);
    process.exit(2);
  }
  const selected = [...benchmarks].filter(([name]) => cli.only.length === 0 || cli.only.includes(name));

  const env = environment();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  if (!cli.json) {
    console.log(`Ensemble benchmarks — node ${env.node}, ${env.platform}, ${env.cpu}`);
    console.log(`N = ${cli.n}, rounds = ${cli.rounds}, warm-up = ${cli.warmupRounds} untimed rounds + ${cli.warmup} calls per fresh server, load average ${env.loadAverage.join(' ')}\n`);
  }

  const results: Record<string, BenchResult['figures']> = {};
  for (const [name, module] of selected) {
    const result = await module.run({ n: cli.n, rounds: cli.rounds, warmup: cli.warmup, warmupRounds: cli.warmupRounds, log });
    results[name] = result.figures;
    if (!cli.json) {
      console.log(`## ${name}: ${module.description}\n`);
      for (const table of result.tables) console.log(`${formatTable(table)}\n`);
      for (const line of result.lines) console.log(line);
      console.log('');
    }
  }
  const loadAverageAfter = loadavg().map((value) => Math.round(value * 100) / 100);
  if (!cli.json) console.log(`load average after: ${loadAverageAfter.join(' ')}`);
  if (cli.json) console.log(JSON.stringify({ environment: { ...env, loadAverageAfter }, options: { n: cli.n, rounds: cli.rounds, warmup: cli.warmup, warmupRounds: cli.warmupRounds }, benchmarks: results }, null, 2));
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : String(error));
  process.exit(1);
});
