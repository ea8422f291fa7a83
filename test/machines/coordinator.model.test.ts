/**
 * Model-based tests of the multi-server coordinator: paths generated with
 * @xstate/graph over three workflows (a saga that stops, one that continues,
 * one with a planner), every edge extended, and each path replayed on a live
 * actor whose `serverPort` and workers are recording fakes. The path plays
 * the workers' part (`worker.finished`) and the servers' answers to the
 * compensations. At every step the live snapshot must be the one the model
 * predicts, and the routing, per-server limits and the saga's order are
 * checked; the suite fails if a state or transition is never reached.
 */
import { createActor, fromCallback, fromPromise, initialTransition, transition, type SnapshotFrom } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/bus-events.js';
import type { ToolInfo, ToolResult } from '../../src/core/results.js';
import type { ServerPortMessage } from '../../src/core/server-port.js';
import type { TaskSpec, Workflow } from '../../src/core/workflow.js';
import { coordinatorMachine, type CoordinatorEvent, type CoordinatorInput } from '../../machines/coordinator.machine.js';
import type { TaskOutcome, WorkerEvent, WorkerInput, workerMachine } from '../../machines/worker.machine.js';
import { createCoverage, createMachineModel, listEdgePaths } from '../support/transition-coverage.js';
import { createRecordingPort } from './fake-server.js';

const stdio = (name: string, maxConcurrent?: number) => ({ kind: 'stdio' as const, command: 'node', args: [`${name}.js`], env: {}, cwd: '/tmp', replicas: 1, ...(maxConcurrent ? { maxConcurrent } : {}) });
const alphaTools: ToolInfo[] = [{ name: 'work' }];
const betaTools: ToolInfo[] = [{ name: 'work' }, { name: 'call' }, { name: 'undo' }, { name: 'plan' }];
const task = (id: string, server: string, extra: Partial<TaskSpec> = {}): TaskSpec => ({ id, server, tool: 'work', args: {}, context: [], needs: [], ...extra });

/**
 * `a` and `b` run side by side on alpha (two slots); both declare a
 * compensation on beta, `a`'s rendered from its own result. `c` names only a
 * tool (`call`, which only beta offers), needs `a` and reads its result.
 */
const saga: Workflow = {
  name: 'model',
  dir: '/tmp',
  timeoutMs: 1000,
  pattern: 'multi-server',
  onError: 'stop',
  schedule: 'eager',
  servers: { alpha: stdio('alpha', 2), beta: stdio('beta') },
  tasks: [
    task('a', 'alpha', { compensate: { server: 'beta', tool: 'undo', args: { id: '{{ result.json.id }}' } } }),
    task('b', 'alpha', { compensate: { server: 'beta', tool: 'undo', args: { id: 'b' } } }),
    task('c', 'any', { tool: 'call', needs: ['a'], args: { from: '{{ tasks.a.text }}' } }),
  ],
};
const workflows: Record<string, Workflow> = {
  'saga, stop': saga,
  'continue, one slot': { ...saga, onError: 'continue', servers: { alpha: stdio('alpha'), beta: stdio('beta') } },
  'planner, stop': { ...saga, plan: { server: 'beta', tool: 'plan', args: {} }, tasks: [task('a', 'alpha', { compensate: { server: 'beta', tool: 'undo', args: { id: 'a' } } })] },
};

type Snapshot = SnapshotFrom<typeof coordinatorMachine>;
const ok = (text: string, json?: unknown): ToolResult => ({ text, json, isError: false, content: [] });
const synthesized = { type: 'xstate.done.actor.synthesize', output: 'combined' } as unknown as CoordinatorEvent;
const synthesisFailed = { type: 'xstate.error.actor.synthesize', error: new Error('bad output template') } as unknown as CoordinatorEvent;
const cancel: CoordinatorEvent = { type: 'run.cancel', reason: 'user' };
const finished = (taskId: string, worker: string, outcome: TaskOutcome): CoordinatorEvent => ({ type: 'worker.finished', taskId, worker, outcome });

function eventsFor(snapshot: Snapshot): CoordinatorEvent[] {
  const { context } = snapshot;
  if (snapshot.status !== 'active') return [];
  if (snapshot.matches('initializing')) {
    const waiting = context.required.filter((server) => !(server in context.tools));
    return [
      ...waiting.map((server) => ({ type: 'server.ready' as const, server, tools: server === 'alpha' ? alphaTools : betaTools })),
      // beta without `call`: no server offers c's tool, refused before any task runs.
      ...waiting.filter((server) => server === 'beta').map((server) => ({ type: 'server.ready' as const, server, tools: [{ name: 'work' }, { name: 'undo' }, { name: 'plan' }] })),
      ...waiting.slice(0, 1).map((server) => ({ type: 'server.unavailable' as const, server, error: { code: 'SERVER_START_FAILED' as const, message: 'no start', server } })),
      cancel,
    ];
  }
  if (snapshot.matches({ planning: 'askingPlanner' })) {
    const reply = { server: 'beta', callId: 'plan', durationMs: 1 };
    return [
      { type: 'server.result', ...reply, result: ok('plan', [{ id: 'p', tool: 'call', needs: ['a'] }]) },
      { type: 'server.result', ...reply, result: ok('plan', [{ id: 'p', server: 'nowhere', tool: 'work' }]) },
      { type: 'server.result', ...reply, result: { ...ok('broke'), isError: true } },
      { type: 'server.failed', ...reply, error: { code: 'CALL_TIMEOUT', message: 'slow planner', server: 'beta' } },
      cancel,
    ];
  }
  const running = Object.entries(context.schedule.running);
  if (snapshot.matches('cancelling')) {
    return running.flatMap(([id, worker]) => [
      finished(id, worker, { status: 'cancelled', error: { code: 'CANCELLED', message: 'stopping', task: id }, durationMs: 1 }),
      finished(id, worker, { status: 'completed', result: ok(id, { id: 7 }), durationMs: 1 }),
      { type: 'worker.calling' as const, worker, taskId: id, args: { late: true } },
    ]);
  }
  if (snapshot.matches('executing')) {
    const events: CoordinatorEvent[] = running.flatMap(([id, worker]) => [
      finished(id, worker, { status: 'completed', result: ok(`result of ${id}`, { id: 7 }), durationMs: 1, ...(id === 'b' ? { servedBy: 'beta' } : {}) }),
      finished(id, worker, { status: 'failed', error: { code: 'TOOL_ERROR', message: `${id} failed`, task: id }, result: { ...ok('no'), isError: true }, durationMs: 1 }),
      // a completes without JSON: its compensation cannot render (`{{ result.json.id }}`).
      ...(id === 'a' ? [finished(id, worker, { status: 'completed', result: ok('plain a'), durationMs: 1 })] : []),
      ...(id === 'b' ? [finished(id, worker, { status: 'skipped', reason: 'server unavailable', durationMs: 1 })] : []),
      // Progress: reading the task's resources, its call going out; one from a worker that does not run it is ignored.
      { type: 'worker.reading' as const, worker, taskId: id, resources: ['res://x'] },
      { type: 'worker.calling' as const, worker, taskId: id, args: { rendered: id } },
      { type: 'worker.calling' as const, worker: 'worker:nobody:1', taskId: id, args: {} },
    ]);
    if (running.length > 0 && context.schedule.settled === 0) events.push(cancel);
    return events;
  }
  if (snapshot.matches({ compensating: 'undoing' })) {
    const top = context.compensations.at(-1)!;
    const reply = { server: 'beta', callId: `${top.task.id}#compensate`, durationMs: 1 };
    return [
      { type: 'server.result', ...reply, result: ok('undone') },
      { type: 'server.result', ...reply, result: { ...ok('cannot undo'), isError: true } },
      { type: 'server.failed', ...reply, error: { code: 'SERVER_UNAVAILABLE', message: 'gone', server: 'beta' } },
      // An answer to some other call changes nothing.
      { type: 'server.result', server: 'beta', callId: 'stray', durationMs: 1, result: ok('stray') },
    ];
  }
  if (snapshot.matches('synthesizing')) return [synthesized, synthesisFailed];
  return [];
}

const serializeState = (snapshot: Snapshot) => JSON.stringify({ value: snapshot.value, context: snapshot.context });

const inertWorker = fromCallback<WorkerEvent, WorkerInput>(() => undefined);
const asWorker = (logic: typeof inertWorker) => logic as unknown as typeof workerMachine;
const modelMachine = coordinatorMachine.provide({
  actors: { serverPort: fromCallback(() => undefined), worker: asWorker(inertWorker), synthesize: fromPromise(() => new Promise<string>(() => undefined)) },
});

/** The machine updates its schedule and saga stack in place: every transition starts from a copy. */
function copyOf(snapshot: Snapshot): Snapshot {
  const copy = modelMachine.resolveState({ value: snapshot.value, context: structuredClone(snapshot.context) });
  return Object.assign(copy, { children: snapshot.children, historyValue: snapshot.historyValue }) as Snapshot;
}
const step = (snapshot: Snapshot, event: CoordinatorEvent): Snapshot => transition(modelMachine, copyOf(snapshot), event)[0];
const isolated: typeof modelMachine = Object.create(modelMachine, { transition: { value: step } });
const model = createMachineModel(isolated);

const coverage = createCoverage(coordinatorMachine);
const paths = Object.entries(workflows).flatMap(([name, workflow]) => {
  const input: CoordinatorInput = { runId: 'r', workflow };
  return listEdgePaths(model.getShortestPaths({ input, events: eventsFor, serializeState }), eventsFor, serializeState).map((path) => ({ name, workflow, path }));
});

interface FakeWorker {
  id: string;
  input: WorkerInput;
  received: WorkerEvent[];
}

function startRun(workflow: Workflow) {
  const messages: ServerPortMessage[] = [];
  const workers: FakeWorker[] = [];
  const emitted: RunEvent[] = [];
  const worker = fromCallback<WorkerEvent, WorkerInput>(({ input, self, receive }) => {
    const fake: FakeWorker = { id: self.id, input, received: [] };
    workers.push(fake);
    receive((event) => fake.received.push(event));
  });
  const machine = coordinatorMachine.provide({
    actors: { serverPort: createRecordingPort(messages), worker: asWorker(worker), synthesize: fromPromise(() => new Promise<string>(() => undefined)) },
  });
  const actor = createActor(machine, { input: { runId: 'r', workflow }, inspect: coverage.inspect });
  actor.on('*', (event) => emitted.push(event as RunEvent));
  actor.start();
  return { actor, messages, workers, emitted };
}

function label(event: CoordinatorEvent): string {
  switch (event.type) {
    case 'server.ready':
      return `${event.server} ready${event.server === 'beta' && !event.tools.some((tool) => tool.name === 'call') ? ' (no call)' : ''}`;
    case 'server.unavailable':
      return `${event.server} unavailable`;
    case 'server.result':
      return `${event.callId} ${event.result.isError ? 'isError' : 'ok'}`;
    case 'server.failed':
      return `${event.callId} failed`;
    case 'worker.reading':
    case 'worker.calling':
      return `${event.taskId} ${event.type.slice('worker.'.length)}${event.worker === 'worker:nobody:1' ? ' (stray)' : ''}`;
    case 'worker.finished':
      return `${event.taskId} ${event.outcome.status}${event.outcome.status === 'completed' && event.outcome.result.json === undefined ? ' (no json)' : ''}`;
    case 'run.cancel':
      return 'cancel';
    default:
      return (event as { type: string }).type.replace(/^xstate\.(done\.actor|error\.actor)\.(\w+).*/, '$2 $1');
  }
}

describe('coordinator machine, model-based', () => {
  afterAll(() => {
    expect(coverage.missingStates(), 'states no path reached').toEqual([]);
    expect(coverage.missingTransitions(), 'transitions no path took').toEqual([]);
  });

  it('generates paths for every workflow', () => {
    for (const name of Object.keys(workflows)) expect(paths.filter((path) => path.name === name).length, name).toBeGreaterThan(10);
  });

  paths.forEach(({ name, workflow, path }, index) => {
    it(`${name} #${index}: ${path.events.map(label).join(' → ') || '(start)'}${path.expected ? '' : ' (edge)'}`, () => {
      const live = startRun(workflow);
      let [expected] = initialTransition(isolated, { runId: 'r', workflow });
      expect(serializeState(live.actor.getSnapshot())).toBe(serializeState(expected));
      // Every server the run needs is asked for at once: they start in parallel.
      expect(live.messages).toEqual([{ type: 'port.acquire', servers: ['alpha', 'beta'] }]);
      for (const event of path.events) {
        const before = live.actor.getSnapshot();
        const marks = { messages: live.messages.length, emitted: live.emitted.length };
        // The machine updates its context in place: what the step is checked against is copied first.
        const stack = before.context.compensations.map((entry) => entry.task.id);
        const beforeSerialized = serializeState(before);
        live.actor.send(event);
        expected = step(expected, event);
        const after = live.actor.getSnapshot();
        expect(serializeState(after), `after ${label(event)}`).toBe(serializeState(expected));
        checkStep({ before, stack, serialized: beforeSerialized }, event, after, live.messages.slice(marks.messages), live.emitted.slice(marks.emitted));
        checkInvariants(live);
      }
      if (path.expected) expect(serializeState(live.actor.getSnapshot())).toBe(serializeState(path.expected));
      live.actor.stop();
    });
  });
});

/** What one event must have caused. */
function checkStep(was: { before: Snapshot; stack: string[]; serialized: string }, event: CoordinatorEvent, after: Snapshot, sent: ServerPortMessage[], emitted: RunEvent[]): void {
  const { before } = was;
  const undoCalls = sent.filter((message) => message.type === 'server.call' && message.callId.endsWith('#compensate'));
  // Undo calls go out only while compensating, one at a time, for the newest completed task first.
  if (undoCalls.length > 0) {
    expect(after.matches({ compensating: 'undoing' })).toBe(true);
    expect(undoCalls).toHaveLength(1);
    const top = after.context.compensations.at(-1)!;
    expect(undoCalls[0]).toMatchObject({ server: 'beta', tool: 'undo', callId: `${top.task.id}#compensate` });
    if (top.prepared.ok) expect(undoCalls[0]).toMatchObject({ args: top.prepared.args });
  }
  const undone = emitted.filter((entry) => entry.type === 'task.compensated' || entry.type === 'task.compensation_failed');
  if (undone.length > 0) {
    expect(before.matches('compensating') || before.matches('cancelling') || before.matches('executing')).toBe(true);
    // Each is the top of the stack as it was: reverse completion order.
    const stack = [...was.stack].reverse();
    expect(undone.map((entry) => ('task' in entry ? entry.task.id : ''))).toEqual(stack.slice(0, undone.length));
  }
  if (event.type === 'server.result' && event.callId.endsWith('#compensate') && before.matches({ compensating: 'undoing' })) {
    expect(undone[0]?.type).toBe(event.result.isError ? 'task.compensation_failed' : 'task.compensated');
  }
  if (event.type === 'server.result' && event.callId === 'stray') expect(serializeState(after)).toBe(was.serialized);
  if (after.matches('finalOutput') || after.matches('synthesizing')) expect(undone).toEqual([]);
  if (event.type === 'run.cancel' && !before.matches('compensating')) expect(after.context.error).toMatchObject({ code: 'CANCELLED', message: 'run cancelled: user' });
  if (event.type === 'worker.finished') expect(after.context.schedule.running[event.taskId]).toBeUndefined();
  // A call going out is the task's start, with the arguments as rendered; a stray report says nothing.
  if (event.type === 'worker.calling') {
    const own = before.context.schedule.running[event.taskId] === event.worker;
    expect(emitted).toEqual(own ? [{ type: 'task.started', task: expect.objectContaining({ id: event.taskId }), args: event.args, worker: event.worker }] : []);
  }
  if (event.type === 'worker.reading') expect(emitted).toEqual([{ type: 'task.context', task: expect.objectContaining({ id: event.taskId }), resources: event.resources }]);
}

function checkInvariants(live: ReturnType<typeof startRun>): void {
  const snapshot = live.actor.getSnapshot();
  const { context } = snapshot;
  const { schedule } = context;
  expect(JSON.parse(JSON.stringify(context))).toEqual(context);
  // Routed: no task in the breakdown is left without a server; `call` can only go to beta.
  for (const spec of context.breakdown) expect(spec.server === 'any' ? 'unrouted' : spec.server).toBe(spec.tool === 'call' ? 'beta' : 'alpha');
  // One worker per slot of each server tasks use.
  const servers = [...new Set(context.breakdown.map((entry) => entry.server))];
  const ids = servers.flatMap((server) => Array.from({ length: context.workflow.servers[server]!.maxConcurrent ?? 1 }, (_, n) => `worker:${server}:${n + 1}`));
  expect(live.workers.map((fake) => fake.id).sort()).toEqual(ids.sort());
  const running = Object.entries(schedule.running);
  expect(running.length).toBe(schedule.inFlight);
  // Per server, never more in flight than its slots.
  for (const server of servers) {
    const busy = running.filter(([id]) => context.breakdown[schedule.positions[id]!]!.server === server);
    expect(busy.length).toBeLessThanOrEqual(context.workflow.servers[server]!.maxConcurrent ?? 1);
  }
  for (const [id] of running) {
    const at = schedule.positions[id]!;
    expect(schedule.status[at]).toBe('running');
    // c reads a: it runs only after a completed, and is handed a's result.
    if (id === 'c' || id === 'p') expect(schedule.status[schedule.positions.a!]).toBe('completed');
  }
  // The saga's stack holds only completed tasks, each once.
  const stacked = context.compensations.map((entry) => entry.task.id);
  expect(new Set(stacked).size).toBe(stacked.length);
  for (const id of stacked) expect(schedule.status[schedule.positions[id]!]).toBe('completed');
  if (snapshot.matches('compensating') || snapshot.matches('failed')) expect(running).toEqual([]);
  if (snapshot.matches('failed')) {
    expect(snapshot.status).toBe('done');
    expect(snapshot.output?.error?.message).toBeTruthy();
    // Stopped by a task or a cancel: everything completed was undone. (A bad output template fails after the tasks, with nothing to undo.)
    if (context.workflow.onError === 'stop' && context.error?.code !== 'TEMPLATE') expect(context.compensations).toEqual([]);
  }
  if (snapshot.matches('finalOutput')) expect(snapshot.output).toEqual({ output: 'combined' });
}
