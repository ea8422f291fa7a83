/**
 * How fast graceful degradation reacts, in health-check intervals: a stream
 * of `echo` tasks on a primary fixture server with a health check and a
 * second fixture server (`backup`) as its fallback. Once the stream runs on
 * the primary (and both backup processes are up), the primary's process is
 * stopped from outside, by its pid from the bus:
 *
 *   crash   SIGKILL: the process exits, which the connection sees at once
 *   freeze  SIGSTOP: the process is alive but answers nothing; only missed
 *           pings (`failures: 2`, each `timeoutMs` = `intervalMs`) reveal it
 *
 * Measured in this process with performance.now() in a bus subscriber (the
 * bus delivers synchronously, so a subscriber's clock is the engine's):
 *
 *   death → unavailable       the signal, to the primary's `server.state` unavailable
 *   death → fallback serves   the signal, to the first `task.completed` served by backup
 *   death → restart begins    the signal, to the primary's `server.state` recovering
 *   death → back              the signal, to the restarted primary connected and probed
 *                             (recovery: initialDelayMs = intervalMs, jittered to ½–1×)
 *   back → primary serves     that, to the first `task.completed` served by the primary again
 *
 * and each as a multiple of the interval. The run is cancelled once the
 * primary serves again. Every task is idempotent (`idempotentTools: [echo]`),
 * so the call in flight at the signal is retried on the fallback rather than
 * failed. `--rounds` applies (per scenario and interval); `--n`, `--warmup`
 * and `--warmup-rounds` do not: each round is seconds of timers and process
 * starts, not a hot loop.
 */
import { createRun, parseWorkflow, type BusEvent, type Workflow } from '../src/index.js';
import { FIXTURE_SERVER, REPO_ROOT, ms, range, round, summarize, type BenchContext, type BenchResult, type Summary } from './support.js';

export const description = "death of a server → first call served by its fallback, and its return → first call served by it again, in health-check intervals";

const SCENARIOS = ['crash', 'freeze'] as const;
type Scenario = (typeof SCENARIOS)[number];
const SIGNAL: Record<Scenario, NodeJS.Signals> = { crash: 'SIGKILL', freeze: 'SIGSTOP' };
const INTERVALS_MS = [100, 200];
const FAILURES = 2;
/** Tasks the primary serves before the signal: the stream is in its steady state. */
const STEADY_TASKS = 50;
/** Far more tasks than a round needs (about 1 ms each); the run is cancelled once measured. */
const STREAM_TASKS = 20_000;

interface Round {
  toUnavailableMs: number;
  toFallbackMs: number;
  toRecoveringMs: number;
  toBackMs: number;
  backToPrimaryMs: number;
}
const SPANS: Array<[keyof Round, string]> = [
  ['toUnavailableMs', 'death → unavailable'],
  ['toFallbackMs', 'death → first call served by the fallback'],
  ['toRecoveringMs', 'death → restart begins (after the backoff)'],
  ['toBackMs', 'death → primary back (restarted, probed)'],
  ['backToPrimaryMs', 'back → first call served by the primary again'],
];

export async function run(context: BenchContext): Promise<BenchResult> {
  const { rounds, log } = context;
  const tables: BenchResult['tables'] = [];
  const figures: Record<string, unknown> = { rounds, failures: FAILURES, steadyTasks: STEADY_TASKS };

  for (const intervalMs of INTERVALS_MS) {
    const workflow = buildWorkflow(intervalMs);
    for (const scenario of SCENARIOS) {
      const samples: Round[] = [];
      for (let r = 0; r < rounds; r++) {
        const sample = await measureRound(workflow, scenario);
        samples.push(sample);
        log(`degradation: ${scenario}, interval ${intervalMs} ms, round ${r + 1}/${rounds}: fallback after ${round(sample.toFallbackMs)} ms, primary again ${round(sample.toBackMs + sample.backToPrimaryMs)} ms after the signal`);
      }
      const summaries = Object.fromEntries(SPANS.map(([key]) => [key, summarize(samples.map((sample) => sample[key]))])) as Record<keyof Round, Summary>;
      const inIntervals = (summary: Summary) => `${round(summary.median / intervalMs)} ×`;
      tables.push({
        title: `${scenario} (${SIGNAL[scenario]}), health check every ${intervalMs} ms (${FAILURES} misses, ${intervalMs} ms to answer): median of ${rounds}`,
        rows: SPANS.map(([key, label]) => [label, ms(summaries[key].median), `${inIntervals(summaries[key])} interval   ${range(summaries[key])}`]),
      });
      figures[`${scenario}@${intervalMs}ms`] = Object.fromEntries(
        SPANS.map(([key]) => [key, { medianMs: round(summaries[key].median), intervals: round(summaries[key].median / intervalMs), samplesMs: summaries[key].samples.map(round) }]),
      );
    }
  }

  return {
    tables,
    lines: [
      'crash: an exit is seen at once, so the fallback takes over well within one interval, whatever the interval.',
      `freeze: only the health check sees it, after between ${FAILURES} × (interval + timeout) − interval and ${FAILURES} × (interval + timeout) depending on where in the ping cycle it froze: ${2 * FAILURES - 1}–${2 * FAILURES} intervals here.`,
      'back → primary: the switch-back happens on the ready report itself (no polling), so it costs about one call (the first on a fresh process).',
    ],
    figures,
  };
}

function buildWorkflow(intervalMs: number): Workflow {
  const tasks = Array.from({ length: STREAM_TASKS }, (_, i) => ({ id: `t${i}`, server: 'primary', tool: 'echo', args: { text: `t${i}` } }));
  return parseWorkflow(
    {
      name: 'bench-degradation',
      servers: {
        primary: {
          command: FIXTURE_SERVER.command,
          args: FIXTURE_SERVER.args,
          healthCheck: { intervalMs, failures: FAILURES },
          recovery: { initialDelayMs: intervalMs, maxDelayMs: 10 * intervalMs },
          idempotentTools: ['echo'],
          fallback: [{ server: 'backup', tools: { echo: { tool: 'echo' } } }],
        },
        backup: { command: FIXTURE_SERVER.command, args: [...FIXTURE_SERVER.args, '--name', 'backup'] },
      },
      tasks,
    },
    { dir: REPO_ROOT },
  );
}

/** A process connected (its lifecycle `ready`, with tools; `ready` after a call carries none). */
function isStarted(event: BusEvent, server: string): event is Extract<BusEvent, { type: 'server.state' }> {
  return event.type === 'server.state' && event.server === server && event.state === 'serving' && event.tools !== undefined;
}

async function measureRound(workflow: Workflow, scenario: Scenario): Promise<Round> {
  const run = createRun(workflow);
  let backupStarts = 0;
  let primaryPid: number | undefined;
  let onPrimary = 0;
  let signalledAt: number | undefined;
  let unavailableAt: number | undefined;
  let fallbackAt: number | undefined;
  let recoveringAt: number | undefined;
  let backAt: number | undefined;
  let primaryAgainAt: number | undefined;

  const subscription = run.events$.subscribe((event) => {
    const now = performance.now();
    if (isStarted(event, 'backup')) backupStarts++;
    if (signalledAt === undefined) {
      if (isStarted(event, 'primary')) primaryPid = event.pid;
      // Both backup processes (the run's own and the fallback's) must be up: the fallback is ready when the primary dies.
      if (event.type === 'task.completed' && !event.servedBy && ++onPrimary >= STEADY_TASKS && backupStarts >= 2 && primaryPid !== undefined) {
        signalledAt = performance.now();
        process.kill(primaryPid, SIGNAL[scenario]);
      }
      return;
    }
    if (unavailableAt === undefined && event.type === 'server.state' && event.server === 'primary' && event.state === 'unavailable') unavailableAt = now;
    if (recoveringAt === undefined && event.type === 'server.state' && event.server === 'primary' && event.state === 'recovering') recoveringAt = now;
    if (backAt === undefined && isStarted(event, 'primary')) backAt = now;
    if (event.type !== 'task.completed') return;
    if (fallbackAt === undefined && event.servedBy === 'backup') fallbackAt = now;
    if (primaryAgainAt === undefined && backAt !== undefined && !event.servedBy) {
      primaryAgainAt = now;
      run.cancel('measured');
    }
  });
  const report = await run.start();
  subscription.unsubscribe();
  if (signalledAt === undefined || unavailableAt === undefined || fallbackAt === undefined || recoveringAt === undefined || backAt === undefined || primaryAgainAt === undefined) {
    throw new Error(`degradation (${scenario}): the round did not go through death and return: ${report.status} ${report.error?.message ?? ''}`);
  }
  return {
    toUnavailableMs: unavailableAt - signalledAt,
    toFallbackMs: fallbackAt - signalledAt,
    toRecoveringMs: recoveringAt - signalledAt,
    toBackMs: backAt - signalledAt,
    backToPrimaryMs: primaryAgainAt - backAt,
  };
}
