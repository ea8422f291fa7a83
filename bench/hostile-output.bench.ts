/**
 * What hostile server output costs Ensemble, measured on the process
 * transport with the SDK `Client` against the fixture server (a fresh
 * process per measurement):
 *
 *   stderr flood    300 MB of stderr with no newline, then 20 `echo` calls:
 *                   the calls' wall time and this process's peak RSS growth
 *                   (issue 8 measured 15.2 s and 620–740 MB before the ring)
 *   stdout flood    1,000,000 non-JSON lines: time until the server is
 *                   stopped, lines counted, peak RSS growth (1.6 GB before)
 *   oversized       an 11 MB result: time until the call fails (a crash of
 *                   the whole process before)
 *   watchdog        the first server's `watchGroup` (it spawns the watchdog),
 *                   a later one, and the watchdog's own RSS
 *
 * Peak RSS is sampled every 5 ms, so a short spike may be missed. `--rounds`
 * applies; `--n`, `--warmup` and `--warmup-rounds` do not.
 */
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ProcessTransport } from '../actors/process-transport.js';
import { getWatchdogPid, watchGroup } from '../actors/process-watchdog.js';
import { FIXTURE_SERVER, REPO_ROOT, ms, round, summarize, type BenchContext, type BenchResult } from './support.js';

export const description = 'stderr and stdout floods, an oversized result and the watchdog: time and memory on the Ensemble side';

const MiB = 1024 * 1024;

async function connect(): Promise<{ client: Client; transport: ProcessTransport }> {
  const transport = new ProcessTransport({ server: 'fx', command: FIXTURE_SERVER.command, args: FIXTURE_SERVER.args, env: {}, cwd: REPO_ROOT });
  const client = new Client({ name: 'ensemble-bench', version: '0.0.0' }, { capabilities: {} });
  await client.connect(transport);
  return { client, transport };
}

/** Runs `work` and reports its wall time and the peak RSS growth of this process meanwhile. */
async function measure(work: () => Promise<void>): Promise<{ ms: number; peakRssMB: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
  const start = performance.now();
  await work();
  const elapsed = performance.now() - start;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  return { ms: elapsed, peakRssMB: (peak - base) / 1e6 };
}

function rssOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((entry) => entry.startsWith('VmRSS:'));
  return line ? Number(line.replace(/\D+/g, '')) / 1024 : undefined;
}

export async function run(context: BenchContext): Promise<BenchResult> {
  const { rounds, log } = context;
  const watchdog = { firstMs: 0, laterUs: 0, rssMB: undefined as number | undefined };
  if (getWatchdogPid() === undefined) {
    // Group ids above the kernel's pid_max (32768 by default, 4194304 at most) cannot exist, so nothing is signalled.
    const start = performance.now();
    watchGroup(5_000_000);
    watchdog.firstMs = performance.now() - start;
    const later = performance.now();
    for (let i = 1; i <= 1000; i++) watchGroup(5_000_000 + i);
    watchdog.laterUs = ((performance.now() - later) / 1000) * 1000;
  }

  const stderr: { ms: number; peakRssMB: number }[] = [];
  const stdout: { ms: number; peakRssMB: number; lines: number }[] = [];
  const oversized: { ms: number; peakRssMB: number }[] = [];
  for (let index = 0; index < rounds; index++) {
    log(`hostile-output: round ${index + 1}/${rounds}`);
    {
      const { client } = await connect();
      await client.callTool({ name: 'stderr', arguments: { bytes: 300 * MiB } });
      stderr.push(await measure(async () => {
        for (let i = 0; i < 20; i++) await client.callTool({ name: 'echo', arguments: { text: 'x' } });
      }));
      await client.close();
    }
    {
      const { client, transport } = await connect();
      const figures = await measure(async () => {
        await client.callTool({ name: 'garbage', arguments: { lines: 1_000_000 } }).catch(() => undefined);
      });
      stdout.push({ ...figures, lines: transport.garbage.lines });
      await client.close();
    }
    {
      const { client } = await connect();
      oversized.push(await measure(async () => {
        await client.callTool({ name: 'big', arguments: { bytes: 11 * MiB } }).catch(() => undefined);
      }));
      await client.close();
    }
  }
  watchdog.rssMB = rssOf(getWatchdogPid());

  const median = (values: number[]) => summarize(values).median;
  const rows: Array<[string, string, string?]> = [
    ['20 echo calls after 300 MB of stderr', ms(median(stderr.map((entry) => entry.ms))), `peak RSS +${round(median(stderr.map((entry) => entry.peakRssMB)))} MB`],
    ['1,000,000 garbage lines → server stopped', ms(median(stdout.map((entry) => entry.ms))), `${stdout[0]?.lines} lines counted, peak RSS +${round(median(stdout.map((entry) => entry.peakRssMB)))} MB`],
    ['11 MB result → call failed', ms(median(oversized.map((entry) => entry.ms))), `peak RSS +${round(median(oversized.map((entry) => entry.peakRssMB)))} MB`],
    ['watchdog: first watchGroup (spawns it)', ms(watchdog.firstMs)],
    ['watchdog: each later watchGroup', `${round(watchdog.laterUs)} µs`],
    ['watchdog: its RSS', watchdog.rssMB === undefined ? 'n/a' : `${round(watchdog.rssMB)} MB`],
  ];
  return {
    tables: [{ title: 'hostile server output (medians)', rows }],
    lines: ['The server is stopped after 100 garbage lines in a row; the rest of the flood is drained, not parsed.'],
    figures: { stderr, stdout, oversized, watchdog },
  };
}
