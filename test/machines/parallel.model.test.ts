/**
 * Model-based tests of the parallel machine: paths generated with
 * @xstate/graph over four workflows (group-by-group or eager, stop or
 * continue on error, one with a planner), every edge extended, and each path
 * replayed on a live actor whose `serverPort` and workers are recording fakes.
 * The path plays the workers' part itself, sending `worker.finished` to the
 * run, which keeps the model small (the worker has its own model test). At
 * every step the live snapshot must be the one the model predicts, and the
 * scheduling invariants, the port messages and the emitted run events are
 * checked; the suite fails if a state or transition is never reached.
 */
import { createActor, fromCallback, fromPromise, initialTransition, transition, type AnyActorRef, type SnapshotFrom } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/bus-events.js';
import type { ToolInfo, ToolResult } from '../../src/core/results.js';
import type { ServerPortMessage } from '../../src/core/server-port.js';
import type { TaskSpec, Workflow } from '../../src/core/workflow.js';
import { parallelMachine, type ParallelEvent, type ParallelInput } from '../../machines/parallel.machine.js';
import type { TaskOutcome, WorkerEvent, WorkerInput, workerMachine } from '../../machines/worker.machine.js';
import { createCoverage, createMachineModel, listEdgePaths } from '../support/transition-coverage.js';
import { createRecordingPort } from './fake-server.js';

const stdio = (name: string, replicas: number) => ({ kind: 'stdio' as const, command: 'node', args: [`${name}.js`], env: {}, cwd: '/tmp', replicas });
const tools: ToolInfo[] = [{ name: 'work' }, { name: 'plan' }];
const task = (id: string, server: string, needs: string[] = [], args: Record<string, unknown> = {}): TaskSpec => ({ id, server, tool: 'work', args, context: [], needs });

/**
 * `a` and `b` run side by side on alpha's two replicas; `c` needs `a` (and
 * reads its result) and runs on beta. `a` is optional: when nothing can serve
 * it, it is skipped, and so is `c`.
 */
const base: Workflow = {
  name: 'model',
  dir: '/tmp',
  timeoutMs: 1000,
  pattern: 'parallel',
  onError: 'stop',
  schedule: 'groups',
  servers: { alpha: stdio('alpha', 2), beta: stdio('beta', 1) },
  tasks: [{ ...task('a', 'alpha'), optional: true }, task('b', 'alpha'), task('c', 'beta', ['a'], { text: '{{ tasks.a.text }}' })],
};
const workflows: Record<string, Workflow> = {
  'groups, stop, planner': { ...base, plan: { server: 'beta', tool: 'plan', args: {} }, groupTimeoutMs: 5000, tasks: [task('a', 'alpha'), { ...task('b', 'alpha', ['a']), optional: true }] },
  'groups, continue': { ...base, onError: 'continue' },
  'eager, stop': { ...base, schedule: 'eager', concurrency: 2 },
  'eager, continue': { ...base, schedule: 'eager', onError: 'continue' },
};

type Snapshot = SnapshotFrom<typeof parallelMachine>;
const ok = (text: string): ToolResult => ({ text, json: undefined, isError: false, content: [] });
const synthesized = { type: 'xstate.done.actor.synthesize', output: 'combined' } as unknown as ParallelEvent;
const synthesisFailed = { type: 'xstate.error.actor.synthesize', error: new Error('bad output template') } as unknown as ParallelEvent;
const groupTimeout = { type: 'xstate.after.groupTimeout.parallel.executing.executingGroup' } as unknown as ParallelEvent;
const cancel: ParallelEvent = { type: 'run.cancel', reason: 'user' };
const finished = (taskId: string, worker: string, outcome: TaskOutcome): ParallelEvent => ({ type: 'worker.finished', taskId, worker, outcome });

function eventsFor(snapshot: Snapshot): ParallelEvent[] {
  const { context } = snapshot;
  if (snapshot.status !== 'active') return [];
  if (snapshot.matches('initializing')) {
    const waiting = context.required.filter((server) => !(server in context.tools));
    return [
      ...waiting.map((server) => ({ type: 'server.ready' as const, server, tools })),
      // beta without the `work` tool: refused before any task runs.
      ...waiting.filter((server) => server === 'beta').map((server) => ({ type: 'server.ready' as const, server, tools: [{ name: 'plan' }] })),
      ...waiting.slice(0, 1).map((server) => ({ type: 'server.unavailable' as const, server, error: { code: 'SERVER_START_FAILED' as const, message: 'no start', server } })),
      cancel,
    ];
  }
  if (snapshot.matches({ planning: 'askingPlanner' })) {
    const reply = { server: 'beta', callId: 'plan', durationMs: 1 };
    return [
      { type: 'server.result', ...reply, result: { ...ok('plan'), json: [{ id: 'p', server: 'alpha', tool: 'work', needs: ['a'] }] } },
      { type: 'server.result', ...reply, result: { ...ok('plan'), json: [{ id: 'p', server: 'nowhere', tool: 'work' }] } },
      { type: 'server.result', ...reply, result: { ...ok('broke'), isError: true } },
      { type: 'server.failed', ...reply, error: { code: 'CALL_TIMEOUT', message: 'slow planner', server: 'beta' } },
      cancel,
    ];
  }
  const running = Object.entries(context.schedule.running);
  if (snapshot.matches('cancelling')) {
    return running.flatMap(([id, worker]) => [
      finished(id, worker, { status: 'cancelled', error: { code: 'CANCELLED', message: 'stopping', task: id }, durationMs: 1 }),
      // It finished just before the cancel reached it.
      finished(id, worker, { status: 'completed', result: ok(id), durationMs: 1 }),
    ]);
  }
  if (snapshot.matches({ executing: 'executingGroup' }) || snapshot.matches({ executing: 'flowing' })) {
    const events: ParallelEvent[] = running.flatMap(([id, worker]) => [
      finished(id, worker, { status: 'completed', result: ok(`result of ${id}`), durationMs: 1, ...(id === 'b' ? { servedBy: 'beta' } : {}) }),
      finished(id, worker, { status: 'failed', error: { code: 'TOOL_ERROR', message: `${id} failed`, task: id }, result: { ...ok('no'), isError: true }, durationMs: 1 }),
      // An optional task nothing could serve (only optional tasks are skipped by their worker).
      ...(context.breakdown[context.schedule.positions[id]!]!.optional ? [finished(id, worker, { status: 'skipped', reason: 'server unavailable', durationMs: 1 })] : []),
    ]);
    if (snapshot.matches({ executing: 'executingGroup' })) events.push(groupTimeout);
    if (context.groupIndex === 0 && running.length > 0) events.push(cancel);
    return events;
  }
  if (snapshot.matches('combiningResults')) return [synthesized, synthesisFailed, cancel];
  return [];
}

const serializeState = (snapshot: Snapshot) => JSON.stringify({ value: snapshot.value, context: snapshot.context });

/** Inert workers, port and synthesizer: what path generation and the per-step prediction run. */
const inertWorker = fromCallback<WorkerEvent, WorkerInput>(() => undefined);
const asWorker = (logic: typeof inertWorker) => logic as unknown as typeof workerMachine;
const modelMachine = parallelMachine.provide({
  actors: { serverPort: fromCallback(() => undefined), worker: asWorker(inertWorker), synthesize: fromPromise(() => new Promise<string>(() => undefined)) },
});

/**
 * The machine updates its schedule in place, so two transitions from one
 * snapshot would share (and corrupt) it: every transition starts from a copy
 * of the context. The children (inert refs) are kept: actions send to them.
 */
function copyOf(snapshot: Snapshot): Snapshot {
  const copy = modelMachine.resolveState({ value: snapshot.value, context: structuredClone(snapshot.context) });
  return Object.assign(copy, { children: snapshot.children, historyValue: snapshot.historyValue }) as Snapshot;
}
/** One pure macrostep, in a fresh actor system (workers have system ids, which a shared system would refuse twice). */
const step = (snapshot: Snapshot, event: ParallelEvent): Snapshot => transition(modelMachine, copyOf(snapshot), event)[0];
const isolated: typeof modelMachine = Object.create(modelMachine, { transition: { value: step } });
const model = createMachineModel(isolated);

const coverage = createCoverage(parallelMachine);
const paths = Object.entries(workflows).flatMap(([name, workflow]) => {
  const input: ParallelInput = { runId: 'r', workflow };
  return listEdgePaths(model.getShortestPaths({ input, events: eventsFor, serializeState }), eventsFor, serializeState).map((path) => ({ name, workflow, path }));
});

interface FakeWorker {
  id: string;
  input: WorkerInput;
  received: WorkerEvent[];
  /** What the system finds under the worker's system id. */
  registered: AnyActorRef | undefined;
  self: AnyActorRef;
}

function startRun(workflow: Workflow) {
  const messages: ServerPortMessage[] = [];
  const workers: FakeWorker[] = [];
  const emitted: RunEvent[] = [];
  const worker = fromCallback<WorkerEvent, WorkerInput>(({ input, self, system, receive }) => {
    const fake: FakeWorker = { id: self.id, input, received: [], registered: system.get(input.id), self };
    workers.push(fake);
    receive((event) => fake.received.push(event));
  });
  const machine = parallelMachine.provide({
    actors: {
      serverPort: createRecordingPort(messages),
      worker: asWorker(worker),
      // Never settles by itself: the path sends its done/error event, as the model says.
      synthesize: fromPromise(() => new Promise<string>(() => undefined)),
    },
  });
  const actor = createActor(machine, { input: { runId: 'r', workflow }, inspect: coverage.inspect });
  actor.on('*', (event) => emitted.push(event as RunEvent));
  actor.start();
  return { actor, messages, workers, emitted };
}

function label(event: ParallelEvent): string {
  switch (event.type) {
    case 'server.ready':
      return `${event.server} ready${event.tools.some((tool) => tool.name === 'work') ? '' : ' (no work)'}`;
    case 'server.unavailable':
      return `${event.server} unavailable`;
    case 'server.result':
      return `plan ${event.result.isError ? 'isError' : JSON.stringify(event.result.json)}`;
    case 'server.failed':
      return `plan failed`;
    case 'worker.finished':
      return `${event.taskId} ${event.outcome.status}`;
    case 'run.cancel':
      return 'cancel';
    default:
      return (event as { type: string }).type.replace(/^xstate\.(after|done\.actor|error\.actor)\.(\w+).*/, '$2 $1');
  }
}

describe('parallel machine, model-based', () => {
  afterAll(() => {
    expect(coverage.missingStates(), 'states no path reached').toEqual([]);
    expect(coverage.missingTransitions(), 'transitions no path took').toEqual([]);
  });

  it('generates paths for every workflow', () => {
    for (const name of Object.keys(workflows)) expect(paths.filter((path) => path.name === name).length, name).toBeGreaterThan(20);
  });

  it('does not share the schedule between snapshots', () => {
    const [start] = initialTransition(isolated, { runId: 'r', workflow: workflows['eager, continue']! });
    const ready = ['alpha', 'beta'].reduce((snapshot, server) => step(snapshot, { type: 'server.ready', server, tools }), start);
    const [id, worker] = Object.entries(ready.context.schedule.running)[0] ?? [];
    const before = serializeState(ready);
    step(ready, finished(id!, worker!, { status: 'completed', result: ok(id!), durationMs: 1 }));
    step(ready, finished(id!, worker!, { status: 'failed', error: { code: 'TOOL_ERROR', message: 'no' }, durationMs: 1 }));
    expect(serializeState(ready)).toBe(before);
  });

  paths.forEach(({ name, workflow, path }, index) => {
    it(`${name} #${index}: ${path.events.map(label).join(' → ') || '(start)'}${path.expected ? '' : ' (edge)'}`, () => {
      const live = startRun(workflow);
      let [expected] = initialTransition(isolated, { runId: 'r', workflow });
      expect(serializeState(live.actor.getSnapshot())).toBe(serializeState(expected));
      expect(live.messages).toEqual([{ type: 'port.acquire', servers: ['alpha', 'beta'] }]);
      checkInvariants(live);
      for (const event of path.events) {
        const before = live.actor.getSnapshot();
        const marks = { messages: live.messages.length, emitted: live.emitted.length, received: live.workers.map((fake) => fake.received.length) };
        const beforeSerialized = serializeState(before);
        live.actor.send(event);
        expected = step(expected, event);
        const after = live.actor.getSnapshot();
        expect(serializeState(after), `after ${label(event)}`).toBe(serializeState(expected));
        checkStep(before, beforeSerialized, event, after, live.messages.slice(marks.messages), live.emitted.slice(marks.emitted));
        checkInvariants(live);
      }
      if (path.expected) expect(serializeState(live.actor.getSnapshot())).toBe(serializeState(path.expected));
      live.actor.stop();
    });
  });
});

const outcomeTypes = new Set(['task.completed', 'task.failed', 'task.skipped']);
const forTask = (emitted: RunEvent[], id: string) => emitted.filter((event) => 'task' in event && event.task.id === id);

/** What one event must have caused. */
function checkStep(before: Snapshot, beforeSerialized: string, event: ParallelEvent, after: Snapshot, sent: ServerPortMessage[], emitted: RunEvent[]): void {
  if (event.type === 'worker.finished') {
    // The report settles its task: one outcome event for it, as the worker said.
    const own = forTask(emitted, event.taskId).filter((entry) => outcomeTypes.has(entry.type));
    const type = { completed: 'task.completed', skipped: 'task.skipped', failed: 'task.failed', cancelled: 'task.failed' }[event.outcome.status];
    expect(own.map((entry) => entry.type)).toEqual([type]);
    if (event.outcome.status === 'completed') expect(own[0]).toMatchObject({ result: event.outcome.result, ...(event.outcome.servedBy ? { servedBy: event.outcome.servedBy } : {}) });
    if (event.outcome.status === 'failed' || event.outcome.status === 'cancelled') expect(own[0]).toMatchObject({ error: event.outcome.error });
    if (event.outcome.status === 'skipped') expect(emitted).toContainEqual(expect.objectContaining({ type: 'notification', notification: expect.objectContaining({ task: event.taskId, level: 'warning' }) }));
    // The worker is free again.
    expect(after.context.schedule.running[event.taskId]).toBeUndefined();
    expect(after.context.schedule.status[after.context.schedule.positions[event.taskId]!]).toBe(event.outcome.status);
    // Whatever needs a task that did not complete is skipped.
    if (event.outcome.status !== 'completed') {
      const at = before.context.schedule.positions[event.taskId]!;
      for (const dependent of before.context.schedule.dependents[at]!) {
        if (before.context.schedule.status[dependent] === 'pending') expect(after.context.schedule.status[dependent]).toBe('skipped');
      }
    }
  } else if (serializeState(after) === beforeSerialized) {
    expect(emitted).toEqual([]);
  }
  // The run itself only acquires and asks the planner; workers make the calls.
  const planner = before.matches('initializing') && after.matches({ planning: 'askingPlanner' });
  expect(sent).toEqual(planner ? [{ type: 'server.call', server: 'beta', callId: 'plan', tool: 'plan', args: {} }] : []);
  if (event.type === 'run.cancel') {
    expect(after.matches('cancelling') || after.matches('failed')).toBe(true);
    expect(after.context.error).toMatchObject({ code: 'CANCELLED', message: 'run cancelled: user' });
  }
  if ((event as { type: string }).type === groupTimeout.type) expect(after.context.error?.code).toBe('CALL_TIMEOUT');
}

function checkInvariants(live: ReturnType<typeof startRun>): void {
  const snapshot = live.actor.getSnapshot();
  const { context } = snapshot;
  const { schedule } = context;
  const { workers, emitted, messages } = live;
  // Plain data, even though the schedule is updated in place.
  expect(JSON.parse(JSON.stringify(context))).toEqual(context);
  for (const message of messages) expect(message.from).toBeUndefined();
  expect(messages[0]).toEqual({ type: 'port.acquire', servers: ['alpha', 'beta'] });

  // One worker per replica of each server tasks name, spawned once, under its system id.
  const servers = [...new Set(context.breakdown.map((entry) => entry.server))];
  const ids = servers.flatMap((server) => Array.from({ length: context.workflow.servers[server]!.replicas }, (_, n) => `worker:${server}:${n + 1}`));
  expect(workers.map((fake) => fake.id).sort()).toEqual(context.breakdown.length > 0 ? ids.sort() : []);
  for (const fake of workers) {
    expect(fake.input).toEqual({ id: fake.id, server: fake.id.split(':')[1] });
    expect(fake.registered).toBe(fake.self);
  }

  const running = Object.entries(schedule.running);
  // Never more in flight than the concurrency limit, and never two tasks on one worker.
  expect(running.length).toBe(schedule.inFlight);
  expect(running.length).toBeLessThanOrEqual(context.concurrency);
  expect(new Set(running.map(([, worker]) => worker)).size).toBe(running.length);
  for (const [id, worker] of running) {
    const at = schedule.positions[id]!;
    const spec = context.breakdown[at]!;
    expect(schedule.status[at]).toBe('running');
    // The worker of the task's own server was handed exactly this task last, with the results it reads.
    expect(worker.startsWith(`worker:${spec.server}:`)).toBe(true);
    const assigns = workers.find((fake) => fake.id === worker)!.received.filter((event) => event.type === 'worker.assign');
    expect(assigns.at(-1)).toEqual({ type: 'worker.assign', task: spec, results: spec.id === 'c' ? { a: schedule.results.a } : {} });
    if (spec.id === 'c') expect(schedule.results.a).toEqual(ok('result of a'));
    // It only started once everything it needs had completed.
    for (const need of schedule.needs[at]!) expect(schedule.status[need]).toBe('completed');
    if (context.workflow.schedule === 'groups' && snapshot.matches('executing')) expect(context.groups[context.groupIndex]).toContain(id);
    expect(Object.values(schedule.idle).flat()).not.toContain(worker);
  }
  // Every worker is idle or running something.
  for (const server of Object.keys(schedule.idle)) {
    const busy = running.filter(([id]) => context.breakdown[schedule.positions[id]!]!.server === server).map(([, worker]) => worker);
    expect([...schedule.idle[server]!, ...busy].sort()).toEqual(ids.filter((id) => id.startsWith(`worker:${server}:`)).sort());
  }
  // Each assignment is announced once; each task settles at most once.
  const assigned = workers.flatMap((fake) => fake.received.filter((event) => event.type === 'worker.assign').map((event) => ({ worker: fake.id, id: event.task.id })));
  const started = emitted.filter((event) => event.type === 'task.started');
  expect(started.map((event) => ({ worker: event.worker, id: event.task.id })).sort((x, y) => x.id.localeCompare(y.id))).toEqual(assigned.sort((x, y) => x.id.localeCompare(y.id)));
  for (const spec of context.breakdown) expect(forTask(emitted, spec.id).filter((event) => outcomeTypes.has(event.type)).length, spec.id).toBeLessThanOrEqual(1);
  expect(schedule.settled).toBe(schedule.status.filter((status) => status !== 'pending' && status !== 'running').length);
  // Results are kept only while a reader is still to run.
  for (const id of Object.keys(schedule.results)) expect(schedule.readersLeft[id]).toBeGreaterThan(0);

  if (snapshot.matches('cancelling')) {
    // Every task still in flight was told to stop after it was handed out.
    for (const [, worker] of running) expect(workers.find((fake) => fake.id === worker)!.received.at(-1)).toEqual({ type: 'worker.cancel', reason: `stopping: ${context.error!.message}` });
  }
  if (snapshot.matches('failed')) {
    expect(snapshot.status).toBe('done');
    expect(snapshot.output?.error?.message).toBeTruthy();
    expect(schedule.status.every((status) => status !== 'pending' && status !== 'running')).toBe(true);
  }
  if (snapshot.matches('finalOutput')) {
    expect(snapshot.output).toEqual({ output: 'combined' });
    // Completed, or optional and skipped: reduced functionality still ends well.
    expect(schedule.status.every((status) => status === 'completed' || status === 'skipped')).toBe(true);
    expect(schedule.settled).toBe(context.breakdown.length);
  }
  if (snapshot.matches({ executing: 'synchronizationPoint' }) || snapshot.matches({ executing: 'nextGroup' })) throw new Error('transient state at rest');
}
