/**
 * Model-based tests of the sequential machine: paths are generated from the
 * machine with @xstate/graph, every edge is extended, and each path is
 * replayed on a live actor whose `serverPort` is a recording fake (the test
 * sends the directory's answers itself). At every step the live snapshot must
 * be the one the model predicts, and the step's port messages and emitted run
 * events are checked. The suite fails when any state or transition of the
 * definition is never reached by the generated paths.
 */
import { createActor, fromCallback, fromPromise, initialTransition, transition, type SnapshotFrom } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunEvent } from '../../src/core/bus-events.js';
import type { ToolInfo, ToolResult } from '../../src/core/results.js';
import type { ServerPortMessage } from '../../src/core/server-port.js';
import type { TaskSpec, Workflow } from '../../src/core/workflow.js';
import { sequentialMachine, type SequentialEvent, type SequentialInput } from '../../machines/sequential.machine.js';
import { createCoverage, createMachineModel, listEdgePaths } from '../support/transition-coverage.js';
import { createRecordingPort } from './fake-server.js';

const stdio = (name: string) => ({ kind: 'stdio' as const, replicas: 1, command: 'node', args: [`${name}.js`], env: {}, cwd: '/tmp' });
const tools: ToolInfo[] = [{ name: 'echo' }, { name: 'plan' }];

/**
 * Two servers and a planner; `b` reads two resources one at a time, reads
 * `a`'s result, and is optional (skipped when its server is unavailable).
 */
const planned: Workflow = {
  name: 'model',
  dir: '/tmp',
  timeoutMs: 1000,
  pattern: 'auto',
  onError: 'stop',
  schedule: 'groups',
  servers: { alpha: stdio('alpha'), beta: stdio('beta') },
  plan: { server: 'beta', tool: 'plan', args: {} },
  tasks: [
    { id: 'a', server: 'alpha', tool: 'echo', args: { text: 'hi' }, context: [] },
    {
      id: 'b',
      server: 'beta',
      tool: 'echo',
      args: { text: '{{ tasks.a.json.x }}' },
      context: [
        { server: 'alpha', uri: 'fixture://one' },
        { server: 'beta', uri: 'fixture://two' },
      ],
      optional: true,
      idempotent: true,
      timeoutMs: 50,
    },
  ],
};
/** No planner: the breakdown is the file's own list (alpha may answer with only its fallbacks' tools). */
const fixed: Workflow = { ...planned, plan: undefined, servers: { alpha: stdio('alpha') }, tasks: [planned.tasks[0]!] };
const WORKFLOWS: Record<string, Workflow> = { planned, fixed };

const result = (text: string, json?: unknown, isError = false): ToolResult => ({ text, json, isError, content: [{ type: 'text', text }] });
type Snapshot = SnapshotFrom<typeof sequentialMachine>;

const synthesized = { type: 'xstate.done.actor.synthesize', output: 'final output' } as unknown as SequentialEvent;
const synthesisFailed = { type: 'xstate.error.actor.synthesize', error: new Error('output template failed') } as unknown as SequentialEvent;
const cancel: SequentialEvent = { type: 'run.cancel', reason: 'user' };

/** The events the outside world can send in each state: server answers (some stale), failures, cancellation. */
function eventsFor(snapshot: Snapshot): SequentialEvent[] {
  const { context } = snapshot;
  if (snapshot.status !== 'active') return [];
  if (snapshot.matches('initializing')) {
    const waiting = context.required.filter((name) => !(name in context.tools));
    return [
      ...waiting.map((server) => ({ type: 'server.ready' as const, server, tools })),
      // A server without the `echo` tool: the breakdown must be refused before anything runs.
      ...waiting.filter((server) => server === 'alpha').map((server) => ({ type: 'server.ready' as const, server, tools: [{ name: 'plan' }] })),
      // Served only by fallbacks (its own tools unknown): a missing tool is no error yet.
      ...(context.workflow.plan ? [] : waiting.map((server) => ({ type: 'server.ready' as const, server, tools: [], partial: true }))),
      ...waiting.slice(0, 1).map((server) => ({ type: 'server.unavailable' as const, server, error: { code: 'SERVER_START_FAILED' as const, message: `${server} did not start`, server } })),
      cancel,
    ];
  }
  if (snapshot.matches({ planning: 'askingPlanner' })) {
    const reply = { server: 'beta', callId: 'plan', durationMs: 1 };
    return [
      { type: 'server.result', ...reply, result: result('[…]', [{ id: 'p', server: 'alpha', tool: 'echo', args: { text: 'planned' } }]) },
      { type: 'server.result', ...reply, result: result('[…]', [{ id: 'p', server: 'nowhere', tool: 'echo' }]) },
      { type: 'server.result', ...reply, result: result('planner broke', undefined, true) },
      { type: 'server.failed', ...reply, error: { code: 'CALL_TIMEOUT', message: 'planner timed out', server: 'beta' } },
      // Not the planner's answer: ignored.
      { type: 'server.result', ...reply, callId: 'a#call', result: result('stray') },
      cancel,
    ];
  }
  const task = context.breakdown[context.index];
  if (snapshot.matches({ executing: 'gettingContext' }) && task) {
    const ref = task.context[context.gathered.length]!;
    const reply = { server: ref.server, callId: `${task.id}#context`, durationMs: 1 };
    return [
      { type: 'server.resource', ...reply, resource: { uri: ref.uri, text: `text of ${ref.uri}`, json: undefined } },
      { type: 'server.failed', ...reply, error: { code: 'CALL_FAILED', message: 'no such resource', server: ref.server } },
      // Another task's read: ignored.
      { type: 'server.resource', ...reply, callId: 'other#context', resource: { uri: 'fixture://stray', text: 'stray', json: undefined } },
      cancel,
    ];
  }
  if (snapshot.matches({ executing: 'implementing' }) && task) {
    const reply = { server: task.server, callId: `${task.id}#call`, durationMs: 1 };
    return [
      { type: 'server.result', ...reply, result: result('{"x":1}', { x: 1 }) },
      // `a` answering without the field `b` reads: b's placeholder cannot render.
      ...(task.id === 'a' ? [{ type: 'server.result' as const, ...reply, result: result('plain') }] : []),
      // Served by a fallback.
      ...(task.id === 'p' ? [{ type: 'server.result' as const, ...reply, result: result('from fallback'), servedBy: 'builtin:files' }] : []),
      { type: 'server.result', ...reply, result: result('tool said no', undefined, true) },
      { type: 'server.failed', ...reply, error: { code: 'SERVER_UNAVAILABLE', message: 'process exited', server: task.server } },
      // Optional, but the call itself failed: a failure, not a skip.
      ...(task.optional ? [{ type: 'server.failed' as const, ...reply, error: { code: 'CALL_FAILED' as const, message: 'bad arguments', server: task.server } }] : []),
      // An answer to another call (or a tool error from one): ignored.
      { type: 'server.result', ...reply, callId: 'plan', result: result('late', undefined, true) },
      { type: 'server.failed', ...reply, callId: 'other#call', error: { code: 'CALL_FAILED', message: 'stale', server: task.server } },
      cancel,
    ];
  }
  if (snapshot.matches('synthesizing')) return [synthesized, synthesisFailed, cancel];
  return [];
}

// Timestamps are not part of the model's state.
const serializeState = (snapshot: Snapshot) => {
  const { startedAt: _startedAt, ...context } = snapshot.context;
  return JSON.stringify({ value: snapshot.value, context });
};

/** The machine with inert actors: what path generation and the per-step prediction run. */
const modelMachine = sequentialMachine.provide({
  actors: { serverPort: fromCallback(() => undefined), synthesize: fromPromise(() => new Promise<string>(() => undefined)) },
});
const model = createMachineModel(modelMachine);
const paths = Object.entries(WORKFLOWS).flatMap(([name, workflow]) => {
  const input: SequentialInput = { runId: 'r', workflow };
  const shortest = model.getShortestPaths({ input, events: eventsFor, serializeState });
  return listEdgePaths(shortest, eventsFor, serializeState).map((path) => ({ name, workflow, path }));
});

const coverage = createCoverage(sequentialMachine);

function startRun(workflow: Workflow) {
  const messages: ServerPortMessage[] = [];
  const emitted: RunEvent[] = [];
  const machine = sequentialMachine.provide({
    actors: {
      serverPort: createRecordingPort(messages),
      // Never settles by itself: the path sends its done/error event, as the model says.
      synthesize: fromPromise(() => new Promise<string>(() => undefined)),
    },
  });
  const actor = createActor(machine, { input: { runId: 'r', workflow }, inspect: coverage.inspect });
  actor.on('*', (event) => emitted.push(event as RunEvent));
  actor.start();
  return { actor, messages, emitted };
}

describe('sequential machine, model-based', () => {
  afterAll(() => {
    // Runs after every path: the generated paths must cover the whole definition.
    expect(coverage.missingStates(), 'states no path reached').toEqual([]);
    expect(coverage.missingTransitions(), 'transitions no path took').toEqual([]);
  });

  it('generates paths for both workflows', () => {
    expect(paths.filter((path) => path.name === 'planned').length).toBeGreaterThan(40);
    expect(paths.filter((path) => path.name === 'fixed').length).toBeGreaterThan(10);
  });

  paths.forEach(({ name, workflow, path }, index) => {
    it(`${name} #${index}: ${path.events.map(label).join(' → ') || '(start)'}${path.expected ? '' : ' (edge)'}`, () => {
      const live = startRun(workflow);
      let [expected] = initialTransition(modelMachine, { runId: 'r', workflow });
      expect(serializeState(live.actor.getSnapshot())).toBe(serializeState(expected));
      // Start: one acquire of every server the run needs, and the first phase.
      expect(live.messages).toEqual([{ type: 'port.acquire', servers: expected.context.required }]);
      expect(live.emitted).toEqual([{ type: 'run.phase', phase: 'initializing' }]);
      checkInvariants(live);

      for (const event of path.events) {
        const before = live.actor.getSnapshot();
        const marks = { messages: live.messages.length, emitted: live.emitted.length };
        live.actor.send(event);
        [expected] = transition(modelMachine, expected, event);
        const after = live.actor.getSnapshot();
        expect(serializeState(after), `after ${event.type}`).toBe(serializeState(expected));
        checkStep(before, event, after, live.messages.slice(marks.messages), live.emitted.slice(marks.emitted));
        checkInvariants(live);
      }
      if (path.expected) expect(serializeState(live.actor.getSnapshot())).toBe(serializeState(path.expected));
      live.actor.stop();
    });
  });
});

/** A short name for an event, for test titles. */
function label(event: SequentialEvent): string {
  switch (event.type) {
    case 'server.ready':
      return `${event.server} ready${event.partial ? ' (partial)' : event.tools.some((tool) => tool.name === 'echo') ? '' : ' (no echo)'}`;
    case 'server.unavailable':
      return `${event.server} unavailable`;
    case 'server.result':
      return `${event.callId} ${event.result.isError ? 'isError' : JSON.stringify(event.result.json ?? event.result.text)}`;
    case 'server.resource':
      return `${event.callId} ${event.resource.uri}`;
    case 'server.failed':
      return `${event.callId} failed ${event.error.code}`;
    case 'run.cancel':
      return 'cancel';
    default:
      return (event as { type: string }).type;
  }
}

const taskEvents = (emitted: RunEvent[], id: string) => emitted.filter((event) => 'task' in event && event.task.id === id);
const callOf = (task: TaskSpec, messages: ServerPortMessage[]) => messages.find((message) => message.type === 'server.call' && message.callId === `${task.id}#call`);

/** What one event must have caused: the messages to the port and the run events it emitted. */
function checkStep(before: Snapshot, event: SequentialEvent, after: Snapshot, sent: ServerPortMessage[], emitted: RunEvent[]): void {
  if (serializeState(before) === serializeState(after)) {
    // An event the state does not take (a stale or foreign answer) changes nothing and does nothing.
    expect(sent).toEqual([]);
    expect(emitted).toEqual([]);
    return;
  }
  const task = before.context.breakdown[before.context.index];
  if (event.type === 'run.cancel') {
    expect(after.matches('failed')).toBe(true);
    expect(after.output?.error?.code).toBe('CANCELLED');
    // A call in flight is cancelled; nothing else is asked of any server.
    const inFlight = before.matches({ executing: 'implementing' }) && task;
    expect(sent).toEqual(inFlight ? [{ type: 'server.cancel', server: task.server, callId: `${task.id}#call`, reason: 'user' }] : []);
    if (inFlight) expect(emitted.map((entry) => entry.type)).toEqual(['task.failed', ...before.context.breakdown.slice(before.context.index + 1).map(() => 'task.skipped')]);
    else expect(emitted).toEqual([]);
    return;
  }
  if (event.type === 'server.resource') {
    if (after.matches('failed')) {
      // All gathered, but the call's placeholder cannot render: the task fails before any call.
      expect(sent).toEqual([]);
      expect(emitted[0]).toMatchObject({ type: 'task.failed', task: { id: task!.id }, error: { code: 'TEMPLATE', task: task!.id } });
    } else {
      // The next read, or (once all are gathered) the call: one message.
      expect(sent).toHaveLength(1);
      expect(sent[0]!.type).toBe(after.matches({ executing: 'gettingContext' }) ? 'server.read' : 'server.call');
    }
  }
  if (event.type === 'server.failed' || event.type === 'server.result') {
    if (task && 'callId' in event && event.callId.startsWith(`${task.id}#`)) {
      const types = emitted.map((entry) => entry.type);
      const outcome = types[0];
      // The current task settles: exactly one outcome for it.
      expect(taskEvents(emitted, task.id).filter((entry) => entry.type !== 'task.started' && entry.type !== 'task.context' && entry.type !== 'notification').length).toBe(1);
      if (outcome === 'task.failed') {
        expect(after.matches('failed')).toBe(true);
        expect(after.output?.error?.task).toBe(task.id);
        expect(types.slice(1)).toEqual(before.context.breakdown.slice(before.context.index + 1).map(() => 'task.skipped'));
        expect(sent).toEqual([]);
      } else if (outcome === 'task.skipped') {
        expect(task.optional).toBe(true);
        expect(event).toMatchObject({ type: 'server.failed', error: { code: 'SERVER_UNAVAILABLE' } });
        expect(emitted[1]).toMatchObject({ type: 'notification', notification: { level: 'warning', task: task.id, server: task.server } });
      } else {
        expect(outcome).toBe('task.completed');
        expect(emitted[0]).toMatchObject({ type: 'task.completed', task: { id: task.id }, result: (event as { result: ToolResult }).result });
        if ('servedBy' in event && event.servedBy) expect(emitted[0]).toMatchObject({ servedBy: event.servedBy });
      }
    }
  }
  // Whatever starts a task sends its call with the arguments the task.started event names.
  for (const started of emitted.filter((entry) => entry.type === 'task.started')) {
    const spec = after.context.breakdown.find((entry) => entry.id === started.task.id)!;
    expect(callOf(spec, sent)).toEqual({
      type: 'server.call',
      server: spec.server,
      callId: `${spec.id}#call`,
      tool: spec.tool,
      args: started.args,
      task: spec.id,
      ...(spec.idempotent ? { idempotent: true } : {}),
      ...(spec.timeoutMs !== undefined ? { timeoutMs: spec.timeoutMs } : {}),
    });
  }
  expect(sent.filter((message) => message.type === 'server.call' && message.callId !== 'plan')).toHaveLength(emitted.filter((entry) => entry.type === 'task.started').length);
}

/** What must hold in every state a path passes through. */
function checkInvariants(live: ReturnType<typeof startRun>): void {
  const snapshot = live.actor.getSnapshot();
  const { context } = snapshot;
  const { messages, emitted } = live;

  // The run acquires once, first; the port gets plain data and replies come back to the run (no `from`).
  expect(messages.filter((message) => message.type === 'port.acquire')).toEqual([messages[0]]);
  for (const message of messages) {
    expect(message.from).toBeUndefined();
    expect(JSON.parse(JSON.stringify(message))).toEqual(message);
    if (message.type !== 'port.acquire') expect(context.required).toContain(message.server);
  }
  // Plain data: the context survives JSON unchanged.
  expect(JSON.parse(JSON.stringify(context))).toEqual(context);

  // Phases come in order, each once.
  const phases = emitted.filter((event) => event.type === 'run.phase').map((event) => event.phase);
  const order = ['initializing', 'planning', 'breakdown', 'executing', 'synthesizing'];
  expect(phases).toEqual(order.filter((phase) => phases.includes(phase as never)));
  expect(phases.map((phase) => order.indexOf(phase))).toEqual([...phases.map((phase) => order.indexOf(phase))].sort());

  // Each task: context first (if it reads any), then started, then at most one outcome.
  for (const task of context.breakdown) {
    const types = taskEvents(emitted, task.id).map((event) => event.type);
    const outcomes = types.filter((type) => type === 'task.completed' || type === 'task.failed' || type === 'task.skipped');
    expect(outcomes.length, task.id).toBeLessThanOrEqual(1);
    expect(types.filter((type) => type === 'task.started').length).toBeLessThanOrEqual(1);
    if (outcomes[0] === 'task.completed') expect(types).toContain('task.started');
    // Reads go one at a time, in declared order, named by the task's read id.
    const reads = messages.filter((message) => message.type === 'server.read' && message.task === task.id);
    expect(reads).toEqual(task.context.slice(0, reads.length).map((ref) => ({ type: 'server.read', server: ref.server, callId: `${task.id}#context`, uri: ref.uri, task: task.id })));
  }
  const task = context.breakdown[context.index];
  if (snapshot.matches({ planning: 'askingPlanner' })) {
    expect(messages.at(-1)).toEqual({ type: 'server.call', server: 'beta', callId: 'plan', tool: 'plan', args: {} });
  }
  if (snapshot.matches({ executing: 'gettingContext' })) {
    expect(messages.filter((message) => message.type === 'server.read' && message.task === task!.id)).toHaveLength(context.gathered.length + 1);
    expect(taskEvents(emitted, task!.id).map((event) => event.type)).toEqual(['task.context']);
  }
  if (snapshot.matches({ executing: 'implementing' })) {
    // The call in flight is the last message, its placeholders filled from `a`'s result.
    expect(callOf(task!, messages)).toBe(messages.at(-1));
    expect(context.gathered).toHaveLength(task!.context.length);
    if (task!.id === 'b') expect(callOf(task!, messages)).toMatchObject({ args: { text: 1 } });
  }
  // Only results a subtask still to run reads are kept.
  const readLater = new Set(context.breakdown.slice(context.index).flatMap((entry) => JSON.stringify(entry.args).match(/tasks\.(\w+)/g) ?? []).map((ref) => ref.slice('tasks.'.length)));
  for (const id of Object.keys(context.results)) expect(readLater.has(id), `result of ${id} kept`).toBe(true);

  if (snapshot.matches('executing') || snapshot.matches('synthesizing')) {
    expect(emitted.filter((event) => event.type === 'run.breakdown')).toHaveLength(1);
  }
  if (snapshot.matches('failed')) {
    expect(snapshot.status).toBe('done');
    expect(snapshot.output?.error?.message).toBeTruthy();
    // After a task fails, every task after it is reported skipped, none is left pending.
    if (emitted.some((event) => event.type === 'task.failed')) {
      const notRun = emitted.filter((event) => event.type === 'task.skipped' && event.reason.startsWith('not run'));
      expect(notRun.map((event) => 'task' in event && event.task.id)).toEqual(context.breakdown.slice(context.index + 1).map((entry) => entry.id));
    }
  }
  if (snapshot.matches('finalOutput')) {
    expect(snapshot.status).toBe('done');
    expect(snapshot.output).toEqual({ output: 'final output' });
    // Every task completed, or was optional and skipped (reduced functionality).
    for (const entry of context.breakdown) {
      const outcome = taskEvents(emitted, entry.id).find((event) => event.type === 'task.completed' || event.type === 'task.skipped');
      expect(outcome, entry.id).toBeDefined();
      if (outcome!.type === 'task.skipped') expect(entry.optional).toBe(true);
    }
  }
}
