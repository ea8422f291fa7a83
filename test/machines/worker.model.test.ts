/**
 * Model-based tests of the parallel run's worker: paths are generated from
 * the worker machine alone with @xstate/graph (every edge extended), and each
 * path is replayed on a live worker running as the child of a tiny host
 * machine, so its `worker.finished` reports reach a parent; the host's sibling
 * `serverPort` (system id 'serverPort') records what the worker asks of the
 * servers. At every step the live snapshot must be the one the model
 * predicts, the step's port messages and reports are checked, and each
 * assignment yields exactly one report. The suite fails when any state or
 * transition of the definition is never reached.
 */
import { assign, createActor, initialTransition, setup, transition, type SnapshotFrom } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { ErrorInfo } from '../../src/core/errors.js';
import type { ToolResult } from '../../src/core/results.js';
import type { ServerPortMessage } from '../../src/core/server-port.js';
import type { TaskSpec } from '../../src/core/workflow.js';
import { workerMachine, type TaskOutcome, type WorkerEvent, type WorkerFinishedEvent, type WorkerInput } from '../../machines/worker.machine.js';
import { createCoverage, createMachineModel, listEdgePaths } from '../support/transition-coverage.js';
import { createRecordingPort } from './fake-server.js';

const WORKER = 'worker:alpha:1';
const INPUT: WorkerInput = { id: WORKER, server: 'alpha' };

const ok = (text: string, json?: unknown): ToolResult => ({ text, json, isError: false, content: [{ type: 'text', text }] });

/** Reads two resources (on two servers), then calls with the first one's text. */
const readsContext: TaskSpec = {
  id: 'read',
  server: 'alpha',
  tool: 'echo',
  args: { text: '{{ context.0.text }}', second: '{{ context.1.json.n }}' },
  context: [
    { server: 'alpha', uri: 'fixture://one' },
    { server: 'beta', uri: 'fixture://two' },
  ],
  idempotent: true,
  timeoutMs: 50,
};
/** Reads no resources but an earlier result; optional: skipped when nothing can serve it. */
const plain: TaskSpec = { id: 'plain', server: 'alpha', tool: 'echo', args: { text: '{{ tasks.up.text }}' }, context: [], optional: true };
/** Its placeholder names a result the worker was not given: it cannot render. */
const broken: TaskSpec = { id: 'broken', server: 'alpha', tool: 'echo', args: { text: '{{ tasks.missing.json.x }}' }, context: [] };
const TASKS = [readsContext, plain, broken];
const RESULTS: Record<string, Record<string, ToolResult>> = { read: {}, plain: { up: ok('from up') }, broken: {} };

const assignOf = (task: TaskSpec): WorkerEvent => ({ type: 'worker.assign', task, results: RESULTS[task.id]! });
const cancel: WorkerEvent = { type: 'worker.cancel', reason: 'stopping' };
const failure = (code: ErrorInfo['code'], message: string): ErrorInfo => ({ code, message, server: 'alpha' });

type Snapshot = SnapshotFrom<typeof workerMachine>;

function eventsFor(snapshot: Snapshot): WorkerEvent[] {
  const { context } = snapshot;
  const task = context.task;
  // Stale answers: a late reply for the previous task, or for a call this task does not own.
  const stale: WorkerEvent[] = [
    { type: 'server.result', server: 'alpha', callId: task ? `${task.id}#call` : 'read#call', result: ok('late'), durationMs: 1 },
    { type: 'server.failed', server: 'alpha', callId: 'other#call', error: failure('CALL_FAILED', 'stale'), durationMs: 1 },
  ];
  if (snapshot.matches('idle')) return [...TASKS.map(assignOf), ...stale.slice(0, 1), cancel];
  if (snapshot.matches('gettingContext') && task) {
    const ref = task.context[context.gathered.length]!;
    const reply = { server: ref.server, callId: `${task.id}#context`, durationMs: 1 };
    return [
      { type: 'server.resource', ...reply, resource: { uri: ref.uri, text: `text of ${ref.uri}`, json: { n: context.gathered.length } } },
      { type: 'server.failed', ...reply, error: failure('CALL_FAILED', 'no such resource') },
      { type: 'server.resource', ...reply, callId: 'other#context', resource: { uri: 'fixture://stray', text: 'stray', json: undefined } },
      // The call's id, not the read's: not an answer to the read.
      ...stale,
      cancel,
    ];
  }
  if (snapshot.matches('implementing') && task) {
    const reply = { server: task.server, callId: `${task.id}#call`, durationMs: 1 };
    return [
      { type: 'server.result', ...reply, result: ok('done', { done: true }) },
      { type: 'server.result', ...reply, result: ok('done by a fallback'), servedBy: 'beta' },
      { type: 'server.result', ...reply, result: { ...ok('tool said no'), isError: true } },
      // Unavailability: an optional task is skipped, any other fails.
      { type: 'server.failed', ...reply, error: failure('SERVER_UNAVAILABLE', 'process exited') },
      { type: 'server.failed', ...reply, error: failure('CALL_FAILED', 'bad arguments') },
      // Answers to other calls (the read's id, another task's call, an error result among them): ignored.
      { type: 'server.result', ...reply, callId: `${task.id}#context`, result: { ...ok('stale'), isError: true } },
      { type: 'server.failed', ...reply, callId: 'other#call', error: failure('SERVER_UNAVAILABLE', 'stale') },
      cancel,
    ];
  }
  return [];
}

/** Timestamps and durations are not part of the model's state. */
const serializeState = (snapshot: Snapshot) => {
  const { startedAt: _startedAt, outcome, ...context } = snapshot.context;
  const { durationMs: _durationMs, ...rest } = outcome ?? { durationMs: 0 };
  return JSON.stringify({ value: snapshot.value, context, outcome: outcome ? rest : undefined });
};

const model = createMachineModel(workerMachine);
const shortest = model.getShortestPaths({ input: INPUT, events: eventsFor, serializeState });
const paths = listEdgePaths(shortest, eventsFor, serializeState);

const coverage = createCoverage(workerMachine);

/** The worker as the parallel run holds it: a child of a run that also holds the server port. */
function startWorker() {
  const messages: ServerPortMessage[] = [];
  const reports: WorkerFinishedEvent[] = [];
  const host = setup({
    types: { events: {} as WorkerFinishedEvent },
    actors: { worker: workerMachine, serverPort: createRecordingPort(messages) },
    actions: { record: assign(({ event }) => (reports.push(event), {})) },
  }).createMachine({
    id: 'host',
    invoke: [
      { id: 'serverPort', src: 'serverPort', systemId: 'serverPort' },
      { id: WORKER, src: 'worker', systemId: WORKER, input: INPUT },
    ],
    on: { 'worker.finished': { actions: 'record' } },
  });
  const actor = createActor(host, { inspect: coverage.inspect });
  actor.start();
  const worker = actor.system.get(WORKER)!;
  return { actor, worker, messages, reports, snapshot: () => worker.getSnapshot() as Snapshot };
}

function label(event: WorkerEvent): string {
  switch (event.type) {
    case 'worker.assign':
      return `assign ${event.task.id}`;
    case 'worker.cancel':
      return 'cancel';
    case 'server.result':
      return `${event.callId} ${event.result.isError ? 'isError' : event.servedBy ? `result via ${event.servedBy}` : 'result'}`;
    case 'server.resource':
      return `${event.callId} ${event.resource.uri}`;
    case 'server.failed':
      return `${event.callId} failed ${event.error.code}`;
    default:
      return event.type;
  }
}

describe('worker machine, model-based', () => {
  afterAll(() => {
    expect(coverage.missingStates(), 'states no path reached').toEqual([]);
    expect(coverage.missingTransitions(), 'transitions no path took').toEqual([]);
  });

  it('generates paths through every outcome of every task', () => {
    const outcomes = new Set(shortest.flatMap((path) => path.steps.map((step) => step.state.context)).filter((context) => context.outcome).map((context) => `${context.task!.id}:${context.outcome!.status}`));
    for (const outcome of ['read:completed', 'read:failed', 'read:cancelled', 'plain:completed', 'plain:failed', 'plain:skipped', 'plain:cancelled', 'broken:failed']) expect(outcomes).toContain(outcome);
    expect(paths.length).toBeGreaterThan(50);
  });

  paths.forEach((path, index) => {
    it(`#${index}: ${path.events.map(label).join(' → ') || '(start)'}${path.expected ? '' : ' (edge)'}`, () => {
      const live = startWorker();
      let [expected] = initialTransition(workerMachine, INPUT);
      expect(serializeState(live.snapshot())).toBe(serializeState(expected));
      let assigned = 0;
      checkInvariants(live, assigned);
      for (const event of path.events) {
        const before = live.snapshot();
        const marks = { messages: live.messages.length, reports: live.reports.length };
        live.worker.send(event);
        [expected] = transition(workerMachine, expected, event);
        const after = live.snapshot();
        expect(serializeState(after), `after ${event.type}`).toBe(serializeState(expected));
        if (before.matches('idle') && event.type === 'worker.assign') assigned++;
        checkStep(before, event, after, live.messages.slice(marks.messages), live.reports.slice(marks.reports));
        checkInvariants(live, assigned);
      }
      if (path.expected) expect(serializeState(live.snapshot())).toBe(serializeState(path.expected));
      live.actor.stop();
    });
  });
});

const callOf = (task: TaskSpec, args: Record<string, unknown>): ServerPortMessage => ({
  type: 'server.call',
  server: task.server,
  callId: `${task.id}#call`,
  tool: task.tool,
  args,
  task: task.id,
  from: WORKER,
  ...(task.idempotent ? { idempotent: true } : {}),
  ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}),
});
const readOf = (task: TaskSpec, at: number): ServerPortMessage => ({ type: 'server.read', server: task.context[at]!.server, callId: `${task.id}#context`, uri: task.context[at]!.uri, task: task.id, from: WORKER });

/** A task outcome before its duration is known (distributes over the outcome union). */
type OutcomeWithoutTime = TaskOutcome extends infer O ? (O extends TaskOutcome ? Omit<O, 'durationMs'> : never) : never;

/** The outcome an answer means for the task in flight. */
function outcomeOf(task: TaskSpec, event: WorkerEvent): OutcomeWithoutTime {
  if (event.type === 'worker.cancel') return { status: 'cancelled', error: { code: 'CANCELLED', message: `task "${task.id}" cancelled: ${event.reason}`, task: task.id } };
  if (event.type === 'server.result' && event.result.isError) {
    return { status: 'failed', error: { code: 'TOOL_ERROR', message: expect.stringContaining('tool said no'), task: task.id, server: task.server }, result: event.result };
  }
  if (event.type === 'server.result') return { status: 'completed', result: event.result, ...(event.servedBy ? { servedBy: event.servedBy } : {}) };
  if (event.type === 'server.failed' && task.optional && event.error.code === 'SERVER_UNAVAILABLE') return { status: 'skipped', reason: event.error.message };
  if (event.type === 'server.failed') return { status: 'failed', error: { ...event.error, task: task.id } };
  throw new Error(`no outcome for ${event.type}`);
}

/** What one event must have caused: the worker's messages to the port and its reports to the parent. */
function checkStep(before: Snapshot, event: WorkerEvent, after: Snapshot, sent: ServerPortMessage[], reports: WorkerFinishedEvent[]): void {
  // An idle worker takes every assignment (a second `broken` ends where the first did); otherwise a taken event changes the state.
  const taken = before.matches('idle') ? event.type === 'worker.assign' : serializeState(before) !== serializeState(after);
  if (!taken) {
    expect(serializeState(after)).toBe(serializeState(before));
    // Not for this state (a stale answer, a cancel with nothing to cancel): nothing happens.
    expect(sent).toEqual([]);
    expect(reports).toEqual([]);
    return;
  }
  if (event.type === 'worker.assign') {
    const { task } = event;
    if (task.id === 'read') {
      expect(after.matches('gettingContext')).toBe(true);
      expect(sent).toEqual([readOf(task, 0)]);
      expect(reports).toEqual([]);
    } else if (task.id === 'plain') {
      expect(after.matches('implementing')).toBe(true);
      expect(sent).toEqual([callOf(task, { text: 'from up' })]);
      expect(reports).toEqual([]);
    } else {
      // The placeholder cannot render: no call, one failed report, and the worker is free again.
      expect(after.matches('idle')).toBe(true);
      expect(sent).toEqual([]);
      expect(reports).toEqual([{ type: 'worker.finished', worker: WORKER, taskId: task.id, outcome: { status: 'failed', error: expect.objectContaining({ code: 'TEMPLATE', task: task.id }), durationMs: expect.any(Number) } }]);
    }
    return;
  }
  const task = before.context.task!;
  if (event.type === 'server.resource') {
    const gathered = before.context.gathered.length + 1;
    // The next read, one at a time, or once all are in, the call with the context filled in.
    expect(sent).toEqual(gathered < task.context.length ? [readOf(task, gathered)] : [callOf(task, { text: 'text of fixture://one', second: 1 })]);
    expect(reports).toEqual([]);
    return;
  }
  // Anything else the worker takes ends the task: one report, and the worker is idle again.
  expect(after.matches('idle')).toBe(true);
  expect(reports).toEqual([{ type: 'worker.finished', worker: WORKER, taskId: task.id, outcome: { ...outcomeOf(task, event), durationMs: expect.any(Number) } }]);
  // Cancelling a call tells the port; a read in flight is left to finish.
  expect(sent).toEqual(event.type === 'worker.cancel' && before.matches('implementing') ? [{ type: 'server.cancel', server: task.server, callId: `${task.id}#call`, reason: event.reason, from: WORKER }] : []);
}

function checkInvariants(live: ReturnType<typeof startWorker>, assigned: number): void {
  const snapshot = live.snapshot();
  const { context } = snapshot;
  expect(live.actor.getSnapshot().status).toBe('active');
  expect(snapshot.status).toBe('active');
  // Every message names the worker, so the directory's answers come back to it.
  for (const message of live.messages) {
    expect(message.from).toBe(WORKER);
    expect(message.type).not.toBe('port.acquire');
    expect(JSON.parse(JSON.stringify(message))).toEqual(message);
  }
  // Plain data.
  expect(JSON.parse(JSON.stringify(context))).toEqual(context);
  // Each assignment yields exactly one report, once the task is over.
  const busy = !snapshot.matches('idle');
  expect(live.reports.length + (busy ? 1 : 0)).toBe(assigned);
  for (const report of live.reports) expect(report.worker).toBe(WORKER);
  if (busy) {
    expect(context.task).toBeDefined();
    expect(context.outcome).toBeUndefined();
  } else {
    // A finished task's inputs are not kept.
    expect(context.results).toEqual({});
    expect(context.gathered).toEqual([]);
    if (live.reports.length > 0) expect(context.outcome).toEqual(live.reports.at(-1)!.outcome);
  }
  if (snapshot.matches('gettingContext')) {
    const reads = live.messages.filter((message) => message.type === 'server.read');
    expect(reads.at(-1)).toEqual(readOf(context.task!, context.gathered.length));
  }
  if (snapshot.matches('implementing')) expect(live.messages.at(-1)).toMatchObject({ type: 'server.call', callId: `${context.task!.id}#call` });
}
