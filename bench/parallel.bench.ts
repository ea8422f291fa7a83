/**
 * Fan-out efficiency: 100 tasks of the fixture's `sleep {ms: 50}` on a pool
 * of 10 server processes, 10 in flight at once. The ideal is 10 waves × 50 ms
 * = 500 ms; the figure is achieved / ideal, against the same work done with
 * no engine at all:
 *
 *   floor     10 SDK `Client`s over `StdioClientTransport` to 10 fixture
 *             processes; a plain Promise pool (10 workers pulling from one
 *             queue of 100 calls); timed first call → last result
 *   ensemble  createRun() of a workflow with one server `fx` (`replicas: 10`),
 *             `concurrency: 10` and 100 independent tasks (`needs`); timed on
 *             the bus, first `task.started` → last `task.completed` (and, for
 *             comparison, from the group's `run.group` started: the first
 *             task's call is already on its way when its `task.started` is
 *             published)
 *
 * Both arms spawn fresh processes every round and warm each one up with a few
 * untimed `sleep {ms: 1}` calls (in the Ensemble workflow these are tasks
 * w0… in a first group, which t0… need, so the timed tasks form the second
 * group). Rounds alternate the arms; medians are reported.
 *
 * Two contrasts follow, on the engine only:
 *
 *   sequential  the same 100 tasks as a plain list on one server: ≈ 100 × 50 ms
 *   eager       one slow task (1000 ms) beside 5 chains quick (50 ms) → next
 *               (500 ms): `schedule: groups` holds every `next` back until the
 *               slow task ends; `schedule: eager` starts each once its quick
 *               task is done
 *
 * The task count, sleep and pool size are fixed (`--n` and `--warmup` do not
 * apply; the per-server warm-up is min(--warmup, 10) calls).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { createRun, parseWorkflow, type BusEvent, type Workflow } from '../src/index.js';
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

export const description = 'fan-out: 100 × sleep 50 ms on 10 replicas (ideal 500 ms) vs a plain Promise pool; sequential and eager contrasts';

const TASKS = 100;
const REPLICAS = 10;
const SLEEP_MS = 50;
const WAVES = Math.ceil(TASKS / REPLICAS);
const IDEAL_MS = WAVES * SLEEP_MS;
const SEQUENTIAL_IDEAL_MS = TASKS * SLEEP_MS;
/** Untimed warm-up calls per fresh server process, at most. */
const MAX_WARMUP_PER_SERVER = 10;
const WARMUP_SLEEP_MS = 1;

/** The target this benchmark reports on (never asserts). */
const TARGET = { ratio: 1.06 };

/** The eager-schedule workflow's shape. */
const EAGER = { slowMs: 1000, quickMs: 50, nextMs: 500, chains: 5 };
const EAGER_REPLICAS = EAGER.chains + 1;
const EAGER_IDEAL = { groups: EAGER.slowMs + EAGER.nextMs, eager: Math.max(EAGER.slowMs, EAGER.quickMs + EAGER.nextMs) };

type Arm = 'floor' | 'ensemble';
const ARMS: Arm[] = ['floor', 'ensemble'];

interface FanOut {
  /** The 100 timed calls (or tasks): first started → last completed. */
  execMs: number;
  /** CPU of this process during the timed span. */
  cpuMs: number;
  /** Spawn (or `start()`) → every server connected and its tools listed. */
  readyMs: number;
  /** Spawn → every process closed (Ensemble: `start()` → report). */
  wallMs: number;
  /** Each timed call's round trip minus the 50 ms it sleeps (Ensemble: the connection's own timing). */
  callExcessMs: number[];
  /** Ensemble only: the timed group's `run.group` (started) → last `task.completed`. */
  fromGroupMs?: number;
  /** Start → the 10th call issued (floor) or the 10th `task.started` after the timed group's `run.group` (ensemble): the first wave dispatched. */
  firstWaveMs?: number;
  /** Ensemble only: each task's started → completed minus its connection-level call time. */
  engineMs?: number[];
  /** Ensemble only: `task.started` → the connection sends the call (the part of `engineMs` before the call). */
  toCallMs?: number[];
  /** Ensemble only: the connection has the result (`server.call.result`) → `task.completed`. */
  fromCallMs?: number[];
  /** Ensemble only: on one replica, a task's `task.completed` → the next task's `task.started`. */
  redispatchMs?: number[];
  /** Timed calls per server process (balance of the pool). */
  perServer: number[];
}

export async function run(context: BenchContext): Promise<BenchResult> {
  const { rounds, warmupRounds, log } = context;
  const warmupPerServer = Math.min(context.warmup, MAX_WARMUP_PER_SERVER);
  const workflow = buildFanOutWorkflow(warmupPerServer);
  const measure = (arm: Arm): Promise<FanOut> => (arm === 'floor' ? measureFloor(warmupPerServer) : measureEnsemble(workflow));
  const describe = (m: FanOut) => `${round(m.execMs)} ms (${round(m.execMs / IDEAL_MS).toFixed(3)})`;

  const cold: Partial<Record<Arm, FanOut>> = {};
  for (let r = 0; r < warmupRounds; r++) {
    for (const arm of ARMS) {
      collectGarbage();
      const m = await measure(arm);
      if (r === 0) cold[arm] = m;
    }
    log(`parallel: warm-up round ${r + 1}/${warmupRounds} (untimed)`);
  }

  const samples: Record<Arm, FanOut[]> = { floor: [], ensemble: [] };
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? ARMS : [...ARMS].reverse();
    for (const arm of order) {
      collectGarbage();
      samples[arm].push(await measure(arm));
    }
    log(`parallel: round ${r + 1}/${rounds}: floor ${describe(samples.floor.at(-1)!)}, ensemble ${describe(samples.ensemble.at(-1)!)}`);
  }

  log('parallel: sequential contrast (one round, ≈ 5 s)');
  collectGarbage();
  const sequential = await measureSequential(warmupPerServer);

  const eagerRounds = Math.min(rounds, 3);
  const eagerSamples: Record<Schedule, ScheduleRun[]> = { groups: [], eager: [] };
  for (let r = 0; r < eagerRounds; r++) {
    const order: Schedule[] = r % 2 === 0 ? ['groups', 'eager'] : ['eager', 'groups'];
    for (const schedule of order) {
      collectGarbage();
      eagerSamples[schedule].push(await measureSchedule(schedule));
    }
    log(`parallel: eager contrast ${r + 1}/${eagerRounds}: groups ${round(eagerSamples.groups.at(-1)!.execMs)} ms, eager ${round(eagerSamples.eager.at(-1)!.execMs)} ms`);
  }

  return report({ rounds, warmupRounds, warmupPerServer, samples, cold, sequential, eagerRounds, eagerSamples });
}

// ── the report ──────────────────────────────────────────────────────────────

interface Collected {
  rounds: number;
  warmupRounds: number;
  warmupPerServer: number;
  samples: Record<Arm, FanOut[]>;
  cold: Partial<Record<Arm, FanOut>>;
  sequential: SequentialRun;
  eagerRounds: number;
  eagerSamples: Record<Schedule, ScheduleRun[]>;
}

function report(collected: Collected): BenchResult {
  const { rounds, warmupRounds, warmupPerServer, samples, cold, sequential, eagerRounds, eagerSamples } = collected;
  const of = (arm: Arm, pick: (m: FanOut) => number) => summarize(samples[arm].map(pick));
  const exec = (arm: Arm) => of(arm, (m) => m.execMs);
  const floor = exec('floor');
  const ensemble = exec('ensemble');
  const achieved = (summary: Summary) => summary.median / IDEAL_MS;
  const ratio = ensemble.median / floor.median;
  const paired = summarize(samples.ensemble.map((m, i) => m.execMs / samples.floor[i]!.execMs));
  const met = achieved(ensemble) <= TARGET.ratio;
  const perWave = (arm: Arm) => (exec(arm).median - IDEAL_MS) / WAVES;
  // Per-call figures: the median over rounds of each round's mean.
  const meanOf = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / Math.max(1, values.length);
  const perRoundMean = (arm: Arm, pick: (m: FanOut) => number[] | undefined) => summarize(samples[arm].map((m) => meanOf(pick(m) ?? [])));
  const callExcess = (arm: Arm) => perRoundMean(arm, (m) => m.callExcessMs);
  const engine = perRoundMean('ensemble', (m) => m.engineMs);
  const fromGroup = of('ensemble', (m) => m.fromGroupMs ?? Number.NaN);
  const firstWave = (arm: Arm) => of(arm, (m) => m.firstWaveMs ?? Number.NaN);
  const toCall = perRoundMean('ensemble', (m) => m.toCallMs);
  const fromCall = perRoundMean('ensemble', (m) => m.fromCallMs);
  const redispatch = perRoundMean('ensemble', (m) => m.redispatchMs);
  const engineMax = summarize(samples.ensemble.map((m) => Math.max(...(m.engineMs ?? [0]))));
  const cpuPerTask = (arm: Arm) => of(arm, (m) => m.cpuMs).median / TASKS;
  const balance = (arm: Arm) => {
    const all = samples[arm].flatMap((m) => m.perServer);
    return `${Math.min(...all)}–${Math.max(...all)} calls per process`;
  };

  const tables: BenchResult['tables'] = [
    {
      title: `Fan-out: ${TASKS} × sleep ${SLEEP_MS} ms on ${REPLICAS} processes, ${REPLICAS} in flight; median of ${rounds} rounds (fresh processes each, ${warmupPerServer} untimed calls per process first)`,
      rows: [
        ['ideal', ms(IDEAL_MS), `${WAVES} waves × ${SLEEP_MS} ms`],
        ['floor (Promise pool over 10 SDK Clients), first call → last result', ms(floor.median), range(floor)],
        ['floor achieved / ideal', round(achieved(floor)).toFixed(3), `min ${round(floor.min / IDEAL_MS).toFixed(3)}, max ${round(floor.max / IDEAL_MS).toFixed(3)}`],
        ['ensemble (replicas: 10, concurrency: 10), first task.started → last task.completed', ms(ensemble.median), range(ensemble)],
        ['ensemble achieved / ideal', round(achieved(ensemble)).toFixed(3), `min ${round(ensemble.min / IDEAL_MS).toFixed(3)}, max ${round(ensemble.max / IDEAL_MS).toFixed(3)}`],
        ['ensemble from the group\'s run.group (started) instead', ms(fromGroup.median), `achieved / ideal ${round(fromGroup.median / IDEAL_MS).toFixed(3)}; ${range(fromGroup)}`],
        ['ratio ensemble / floor', round(ratio).toFixed(3), `paired per round: median ${round(paired.median).toFixed(3)}, ${range(paired)}`],
      ],
    },
    {
      title: 'Where the time goes (per round: mean over the 100 timed calls; then the median over rounds)',
      rows: [
        ['overhead per wave, floor', ms(perWave('floor')), '(time − ideal) / 10 waves'],
        ['overhead per wave, ensemble', ms(perWave('ensemble'))],
        ['call round trip beyond 50 ms, floor', ms(callExcess('floor').median), `${range(callExcess('floor'))}; timer slack + stdio + JSON-RPC`],
        ['call round trip beyond 50 ms, ensemble (connection timing)', ms(callExcess('ensemble').median), range(callExcess('ensemble'))],
        ['engine per task: started → completed minus the call', ms(engine.median), `${range(engine)}; worst single task: median ${ms(engineMax.median)}, ${range(engineMax)}`],
        ['  of which task.started → call sent', ms(toCall.median), `${range(toCall)}; negative when the call left before task.started was published`],
        ['  of which call result → task.completed', ms(fromCall.median), range(fromCall)],
        ['replica freed → its next task.started (ensemble)', ms(redispatch.median), range(redispatch)],
        ['first wave dispatched, floor: start → 10th call issued', ms(firstWave('floor').median), range(firstWave('floor'))],
        ['first wave dispatched, ensemble: run.group (started) → 10th task.started', ms(firstWave('ensemble').median), range(firstWave('ensemble'))],
        ['CPU of this process per task, floor', ms(cpuPerTask('floor'))],
        ['CPU of this process per task, ensemble', ms(cpuPerTask('ensemble'))],
        ['pool balance, floor', balance('floor')],
        ['pool balance, ensemble', balance('ensemble')],
      ],
    },
    {
      title: 'Wall time (not in the ratios): spawning 10 processes dominates on a 2-core machine',
      rows: [
        ['floor: spawn → 10 connected + tools listed', ms(of('floor', (m) => m.readyMs).median), range(of('floor', (m) => m.readyMs))],
        ['ensemble: start() → executing phase (10 replicas ready)', ms(of('ensemble', (m) => m.readyMs).median), range(of('ensemble', (m) => m.readyMs))],
        ['floor: spawn → closed', ms(of('floor', (m) => m.wallMs).median), range(of('floor', (m) => m.wallMs))],
        ['ensemble: start() → report (whole run)', ms(of('ensemble', (m) => m.wallMs).median), range(of('ensemble', (m) => m.wallMs))],
      ],
    },
  ];
  if (cold.floor && cold.ensemble) {
    tables.push({
      title: 'First round in this process (cold JIT; not in the figures above)',
      rows: ARMS.map((arm) => [`${arm} achieved / ideal`, round(cold[arm]!.execMs / IDEAL_MS).toFixed(3), ms(cold[arm]!.execMs)]),
    });
  }
  tables.push({
    title: `Sequential contrast: the same ${TASKS} tasks as a plain list on one server (one round)`,
    rows: [
      ['ideal', ms(SEQUENTIAL_IDEAL_MS), `${TASKS} × ${SLEEP_MS} ms`],
      ['ensemble, first task.started → last task.completed', ms(sequential.execMs), `pattern ${sequential.pattern}`],
      ['achieved / ideal', round(sequential.execMs / SEQUENTIAL_IDEAL_MS).toFixed(3)],
      ['overhead per task', ms((sequential.execMs - SEQUENTIAL_IDEAL_MS) / TASKS), 'same as the overhead per wave above, had the pool no cost'],
      ['speed-up of the fan-out over it', `${round(sequential.execMs / ensemble.median)}×`, `of ${REPLICAS}× possible`],
    ],
  });
  const sched = (schedule: Schedule, pick: (m: ScheduleRun) => number) => summarize(eagerSamples[schedule].map(pick));
  const lead = (schedule: Schedule) => sched(schedule, (m) => m.nextStartVsSlowEnd);
  const describeLead = (summary: Summary) => `${Math.abs(round(summary.median))} ms ${summary.median < 0 ? 'before' : 'after'} slow finished`;
  tables.push({
    title: `Eager vs groups: slow (${EAGER.slowMs} ms) beside ${EAGER.chains} chains quick (${EAGER.quickMs} ms) → next (${EAGER.nextMs} ms), ${EAGER_REPLICAS} replicas; median of ${eagerRounds} rounds`,
    rows: [
      ['schedule: groups, first started → last completed', ms(sched('groups', (m) => m.execMs).median), `ideal ${EAGER_IDEAL.groups} ms (slow + next); ratio ${round(sched('groups', (m) => m.execMs).median / EAGER_IDEAL.groups).toFixed(3)}`],
      ['schedule: eager, first started → last completed', ms(sched('eager', (m) => m.execMs).median), `ideal ${EAGER_IDEAL.eager} ms (slow); ratio ${round(sched('eager', (m) => m.execMs).median / EAGER_IDEAL.eager).toFixed(3)}`],
      ['groups: next started (median of 5)', describeLead(lead('groups')), range(lead('groups'))],
      ['eager: next started (median of 5)', describeLead(lead('eager')), range(lead('eager'))],
      ['eager: quick completed → its next started', ms(sched('eager', (m) => m.chainGapMs).median), range(sched('eager', (m) => m.chainGapMs))],
      ['groups: slow completed → group 1 synchronized', ms(sched('groups', (m) => m.syncLagMs ?? 0).median), range(sched('groups', (m) => m.syncLagMs ?? 0))],
    ],
  });

  const armFigures = (arm: Arm) => ({
    execMs: round(exec(arm).median),
    achievedOverIdeal: round(achieved(exec(arm))),
    samplesMs: exec(arm).samples.map(round),
    perWaveOverheadMs: round(perWave(arm)),
    firstWaveDispatchMs: round(firstWave(arm).median),
    callExcessMs: round(callExcess(arm).median),
    cpuPerTaskMs: round(cpuPerTask(arm)),
    readyMs: round(of(arm, (m) => m.readyMs).median),
    wallMs: round(of(arm, (m) => m.wallMs).median),
    ...(cold[arm] ? { coldAchievedOverIdeal: round(cold[arm]!.execMs / IDEAL_MS) } : {}),
  });
  return {
    tables,
    lines: [
      `target: ensemble achieved / ideal ≤ ${TARGET.ratio.toFixed(2)} — ${met ? 'met' : 'not met'} (${round(achieved(ensemble)).toFixed(3)}; the floor measured ${round(achieved(floor)).toFixed(3)} in the same rounds)`,
      'Wall-clock figures on a small shared machine: compare the two arms of the same run, and check the load average.',
    ],
    figures: {
      tasks: TASKS,
      replicas: REPLICAS,
      sleepMs: SLEEP_MS,
      idealMs: IDEAL_MS,
      rounds,
      warmupRounds,
      warmupCallsPerServer: warmupPerServer,
      floor: armFigures('floor'),
      ensemble: {
        ...armFigures('ensemble'),
        fromGroupStartMs: round(fromGroup.median),
        enginePerTaskMs: round(engine.median),
        startedToCallMs: round(toCall.median),
        resultToCompletedMs: round(fromCall.median),
        redispatchMs: round(redispatch.median),
      },
      ratio: round(ratio),
      pairedRatioMedian: round(paired.median),
      sequential: { execMs: round(sequential.execMs), idealMs: SEQUENTIAL_IDEAL_MS, achievedOverIdeal: round(sequential.execMs / SEQUENTIAL_IDEAL_MS), pattern: sequential.pattern },
      eager: {
        ...EAGER,
        replicas: EAGER_REPLICAS,
        rounds: eagerRounds,
        groupsMs: round(sched('groups', (m) => m.execMs).median),
        eagerMs: round(sched('eager', (m) => m.execMs).median),
        idealMs: EAGER_IDEAL,
        nextStartVsSlowEndMs: { groups: round(lead('groups').median), eager: round(lead('eager').median) },
      },
      target: { ratio: TARGET.ratio, met },
    },
  };
}

// ── the floor: a plain Promise pool ─────────────────────────────────────────

async function measureFloor(warmupPerServer: number): Promise<FanOut> {
  const wallStart = performance.now();
  const clients = Array.from({ length: REPLICAS }, () => new Client({ name: 'ensemble-bench', version: '0.0.0' }, { capabilities: {} }));
  try {
    await Promise.all(
      clients.map(async (client) => {
        await client.connect(new StdioClientTransport({ command: FIXTURE_SERVER.command, args: FIXTURE_SERVER.args, cwd: REPO_ROOT }));
        await client.listTools(); // Ensemble lists tools when it connects; do the same.
      }),
    );
    const readyMs = performance.now() - wallStart;
    await Promise.all(
      clients.map(async (client) => {
        for (let i = 0; i < warmupPerServer; i++) await client.callTool({ name: 'sleep', arguments: { ms: WARMUP_SLEEP_MS } });
      }),
    );

    const callExcessMs: number[] = [];
    const perServer = clients.map(() => 0);
    let next = 0;
    let firstWaveMs = 0;
    const cpuStart = cpuMs();
    const start = performance.now();
    await Promise.all(
      clients.map(async (client, index) => {
        while (next < TASKS) {
          next++;
          const sent = performance.now();
          if (next === REPLICAS) firstWaveMs = sent - start;
          const result = await client.callTool({ name: 'sleep', arguments: { ms: SLEEP_MS } });
          callExcessMs.push(performance.now() - sent - SLEEP_MS);
          perServer[index]!++;
          checkSlept(result);
        }
      }),
    );
    const execMs = performance.now() - start;
    const cpu = cpuMs() - cpuStart;
    await Promise.all(clients.map((client) => client.close()));
    return { execMs, cpuMs: cpu, readyMs, wallMs: performance.now() - wallStart, callExcessMs, perServer, firstWaveMs };
  } catch (error) {
    await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
    throw error;
  }
}

function checkSlept(result: unknown): void {
  const content = (result as { content?: Array<{ text?: string }> } | undefined)?.content;
  if (content?.[0]?.text !== `slept ${SLEEP_MS}`) throw new Error(`floor: sleep did not answer "slept ${SLEEP_MS}": ${JSON.stringify(result)}`);
}

// ── the Ensemble arm ────────────────────────────────────────────────────────

const server = (replicas: number) => ({ command: FIXTURE_SERVER.command, args: FIXTURE_SERVER.args, replicas });
const sleepTask = (id: string, sleepMs: number, needs?: string[]) => ({ id, server: 'fx', tool: 'sleep', args: { ms: sleepMs }, ...(needs ? { needs } : {}) });

function buildFanOutWorkflow(warmupPerServer: number): Workflow {
  const warmupIds = Array.from({ length: warmupPerServer * REPLICAS }, (_, i) => `w${i}`);
  // Each timed task needs one warm-up task, so the warm-up is group 1 and the 100 timed tasks group 2.
  const tasks = [
    ...warmupIds.map((id) => sleepTask(id, WARMUP_SLEEP_MS, [])),
    ...Array.from({ length: TASKS }, (_, i) => sleepTask(`t${i}`, SLEEP_MS, warmupIds.length > 0 ? [warmupIds[i % warmupIds.length]!] : [])),
  ];
  // No output template: the synthesizer joins every task's text, the default users get.
  return parseWorkflow({ name: 'bench-parallel', servers: { fx: server(REPLICAS) }, concurrency: REPLICAS, tasks }, { dir: REPO_ROOT });
}

/** What one run's bus showed, timed with `performance.now()` as events arrive (the bus delivers synchronously). */
interface Trace {
  started: Map<string, { at: number; worker?: string }>;
  completed: Map<string, number>;
  /** Connection-level call time, by task id. */
  callMs: Map<string, number>;
  /** When the connection's result was published (`server.call.result`), by task id. */
  resultAt: Map<string, number>;
  /** When the run entered each phase. */
  phases: Map<string, number>;
  /** Group synchronization points, by group index. */
  synchronized: Map<number, number>;
  /** Group starts, by group index. */
  groupStarted: Map<number, number>;
  failures: string[];
}

async function traceRun(workflow: Workflow, timedIds: string[]): Promise<{ trace: Trace; wallMs: number; cpuMs: number; pattern: string; wallStart: number }> {
  const run = createRun(workflow);
  const trace: Trace = { started: new Map(), completed: new Map(), callMs: new Map(), resultAt: new Map(), phases: new Map(), synchronized: new Map(), groupStarted: new Map(), failures: [] };
  const first = timedIds[0]!;
  const timed = new Set(timedIds);
  let cpuStart = 0;
  let cpuEnd = 0;
  let left = timed.size;
  const subscription = run.events$.subscribe((event: BusEvent) => {
    const now = performance.now();
    switch (event.type) {
      case 'task.started':
        if (event.task.id === first) cpuStart = cpuMs();
        trace.started.set(event.task.id, event.worker === undefined ? { at: now } : { at: now, worker: event.worker });
        break;
      case 'task.completed':
        trace.completed.set(event.task.id, now);
        if (timed.has(event.task.id) && --left === 0) cpuEnd = cpuMs();
        break;
      case 'server.call.result':
        if (event.task !== undefined) {
          trace.callMs.set(event.task, event.durationMs);
          trace.resultAt.set(event.task, now);
        }
        break;
      case 'task.failed':
      case 'task.skipped':
        trace.failures.push(`${event.type} ${event.task.id}`);
        break;
      case 'run.phase':
        trace.phases.set(event.phase, now);
        break;
      case 'run.group':
        (event.phase === 'synchronized' ? trace.synchronized : trace.groupStarted).set(event.index, now);
        break;
      default:
        break;
    }
  });
  const wallStart = performance.now();
  const report = await run.start();
  const wallMs = performance.now() - wallStart;
  subscription.unsubscribe();
  if (report.status !== 'completed' || trace.failures.length > 0) {
    throw new Error(`ensemble run ${workflow.name} did not complete: ${report.status} ${report.error?.message ?? ''} ${trace.failures.slice(0, 5).join(', ')}`);
  }
  for (const id of timedIds) {
    if (!trace.started.has(id) || !trace.completed.has(id)) throw new Error(`ensemble run ${workflow.name}: no start or completion seen for ${id}`);
  }
  return { trace, wallMs, cpuMs: cpuEnd - cpuStart, pattern: run.choice.pattern, wallStart };
}

/** First `task.started` → last `task.completed` among the given tasks. */
function span(trace: Trace, ids: string[]): number {
  const starts = ids.map((id) => trace.started.get(id)!.at);
  const ends = ids.map((id) => trace.completed.get(id)!);
  return Math.max(...ends) - Math.min(...starts);
}

async function measureEnsemble(workflow: Workflow): Promise<FanOut> {
  const timedIds = Array.from({ length: TASKS }, (_, i) => `t${i}`);
  const { trace, wallMs, cpuMs: cpu, pattern, wallStart } = await traceRun(workflow, timedIds);
  if (pattern !== 'parallel') throw new Error(`expected the parallel pattern, the run chose ${pattern}`);

  const callExcessMs: number[] = [];
  const engineMs: number[] = [];
  const toCallMs: number[] = [];
  const fromCallMs: number[] = [];
  const byWorker = new Map<string, Array<{ start: number; end: number }>>();
  for (const id of timedIds) {
    const { at, worker } = trace.started.get(id)!;
    const end = trace.completed.get(id)!;
    const call = trace.callMs.get(id);
    const resultAt = trace.resultAt.get(id);
    if (call !== undefined && resultAt !== undefined) {
      callExcessMs.push(call - SLEEP_MS);
      engineMs.push(end - at - call);
      toCallMs.push(resultAt - call - at);
      fromCallMs.push(end - resultAt);
    }
    const lane = byWorker.get(worker ?? '?') ?? [];
    lane.push({ start: at, end });
    byWorker.set(worker ?? '?', lane);
  }
  const redispatchMs: number[] = [];
  for (const lane of byWorker.values()) {
    lane.sort((a, b) => a.start - b.start);
    for (let i = 1; i < lane.length; i++) redispatchMs.push(lane[i]!.start - lane[i - 1]!.end);
  }
  const executing = trace.phases.get('executing');
  // The timed tasks are the last group (after the warm-up group, when there is one).
  const groupStart = trace.groupStarted.get(Math.max(...trace.groupStarted.keys()));
  const starts = timedIds.map((id) => trace.started.get(id)!.at).sort((a, b) => a - b);
  const lastEnd = Math.max(...timedIds.map((id) => trace.completed.get(id)!));
  return {
    execMs: span(trace, timedIds),
    ...(groupStart !== undefined ? { fromGroupMs: lastEnd - groupStart, firstWaveMs: starts[Math.min(REPLICAS, starts.length) - 1]! - groupStart } : {}),
    cpuMs: cpu,
    readyMs: executing === undefined ? Number.NaN : executing - wallStart,
    wallMs,
    callExcessMs,
    engineMs,
    toCallMs,
    fromCallMs,
    redispatchMs,
    perServer: [...byWorker.values()].map((lane) => lane.length),
  };
}

// ── contrasts ───────────────────────────────────────────────────────────────

interface SequentialRun {
  execMs: number;
  pattern: string;
}

async function measureSequential(warmupCalls: number): Promise<SequentialRun> {
  const timedIds = Array.from({ length: TASKS }, (_, i) => `t${i}`);
  // A plain list (no task declares needs): each task runs after the one before it.
  const tasks = [...Array.from({ length: warmupCalls }, (_, i) => sleepTask(`w${i}`, WARMUP_SLEEP_MS)), ...timedIds.map((id) => sleepTask(id, SLEEP_MS))];
  const workflow = parseWorkflow({ name: 'bench-parallel-sequential', servers: { fx: server(1) }, tasks }, { dir: REPO_ROOT });
  const { trace, pattern } = await traceRun(workflow, timedIds);
  return { execMs: span(trace, timedIds), pattern };
}

type Schedule = Workflow['schedule'];

interface ScheduleRun {
  execMs: number;
  /** Median over the chains: `next` task.started minus slow's task.completed (negative: before). */
  nextStartVsSlowEnd: number;
  /** Median over the chains: quick's task.completed → its next's task.started. */
  chainGapMs: number;
  /** Groups only: slow's task.completed → group 1's synchronization point. */
  syncLagMs?: number;
}

async function measureSchedule(schedule: Schedule): Promise<ScheduleRun> {
  const chains = Array.from({ length: EAGER.chains }, (_, i) => i + 1);
  const tasks = [
    sleepTask('slow', EAGER.slowMs, []),
    ...chains.map((i) => sleepTask(`quick${i}`, EAGER.quickMs, [])),
    ...chains.map((i) => sleepTask(`next${i}`, EAGER.nextMs, [`quick${i}`])),
  ];
  const workflow = parseWorkflow({ name: `bench-parallel-${schedule}`, servers: { fx: server(EAGER_REPLICAS) }, schedule, tasks }, { dir: REPO_ROOT });
  const ids = tasks.map((task) => task.id);
  const { trace } = await traceRun(workflow, ids);
  const slowEnd = trace.completed.get('slow')!;
  const sync = trace.synchronized.get(0);
  return {
    execMs: span(trace, ids),
    nextStartVsSlowEnd: summarize(chains.map((i) => trace.started.get(`next${i}`)!.at - slowEnd)).median,
    chainGapMs: summarize(chains.map((i) => trace.started.get(`next${i}`)!.at - trace.completed.get(`quick${i}`)!)).median,
    ...(sync !== undefined ? { syncLagMs: sync - slowEnd } : {}),
  };
}
