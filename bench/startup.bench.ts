/**
 * Start-up, as users run it: whole cold processes of the compiled CLI, side by side with the
 * minimal SDK script (connect, N calls, close) on the same fixture server in the same round.
 *
 *   help      `ensemble --help`                              target ≤ 0.25 s
 *   one task  `ensemble run flow.json --quiet`, one echo task  target ≤ 1.15 × the SDK script
 *   slope     wall over N ∈ {1, n/4, n/2, n} tasks (CLI) against N calls (script): the least-squares
 *             slope is the cost per task with start-up taken out
 *   import    RSS after `import('ensemble')` against after importing the SDK client
 *                                                            target ≤ SDK + 15 MB
 *
 * Each process runs under GNU time, which reports its CPU (user + system, the server child
 * included, since both arms reap it) beside the wall time; the machine has 2 noisy cores, so
 * CPU is the steadier figure. Needs dist/: the benchmark builds it first.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, round, summarize, type BenchContext, type BenchResult, type Summary } from './support.js';

const exec = promisify(execFile);

export const description = 'cold start: ensemble --help, a one-task CLI run and per-task slope vs a minimal SDK script; RSS after import';

const TARGET = { helpSeconds: 0.25, oneTaskRatio: 1.15, importRssMb: 15 };
const FIXTURE = resolve(REPO_ROOT, 'test/fixtures/fixture-server.mjs');
const BIN = resolve(REPO_ROOT, 'bin/ensemble.js');
const SDK_SCRIPT = resolve(REPO_ROOT, 'bench/sdk-calls-script.mjs');

interface Timed {
  wallMs: number;
  cpuMs: number;
  maxRssMb: number;
}

/** Runs `node …args` under GNU time; the environment is a user's (compiled CLI, not tsx). */
async function timed(args: string[], cwd: string): Promise<Timed> {
  const { ENSEMBLE_FROM_SOURCE: _fromSource, ...env } = process.env;
  const { stderr } = await exec('/usr/bin/time', ['-f', 'TIME %e %U %S %M', process.execPath, ...args], { cwd, env, maxBuffer: 64 * 1024 * 1024 });
  const line = stderr.trim().split('\n').filter((l) => l.startsWith('TIME ')).pop();
  if (!line) throw new Error(`no timing from ${args.join(' ')}: ${stderr}`);
  const [, wall, user, system, rss] = line.split(' ').map(Number) as [number, number, number, number, number];
  return { wallMs: wall * 1000, cpuMs: (user + system) * 1000, maxRssMb: rss / 1024 };
}

function workflowFile(dir: string, tasks: number): string {
  const path = join(dir, `flow-${tasks}.json`);
  writeFileSync(
    path,
    JSON.stringify({
      name: `startup-${tasks}`,
      servers: { fx: { command: process.execPath, args: [FIXTURE] } },
      tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${i}`, server: 'fx', tool: 'echo', args: { text: `call ${i}` } })),
    }),
  );
  return path;
}

/** Least-squares slope of y over x. */
function slope(points: Array<[number, number]>): number {
  const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;
  const mx = mean(points.map(([x]) => x));
  const my = mean(points.map(([, y]) => y));
  const num = points.reduce((sum, [x, y]) => sum + (x - mx) * (y - my), 0);
  const den = points.reduce((sum, [x]) => sum + (x - mx) ** 2, 0);
  return num / den;
}

async function importRss(modules: string[], dir: string): Promise<number> {
  const script = join(dir, `rss-${modules.join('-').replace(/\W/g, '_').slice(-60)}.mjs`);
  const imports = modules.map((module) => `await import(${JSON.stringify(module)});`).join('\n');
  writeFileSync(script, `${imports}\nglobalThis.gc?.();\nprocess.stdout.write(String(process.memoryUsage().rss));\n`);
  const { stdout } = await exec(process.execPath, ['--expose-gc', script], { cwd: dir });
  return Number(stdout) / (1024 * 1024);
}

export async function run(context: BenchContext): Promise<BenchResult> {
  const { rounds, log } = context;
  log('startup: building dist/ (npm run build)');
  await exec('npm', ['run', 'build'], { cwd: REPO_ROOT });
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-startup-'));
  try {
    const sizes = [...new Set([1, Math.max(2, Math.round(context.n / 4)), Math.max(3, Math.round(context.n / 2)), Math.max(4, context.n)])];
    const files = new Map(sizes.map((size) => [size, workflowFile(dir, size)]));
    const samples = {
      help: [] as Timed[],
      version: [] as Timed[],
      cli: new Map<number, Timed[]>(sizes.map((s) => [s, []])),
      sdk: new Map<number, Timed[]>(sizes.map((s) => [s, []])),
    };
    // One untimed pass warms the disk cache and the compile cache of both arms alike.
    await timed([BIN, 'run', files.get(1)!, '--quiet'], dir);
    await timed([SDK_SCRIPT, FIXTURE, '1'], dir);
    for (let round_ = 0; round_ < rounds; round_ += 1) {
      log(`startup: round ${round_ + 1}/${rounds}`);
      samples.help.push(await timed([BIN, '--help'], dir));
      samples.version.push(await timed([BIN, '--version'], dir));
      for (const size of sizes) {
        // Alternate which arm goes first, so neither always runs on the warmer machine.
        const pair = [() => timed([BIN, 'run', files.get(size)!, '--quiet'], dir), () => timed([SDK_SCRIPT, FIXTURE, String(size)], dir)];
        const order = round_ % 2 === 0 ? [0, 1] : [1, 0];
        for (const which of order) {
          const measured = await pair[which]!();
          (which === 0 ? samples.cli : samples.sdk).get(size)!.push(measured);
        }
      }
    }
    const med = (list: Timed[], key: keyof Timed): Summary => summarize(list.map((t) => t[key]));
    const help = med(samples.help, 'wallMs');
    const version = med(samples.version, 'wallMs');
    const cli1 = med(samples.cli.get(1)!, 'wallMs');
    const sdk1 = med(samples.sdk.get(1)!, 'wallMs');
    const cli1Cpu = med(samples.cli.get(1)!, 'cpuMs');
    const sdk1Cpu = med(samples.sdk.get(1)!, 'cpuMs');
    const slopeOf = (arm: Map<number, Timed[]>, key: keyof Timed) => slope(sizes.map((size) => [size, med(arm.get(size)!, key).median]));
    const cliSlope = slopeOf(samples.cli, 'wallMs');
    const sdkSlope = slopeOf(samples.sdk, 'wallMs');
    const cliCpuSlope = slopeOf(samples.cli, 'cpuMs');
    const sdkCpuSlope = slopeOf(samples.sdk, 'cpuMs');
    const ensembleRss = await importRss([join(REPO_ROOT, 'dist/src/index.js')], dir);
    // Resolved here, so the script can live in the temporary folder and still find the SDK.
    const sdkRss = await importRss([import.meta.resolve('@modelcontextprotocol/sdk/client/index.js'), import.meta.resolve('@modelcontextprotocol/sdk/client/stdio.js')], dir);
    const oneTaskRatio = cli1.median / sdk1.median;
    const met = (ok: boolean) => (ok ? 'met' : 'not met');
    const figures = {
      sizes,
      helpWallMs: round(help.median),
      versionWallMs: round(version.median),
      oneTask: { cliWallMs: round(cli1.median), sdkWallMs: round(sdk1.median), ratio: round(oneTaskRatio), cliCpuMs: round(cli1Cpu.median), sdkCpuMs: round(sdk1Cpu.median) },
      perTask: {
        cliWallMs: round(cliSlope),
        sdkWallMs: round(sdkSlope),
        wallRatio: round(cliSlope / sdkSlope),
        cliCpuMs: round(cliCpuSlope),
        sdkCpuMs: round(sdkCpuSlope),
        cpuRatio: round(cliCpuSlope / sdkCpuSlope),
      },
      importRssMb: { ensemble: round(ensembleRss), sdk: round(sdkRss), extra: round(ensembleRss - sdkRss) },
      target: TARGET,
    };
    return {
      tables: [
        {
          title: `Cold start, whole processes (median of ${rounds} rounds, wall)`,
          rows: [
            ['ensemble --help', `${round(help.median)} ms`, `min ${round(help.min)}, max ${round(help.max)}`],
            ['ensemble --version', `${round(version.median)} ms`],
            ['one-task ensemble run', `${round(cli1.median)} ms`, `CPU ${round(cli1Cpu.median)} ms`],
            ['SDK script, one call', `${round(sdk1.median)} ms`, `CPU ${round(sdk1Cpu.median)} ms`],
            ['ratio one-task run / script', `${round(oneTaskRatio)}`],
            [`per task over N = ${sizes.join(', ')} (slope), CLI`, `${round(cliSlope)} ms`, `CPU ${round(cliCpuSlope)} ms`],
            ['per call (slope), SDK script', `${round(sdkSlope)} ms`, `CPU ${round(sdkCpuSlope)} ms`],
            ['per-task ratio CLI / script', `${round(cliSlope / sdkSlope)}`, `CPU ${round(cliCpuSlope / sdkCpuSlope)}`],
            ['RSS after import: ensemble / SDK client', `${round(ensembleRss)} / ${round(sdkRss)} MB`, `+${round(ensembleRss - sdkRss)} MB`],
          ],
        },
      ],
      lines: [
        `target: ensemble --help ≤ ${TARGET.helpSeconds * 1000} ms — ${met(help.median <= TARGET.helpSeconds * 1000)}`,
        `target: one-task run ≤ ${TARGET.oneTaskRatio} × the SDK script — ${met(oneTaskRatio <= TARGET.oneTaskRatio)}`,
        `target: RSS after import ≤ SDK + ${TARGET.importRssMb} MB — ${met(ensembleRss - sdkRss <= TARGET.importRssMb)}`,
      ],
      figures,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
