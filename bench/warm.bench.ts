/**
 * Warm servers in a long-lived process (issue 7): what a sequential task
 * costs on a warm `createEnsemble`, side by side with a direct SDK `Client`
 * on its own process of the same server, in the same process and run.
 *
 *   sequential  N no-op calls (fixture `noop`, server-everything `echo`), N = n and 10·n:
 *               Ensemble/direct on wall time and on this process's CPU time
 *   slope       overhead per task in the first 100 tasks and in the last 100 of 10·n
 *   memory      RSS after 100 tasks and after 10·n tasks (after a GC)
 *   second run  time from `run()` to the first `task.started` on a warm ensemble
 *   parallel    100 × 50 ms on 10 replicas (achieved / ideal 500 ms), and 1,000 instant
 *               tasks on 4 replicas: CPU against a plain Promise pool over 4 SDK clients
 *
 * Each arm alternates with the other per round so both share the machine's
 * noise; medians of the rounds are reported. Never asserts.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { createEnsemble, type BusEvent, type Ensemble } from '../src/index.js';
import { FIXTURE_SERVER, collectGarbage, cpuMs, round, summarize, type BenchContext, type BenchResult } from './support.js';

export const description = 'warm createEnsemble vs a direct SDK client: sequential N and 10·N, slope, RSS, second-run start, parallel';

const require = createRequire(import.meta.url);
const EVERYTHING = join(dirname(require.resolve('@modelcontextprotocol/server-everything/package.json')), 'dist/index.js');

interface ServerUnderTest {
  label: string;
  command: string;
  args: string[];
  tool: string;
  args_: Record<string, unknown>;
}

const SERVERS: ServerUnderTest[] = [
  { label: 'fixture noop', command: FIXTURE_SERVER.command, args: FIXTURE_SERVER.args, tool: 'noop', args_: {} },
  { label: 'server-everything echo', command: process.execPath, args: [EVERYTHING, 'stdio'], tool: 'echo', args_: { message: 'hi' } },
];

async function connect(server: { command: string; args: string[] }): Promise<Client> {
  const client = new Client({ name: 'bench', version: '0' }, { capabilities: {} });
  await client.connect(new StdioClientTransport({ command: server.command, args: server.args, stderr: 'ignore' }));
  return client;
}

async function timeDirect(client: Client, tool: string, args: Record<string, unknown>, n: number): Promise<{ wall: number; cpu: number }> {
  const cpu0 = cpuMs();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await client.callTool({ name: tool, arguments: args });
  return { wall: performance.now() - t0, cpu: cpuMs() - cpu0 };
}

function sequentialWorkflow(server: string, tool: string, args: Record<string, unknown>, n: number) {
  return { name: `seq-${n}`, pattern: 'sequential', tasks: Array.from({ length: n }, (_, i) => ({ id: `t${i}`, server, tool, args })) };
}

/** A run timed from its first task.started to its last task.completed, with the completion time of every task. */
async function timeEnsemble(ensemble: Ensemble, workflow: Record<string, unknown>): Promise<{ wall: number; cpu: number; completedAt: number[]; startedAfterRun: number }> {
  const completedAt: number[] = [];
  let first = 0;
  let cpuAtFirst = 0;
  const runAt = performance.now();
  const report = await ensemble.run(workflow, {
    onEvent: (event: BusEvent) => {
      if (event.type === 'task.started' && first === 0) {
        first = performance.now();
        cpuAtFirst = cpuMs();
      } else if (event.type === 'task.completed') completedAt.push(performance.now());
    },
  });
  if (report.status !== 'completed') throw new Error(`bench run ${report.status}: ${report.error?.message}`);
  return { wall: completedAt.at(-1)! - first, cpu: cpuMs() - cpuAtFirst, completedAt, startedAfterRun: first - runAt };
}

export async function run(context: BenchContext): Promise<BenchResult> {
  const { n, rounds, log } = context;
  const tables: BenchResult['tables'] = [];
  const figures: Record<string, unknown> = {};
  const lines: string[] = [];

  for (const server of SERVERS) {
    const ensemble = createEnsemble({ servers: { s: { command: server.command, args: server.args } } });
    const direct = await connect(server);
    await ensemble.run(sequentialWorkflow('s', server.tool, server.args_, 200));
    await timeDirect(direct, server.tool, server.args_, 200);
    const rows: BenchResult['tables'][number]['rows'] = [];
    for (const size of [n, 10 * n]) {
      const ratios: number[] = [];
      const cpuRatios: number[] = [];
      const added: number[] = [];
      for (let r = 0; r < rounds; r++) {
        const d = await timeDirect(direct, server.tool, server.args_, size);
        const e = await timeEnsemble(ensemble, sequentialWorkflow('s', server.tool, server.args_, size));
        ratios.push(e.wall / d.wall);
        cpuRatios.push(e.cpu / d.cpu);
        added.push(((e.wall - d.wall) / size) * 1000);
        log(`${server.label} N=${size} round ${r + 1}: ensemble ${round(e.wall)} ms, direct ${round(d.wall)} ms`);
      }
      const ratio = summarize(ratios);
      const cpu = summarize(cpuRatios);
      rows.push([`N = ${size}: Ensemble / direct (wall)`, `${round(ratio.median)}`, `min ${round(ratio.min)}, max ${round(ratio.max)}; ${round(summarize(added).median)} µs added per task; target ≤ 1.10`]);
      rows.push([`N = ${size}: Ensemble / direct (CPU)`, `${round(cpu.median)}`, `min ${round(cpu.min)}, max ${round(cpu.max)}`]);
      figures[`${server.label} N=${size}`] = { wallRatio: ratio, cpuRatio: cpu };
    }

    // Slope: overhead per task early and late in one long run, against the direct per-call time.
    const long = 10 * n;
    const direct100 = (await timeDirect(direct, server.tool, server.args_, 1000)).wall / 1000;
    collectGarbage();
    const rss0 = process.memoryUsage().rss;
    const e = await timeEnsemble(ensemble, sequentialWorkflow('s', server.tool, server.args_, long));
    const per = (from: number, to: number) => (e.completedAt[to - 1]! - e.completedAt[from - 1]!) / (to - from);
    const early = per(1, 101) - direct100;
    const late = per(long - 100, long) - direct100;
    rows.push([`overhead per task at tasks 1–100 / ${long - 100}–${long}`, `${round(early * 1000)} / ${round(late * 1000)} µs`, `late/early ${round(late / early)}; target ≤ 1.2 (noisy: a few µs on ≈ ${round(direct100 * 1000)} µs calls)`]);
    const small = await timeEnsemble(ensemble, sequentialWorkflow('s', server.tool, server.args_, 100));
    void small;
    collectGarbage();
    const rss100 = process.memoryUsage().rss;
    await timeEnsemble(ensemble, sequentialWorkflow('s', server.tool, server.args_, long));
    collectGarbage();
    const rssLong = process.memoryUsage().rss;
    rows.push([`RSS after 100 tasks / after ${long}`, `${round(rss100 / 2 ** 20)} / ${round(rssLong / 2 ** 20)} MB`, `difference ${round((rssLong - rss100) / 2 ** 20)} MB (start ${round(rss0 / 2 ** 20)} MB); target ≤ 20 MB`]);

    // Second run on a warm ensemble: run() to its first task.started.
    const starts: number[] = [];
    for (let r = 0; r < Math.max(rounds, 5); r++) starts.push((await timeEnsemble(ensemble, sequentialWorkflow('s', server.tool, server.args_, 1))).startedAfterRun);
    const start = summarize(starts);
    rows.push(['warm run(): first task starts after', `${round(start.median)} ms`, `min ${round(start.min)}, max ${round(start.max)}; target ≤ 5 ms`]);
    figures[`${server.label} slope`] = { earlyUs: early * 1000, lateUs: late * 1000, rss100, rssLong, secondRunStartMs: start };
    tables.push({ title: `Warm ensemble, sequential, ${server.label}`, rows });
    await direct.close();
    await ensemble.close();
  }

  // Parallel: 100 × 50 ms on 10 replicas.
  {
    const ensemble = createEnsemble({ servers: { s: { ...FIXTURE_SERVER, replicas: 10 } } });
    const tasks = (count: number, ms: number) => Array.from({ length: count }, (_, i) => ({ id: `t${i}`, server: 's', tool: ms > 0 ? 'sleep' : 'noop', args: ms > 0 ? { ms } : {}, needs: [] }));
    await ensemble.run({ name: 'warm', pattern: 'parallel', tasks: tasks(20, 0) });
    const achieved: number[] = [];
    for (let r = 0; r < rounds; r++) achieved.push((await timeEnsemble(ensemble, { name: 'fan', pattern: 'parallel', tasks: tasks(100, 50) })).wall / 500);
    await ensemble.close();
    const summary = summarize(achieved);
    const rows: BenchResult['tables'][number]['rows'] = [['100 × 50 ms on 10 replicas: achieved / ideal', `${round(summary.median)}`, `min ${round(summary.min)}, max ${round(summary.max)}; target ≤ 1.06`]];

    // 1,000 instant tasks on 4 replicas: CPU against a Promise pool over 4 direct clients.
    const pool = createEnsemble({ servers: { s: { ...FIXTURE_SERVER, replicas: 4 } } });
    const clients = await Promise.all([1, 2, 3, 4].map(() => connect(FIXTURE_SERVER)));
    await pool.run({ name: 'warm', pattern: 'parallel', tasks: tasks(200, 0) });
    const plainPool = async (count: number) => {
      let next = 0;
      const cpu0 = cpuMs();
      const t0 = performance.now();
      await Promise.all(
        clients.map(async (client) => {
          while (next < count) {
            next++;
            await client.callTool({ name: 'noop', arguments: {} });
          }
        }),
      );
      return { wall: performance.now() - t0, cpu: cpuMs() - cpu0 };
    };
    await plainPool(200);
    const cpuRatios: number[] = [];
    const wallRatios: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const p = await plainPool(1000);
      const e = await timeEnsemble(pool, { name: 'instant', pattern: 'parallel', tasks: tasks(1000, 0) });
      cpuRatios.push(e.cpu / p.cpu);
      wallRatios.push(e.wall / p.wall);
      log(`1000 instant on 4: ensemble ${round(e.wall)} ms / ${round(e.cpu)} ms CPU, pool ${round(p.wall)} ms / ${round(p.cpu)} ms CPU`);
    }
    await Promise.all(clients.map((client) => client.close()));
    await pool.close();
    const cpu = summarize(cpuRatios);
    const wall = summarize(wallRatios);
    rows.push(['1,000 instant tasks on 4 replicas: CPU / Promise pool', `${round(cpu.median)}`, `min ${round(cpu.min)}, max ${round(cpu.max)}; wall ${round(wall.median)}×; target ≤ 1.2`]);
    tables.push({ title: 'Warm ensemble, parallel (fixture)', rows });
    figures.parallel = { achievedOverIdeal: summary, instantCpuRatio: cpu, instantWallRatio: wall };
  }
  lines.push('Direct = one SDK Client over the SDK stdio transport to its own process of the same server, in this process, alternating with Ensemble each round.');
  return { tables, lines, figures };
}
