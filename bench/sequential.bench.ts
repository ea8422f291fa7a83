/**
 * Sequential overhead: what Ensemble adds to N sequential calls of the
 * fixture's `noop` tool, against the same calls made with the SDK directly.
 *
 * Three arms, each on a fresh `node test/fixtures/fixture-server.mjs` per round:
 *
 *   sdk       Client + the SDK's StdioClientTransport, `await callTool` in turn
 *   process   Client + Ensemble's own ProcessTransport (isolates the transport)
 *   ensemble  createRun() of a workflow with one task per call; timed on the
 *             bus from the first `task.started` to the last `task.completed`
 *
 * Every fresh server first gets `warmup` untimed calls (the Ensemble workflow
 * carries them as tasks w0… ahead of the timed t0…), so the server process
 * is equally warm in every arm. `warmupRounds` untimed rounds of each arm
 * come first so this process's JIT is warm too. Rounds alternate the arms so
 * they share the machine's noise; the median of the rounds is reported.
 *
 * Besides wall time, each arm's CPU time in this process during the timed
 * calls is reported: it is what Ensemble adds on the client side, and it is
 * far less sensitive to other load on the machine than wall time.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import { ProcessTransport } from '../actors/process-transport.js';
import { createRun, parseWorkflow, type Workflow } from '../src/index.js';
import {
  FIXTURE_SERVER,
  REPO_ROOT,
  collectGarbage,
  cpuMs,
  ms,
  range,
  round,
  summarize,
  type BenchContext,
  type BenchResult,
  type Summary,
} from './support.js';

export const description = 'N sequential noop calls: direct SDK Client vs an Ensemble sequential run';

/** The target this benchmark reports on (never asserts). */
const TARGET = { ratio: 1.1, n: 1000 };

type Arm = 'sdk' | 'process' | 'ensemble';
const ARMS: Arm[] = ['sdk', 'process', 'ensemble'];

interface Measurement {
  /** The N timed calls (or tasks). */
  timedMs: number;
  /** CPU this process used during the timed calls. */
  cpuMs: number;
  /** Spawn to closed, warm-up calls included. */
  wallMs: number;
}

export async function run(context: BenchContext): Promise<BenchResult> {
  const { n, rounds, warmup, warmupRounds, log } = context;
  const workflow = buildWorkflow(n, warmup);
  const measure = (arm: Arm): Promise<Measurement> => (arm === 'ensemble' ? measureEnsemble(workflow, n) : measureDirect(arm, n, warmup));
  const perCallText = (m: Measurement) => `${round(m.timedMs / n)} ms/call`;

  const cold: Partial<Record<Arm, Measurement>> = {};
  for (let r = 0; r < warmupRounds; r++) {
    for (const arm of ARMS) {
      const m = await measure(arm);
      if (r === 0) cold[arm] = m;
    }
    log(`sequential: warm-up round ${r + 1}/${warmupRounds} (untimed)`);
  }

  const samples: Record<Arm, Measurement[]> = { sdk: [], process: [], ensemble: [] };
  for (let r = 0; r < rounds; r++) {
    // Rotate the order so no arm always runs first (or right after a GC-heavy one).
    const order = ARMS.map((_, i) => ARMS[(i + r) % ARMS.length]!);
    for (const arm of order) {
      collectGarbage();
      samples[arm].push(await measure(arm));
    }
    const last = (arm: Arm) => perCallText(samples[arm].at(-1)!);
    log(`sequential: round ${r + 1}/${rounds}: sdk ${last('sdk')}, process ${last('process')}, ensemble ${last('ensemble')}`);
  }

  const timed = (arm: Arm) => summarize(samples[arm].map((m) => m.timedMs));
  const cpu = (arm: Arm) => summarize(samples[arm].map((m) => m.cpuMs));
  const wall = (arm: Arm) => summarize(samples[arm].map((m) => m.wallMs));
  const direct = timed('sdk');
  const viaProcess = timed('process');
  const ensemble = timed('ensemble');
  const ratio = ensemble.median / direct.median;
  const pairedRatio = summarize(samples.ensemble.map((m, i) => m.timedMs / samples.sdk[i]!.timedMs));
  const addedPerTask = (ensemble.median - direct.median) / n;
  const transportRatio = viaProcess.median / direct.median;
  const cpuPerCall = (arm: Arm) => cpu(arm).median / n;
  const met = ratio <= TARGET.ratio;
  const atTargetN = n === TARGET.n;
  const perCall = (summary: Summary) => summary.median / n;
  const perCallRange = (summary: Summary) => range(summary, 1 / n);

  const tables: BenchResult['tables'] = [
    {
      title: `Sequential: N = ${n} noop calls, median of ${rounds} rounds (each on a fresh server after ${warmup} untimed calls)`,
      rows: [
        ['direct total (SDK Client + StdioClientTransport)', ms(direct.median), range(direct)],
        ['direct per call', ms(perCall(direct))],
        ['ensemble total (first task.started → last task.completed)', ms(ensemble.median), range(ensemble)],
        ['ensemble per task', ms(perCall(ensemble))],
        ['ratio ensemble / direct', round(ratio).toFixed(3), `paired per round: median ${round(pairedRatio.median)}, ${range(pairedRatio)}`],
        ['added per task', ms(addedPerTask)],
      ],
    },
    {
      title: 'CPU of this process during the timed calls, per call (all threads, GC included)',
      rows: [
        ['direct (SDK transport)', ms(cpuPerCall('sdk')), perCallRange(cpu('sdk'))],
        ['direct (ProcessTransport)', ms(cpuPerCall('process')), perCallRange(cpu('process'))],
        ['ensemble', ms(cpuPerCall('ensemble')), perCallRange(cpu('ensemble'))],
        ['added by ensemble per task', ms(cpuPerCall('ensemble') - cpuPerCall('sdk'))],
      ],
    },
    {
      title: 'Transport alone: SDK Client over each stdio transport',
      rows: [
        ['StdioClientTransport (SDK) per call', ms(perCall(direct)), perCallRange(direct)],
        ['ProcessTransport (Ensemble) per call', ms(perCall(viaProcess)), perCallRange(viaProcess)],
        ['ratio ProcessTransport / StdioClientTransport', round(transportRatio).toFixed(3)],
      ],
    },
    {
      title: `Wall time, spawn → closed (includes ${warmup} warm-up + ${n} timed calls)`,
      rows: [
        ['direct, SDK transport', ms(wall('sdk').median), range(wall('sdk'))],
        ['direct, ProcessTransport', ms(wall('process').median), range(wall('process'))],
        ['ensemble run (start() → report)', ms(wall('ensemble').median), range(wall('ensemble'))],
      ],
    },
  ];
  if (cold.sdk && cold.process && cold.ensemble) {
    tables.push({
      title: 'First round in this process (cold JIT; not in the figures above; arms ran sdk, process, ensemble)',
      rows: ARMS.map((arm) => [`${arm} per call`, ms(cold[arm]!.timedMs / n), `CPU ${ms(cold[arm]!.cpuMs / n)}`]),
    });
  }

  const summaryOf = (arm: Arm) => ({
    totalMs: round(timed(arm).median),
    perCallMs: round(perCall(timed(arm))),
    cpuPerCallMs: round(cpuPerCall(arm)),
    samplesMs: timed(arm).samples.map(round),
    wallMs: round(wall(arm).median),
    ...(cold[arm] ? { coldPerCallMs: round(cold[arm]!.timedMs / n) } : {}),
  });
  return {
    tables,
    lines: [
      `target: ratio ≤ ${TARGET.ratio.toFixed(2)} at N = ${TARGET.n} — ${met ? 'met' : 'not met'} (ratio ${round(ratio).toFixed(3)}${atTargetN ? '' : `, measured at N = ${n}`})`,
    ],
    figures: {
      n,
      rounds,
      warmupRounds,
      warmupCallsPerServer: warmup,
      direct: summaryOf('sdk'),
      directProcessTransport: summaryOf('process'),
      ensemble: summaryOf('ensemble'),
      ratio: round(ratio),
      pairedRatioMedian: round(pairedRatio.median),
      addedMsPerTask: round(addedPerTask),
      addedCpuMsPerTask: round(cpuPerCall('ensemble') - cpuPerCall('sdk')),
      transportRatio: round(transportRatio),
      target: { ratio: TARGET.ratio, n: TARGET.n, met, measuredAtTargetN: atTargetN },
    },
  };
}

function buildWorkflow(n: number, warmup: number): Workflow {
  const task = (id: string) => ({ id, server: 'fx', tool: 'noop' });
  const tasks = [...Array.from({ length: warmup }, (_, i) => task(`w${i}`)), ...Array.from({ length: n }, (_, i) => task(`t${i}`))];
  // No output template: the synthesizer joins every task's text, the default users get.
  return parseWorkflow(
    { name: 'bench-sequential', servers: { fx: { command: FIXTURE_SERVER.command, args: FIXTURE_SERVER.args } }, tasks },
    { dir: REPO_ROOT },
  );
}

async function measureDirect(arm: 'sdk' | 'process', n: number, warmup: number): Promise<Measurement> {
  const wallStart = performance.now();
  const transport: Transport =
    arm === 'sdk'
      ? new StdioClientTransport({ command: FIXTURE_SERVER.command, args: FIXTURE_SERVER.args, cwd: REPO_ROOT })
      : new ProcessTransport({ server: 'fx', command: FIXTURE_SERVER.command, args: FIXTURE_SERVER.args, env: {}, cwd: REPO_ROOT });
  const client = new Client({ name: 'ensemble-bench', version: '0.0.0' }, { capabilities: {} });
  try {
    await client.connect(transport);
    await client.listTools(); // Ensemble lists tools when it connects; do the same.
    for (let i = 0; i < warmup; i++) await client.callTool({ name: 'noop', arguments: {} });
    const cpuStart = cpuMs();
    const start = performance.now();
    let last: unknown;
    for (let i = 0; i < n; i++) last = await client.callTool({ name: 'noop', arguments: {} });
    const timedMs = performance.now() - start;
    const cpu = cpuMs() - cpuStart;
    checkOk(last, arm);
    await client.close();
    return { timedMs, cpuMs: cpu, wallMs: performance.now() - wallStart };
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
}

async function measureEnsemble(workflow: Workflow, n: number): Promise<Measurement> {
  const firstId = 't0';
  const lastId = `t${n - 1}`;
  const run = createRun(workflow);
  let started: number | undefined;
  let completed: number | undefined;
  let cpuStart = 0;
  let cpuEnd = 0;
  let completedCount = 0;
  // Subscribed before start(), so every event is seen; the bus delivers synchronously.
  const subscription = run.events$.subscribe((event) => {
    if (event.type === 'task.started' && event.task.id === firstId) {
      cpuStart = cpuMs();
      started = performance.now();
    } else if (event.type === 'task.completed') {
      completedCount++;
      if (event.task.id === lastId) {
        completed = performance.now();
        cpuEnd = cpuMs();
      }
    }
  });
  const wallStart = performance.now();
  const report = await run.start();
  const wallMs = performance.now() - wallStart;
  subscription.unsubscribe();
  if (report.status !== 'completed' || started === undefined || completed === undefined) {
    throw new Error(`ensemble run did not complete: ${report.status} ${report.error?.message ?? ''} (${completedCount} tasks completed)`);
  }
  if (completedCount !== workflow.tasks.length) throw new Error(`expected ${workflow.tasks.length} completed tasks, saw ${completedCount}`);
  return { timedMs: completed - started, cpuMs: cpuEnd - cpuStart, wallMs };
}

function checkOk(result: unknown, arm: string): void {
  const content = (result as { content?: Array<{ text?: string }> } | undefined)?.content;
  if (content?.[0]?.text !== 'ok') throw new Error(`${arm}: noop did not answer "ok": ${JSON.stringify(result)}`);
}
