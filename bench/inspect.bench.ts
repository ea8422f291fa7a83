/**
 * The cost of watching a run: N sequential `noop` tasks (the `sequential` benchmark's Ensemble
 * arm) plain, with the inspector serving a page that is open in headless Chromium (when
 * /usr/bin/chromium exists; without it the inspector runs with no page), and with `--trace`
 * writing every event to a file. Timed on the bus from the first `task.started` to the last
 * `task.completed`; the ratio is to the plain run of the same round.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { createInspector, createRun, parseWorkflow, type Workflow } from '../src/index.js';
import { createEventFeed } from '../src/inspector/event-feed.js';
import { writeTrace } from '../src/inspector/trace-writer.js';
import { FIXTURE_SERVER, REPO_ROOT, collectGarbage, cpuMs, ms, range, round, summarize, type BenchContext, type BenchResult } from './support.js';

export const description = 'cost per task of --inspect (page open in Chromium) and --trace on N sequential noop tasks, as a ratio to the plain run';

const TARGET = { ratio: 1.5 };
const CHROMIUM = '/usr/bin/chromium';

type Arm = 'plain' | 'inspect' | 'trace';
const ARMS: Arm[] = ['plain', 'inspect', 'trace'];

interface Measurement {
  timedMs: number;
  cpuMs: number;
}

export async function run(context: BenchContext): Promise<BenchResult> {
  const { n, rounds, warmup, warmupRounds, log } = context;
  const workflow = buildWorkflow(n, warmup);
  const dir = mkdtempSync(join(tmpdir(), 'ensemble-bench-inspect-'));
  const browser = existsSync(CHROMIUM) ? await launchBrowser() : undefined;
  try {
    const measure = (arm: Arm) => measureArm(arm, workflow, n, dir, browser);
    for (let r = 0; r < warmupRounds; r++) {
      for (const arm of ARMS) await measure(arm);
      log(`inspect: warm-up round ${r + 1}/${warmupRounds} (untimed)`);
    }
    const samples: Record<Arm, Measurement[]> = { plain: [], inspect: [], trace: [] };
    for (let r = 0; r < rounds; r++) {
      const order = ARMS.map((_, i) => ARMS[(i + r) % ARMS.length]!);
      for (const arm of order) {
        collectGarbage();
        samples[arm].push(await measure(arm));
      }
      log(`inspect: round ${r + 1}/${rounds}: ${ARMS.map((arm) => `${arm} ${round(samples[arm].at(-1)!.timedMs / n)} ms/task`).join(', ')}`);
    }
    const timed = (arm: Arm) => summarize(samples[arm].map((m) => m.timedMs));
    const cpu = (arm: Arm) => summarize(samples[arm].map((m) => m.cpuMs));
    const ratio = (arm: Arm) => timed(arm).median / timed('plain').median;
    const paired = (arm: Arm) => summarize(samples[arm].map((m, i) => m.timedMs / samples.plain[i]!.timedMs));
    const page = browser ? 'page open in headless Chromium' : 'no page (chromium missing)';
    const met = ratio('inspect') <= TARGET.ratio && ratio('trace') <= TARGET.ratio;
    return {
      tables: [
        {
          title: `Watching a run: N = ${n} sequential noop tasks, median of ${rounds} rounds (${page})`,
          rows: ARMS.map((arm) => [`${arm} per task`, ms(timed(arm).median / n), `${range(timed(arm), 1 / n)}${arm === 'plain' ? '' : `; ratio ${round(ratio(arm)).toFixed(3)} (paired median ${round(paired(arm).median)})`}`]),
        },
        {
          title: 'CPU of this process per task during the timed span (the browser is another process)',
          rows: ARMS.map((arm) => [arm, ms(cpu(arm).median / n), range(cpu(arm), 1 / n)]),
        },
      ],
      lines: [`target: --inspect and --trace each ≤ ${TARGET.ratio.toFixed(2)}× the plain run — ${met ? 'met' : 'not met'} (inspect ${round(ratio('inspect')).toFixed(3)}×, trace ${round(ratio('trace')).toFixed(3)}×, ${page})`],
      figures: {
        n,
        rounds,
        pageOpen: browser !== undefined,
        perTaskMs: Object.fromEntries(ARMS.map((arm) => [arm, round(timed(arm).median / n)])),
        cpuPerTaskMs: Object.fromEntries(ARMS.map((arm) => [arm, round(cpu(arm).median / n)])),
        ratio: { inspect: round(ratio('inspect')), trace: round(ratio('trace')) },
        target: { ratio: TARGET.ratio, met },
      },
    };
  } finally {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function launchBrowser(): Promise<Browser> {
  const { chromium } = await import('playwright-core');
  return chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
}

async function measureArm(arm: Arm, workflow: Workflow, n: number, dir: string, browser: Browser | undefined): Promise<Measurement> {
  const feed = arm === 'plain' ? undefined : createEventFeed();
  const trace = arm === 'trace' && feed ? writeTrace(feed, join(dir, 'run.jsonl')) : undefined;
  const inspector = arm === 'inspect' && feed ? await createInspector({ feed }) : undefined;
  const page = inspector && browser ? await browser.newPage() : undefined;
  if (page && inspector) await page.goto(inspector.url);
  try {
    const run = createRun(workflow, feed ? { inspect: feed.inspect } : {});
    if (feed) feed.attachBus(run.events$);
    const lastId = `t${n - 1}`;
    let started: number | undefined;
    let completed: number | undefined;
    let cpuStart = 0;
    let cpuEnd = 0;
    run.events$.subscribe((event) => {
      if (event.type === 'task.started' && event.task.id === 't0') {
        cpuStart = cpuMs();
        started = performance.now();
      } else if (event.type === 'task.completed' && event.task.id === lastId) {
        completed = performance.now();
        cpuEnd = cpuMs();
      }
    });
    const report = await run.start();
    if (report.status !== 'completed' || started === undefined || completed === undefined) throw new Error(`inspect bench (${arm}): the run did not complete: ${report.status} ${report.error?.message ?? ''}`);
    return { timedMs: completed - started, cpuMs: cpuEnd - cpuStart };
  } finally {
    await trace?.close();
    await page?.close();
    await inspector?.close();
  }
}

function buildWorkflow(n: number, warmup: number): Workflow {
  const task = (id: string) => ({ id, server: 'fx', tool: 'noop' });
  const tasks = [...Array.from({ length: warmup }, (_, i) => task(`w${i}`)), ...Array.from({ length: n }, (_, i) => task(`t${i}`))];
  return parseWorkflow({ name: 'bench-inspect', servers: { fx: { command: FIXTURE_SERVER.command, args: FIXTURE_SERVER.args } }, tasks }, { dir: REPO_ROOT });
}
