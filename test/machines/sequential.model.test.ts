/**
 * Model-based tests of the sequential machine: paths are generated from the
 * machine with @xstate/graph, each path is replayed on a live actor whose
 * servers are recording fakes, and every step checks what the machine did.
 * The suite fails when any state or transition of the definition is never
 * reached by the generated paths.
 */
import { createActor, fromPromise, type SnapshotFrom } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { ToolInfo, ToolResult } from '../../src/core/results.js';
import type { Workflow } from '../../src/core/workflow.js';
import { sequentialMachine, type SequentialEvent, type SequentialInput } from '../../machines/sequential.machine.js';
import { createCoverage, createMachineModel, listEdgePaths } from '../support/transition-coverage.js';
import { createRecordingServer, type RecordedCommand } from './fake-server.js';

const stdio = (name: string) => ({ kind: 'stdio' as const, replicas: 1, command: 'node', args: [`${name}.js`], env: {}, cwd: '/tmp' });
const tools: ToolInfo[] = [{ name: 'echo' }, { name: 'plan' }];

/** Two servers, a planner, a task that reads context and one that reads an earlier result. */
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
    // Optional: when its server is unavailable it is skipped (reduced functionality), not failed.
    { id: 'b', server: 'beta', tool: 'echo', args: { text: '{{ tasks.a.json.x }}' }, context: [{ server: 'alpha', uri: 'fixture://one' }], optional: true },
  ],
};
/** No planner: the breakdown is the file's own list. */
const fixed: Workflow = { ...planned, plan: undefined, servers: { alpha: stdio('alpha') }, tasks: [planned.tasks[0]!] };

const result = (text: string, json?: unknown, isError = false): ToolResult => ({ text, json, isError, content: [{ type: 'text', text }] });
type Snapshot = SnapshotFrom<typeof sequentialMachine>;

/** The events the outside world can send in each state: server replies, failures, cancellation. */
function eventsFor(snapshot: Snapshot): SequentialEvent[] {
  const { context } = snapshot;
  if (snapshot.matches('initializing')) {
    const waiting = Object.keys(context.workflow.servers).filter((name) => !(name in context.tools));
    return [
      ...waiting.map((server) => ({ type: 'server.ready' as const, server, replica: 1, tools })),
      // A server without the `echo` tool: the breakdown must be refused before anything runs.
      ...waiting.filter((server) => server === 'alpha').map((server) => ({ type: 'server.ready' as const, server, replica: 1, tools: [{ name: 'plan' }] })),
      ...waiting.slice(0, 1).map((server) => ({ type: 'server.unavailable' as const, server, replica: 1, error: { code: 'SERVER_START_FAILED' as const, message: `${server} did not start`, server } })),
      { type: 'run.cancel', reason: 'user' },
      { type: 'run.notify', notification: { level: 'warning', message: 'a fallback took over', server: 'alpha' } },
    ];
  }
  if (snapshot.matches({ planning: 'askingPlanner' })) {
    const reply = { server: 'beta', callId: 'plan', durationMs: 1 };
    return [
      { type: 'server.result', ...reply, result: result('[…]', [{ id: 'p', server: 'alpha', tool: 'echo', args: { text: 'planned' } }]) },
      { type: 'server.result', ...reply, result: result('[…]', [{ id: 'p', server: 'nowhere', tool: 'echo' }]) },
      { type: 'server.result', ...reply, result: result('planner broke', undefined, true) },
      { type: 'server.failed', ...reply, error: { code: 'CALL_TIMEOUT', message: 'planner timed out', server: 'beta' } },
    ];
  }
  const task = context.breakdown[context.index];
  if (snapshot.matches({ executing: 'gettingContext' }) && task) {
    const reply = { server: 'alpha', callId: context.callId, durationMs: 1 };
    return [
      { type: 'server.resource', ...reply, resource: { uri: 'fixture://one', text: 'one', json: undefined } },
      { type: 'server.failed', ...reply, error: { code: 'CALL_FAILED', message: 'no such resource', server: 'alpha' } },
    ];
  }
  if (snapshot.matches({ executing: 'implementing' }) && task) {
    const reply = { server: task.server, callId: context.callId, durationMs: 1 };
    return [
      { type: 'server.result', ...reply, result: result('{"x":1}', { x: 1 }) },
      // `a` answering without the field `b` reads: b's placeholder cannot render.
      ...(task.id === 'a' ? [{ type: 'server.result' as const, ...reply, result: result('plain') }] : []),
      { type: 'server.result', ...reply, result: result('tool said no', undefined, true) },
      { type: 'server.failed', ...reply, error: { code: 'SERVER_UNAVAILABLE', message: 'process exited', server: task.server } },
      { type: 'run.cancel', reason: 'user' },
    ];
  }
  if (snapshot.matches('synthesizing')) {
    return [
      { type: 'xstate.done.actor.synthesize', output: 'final output' } as unknown as SequentialEvent,
      { type: 'xstate.error.actor.synthesize', error: new Error('output template failed') } as unknown as SequentialEvent,
    ];
  }
  return [];
}

// Timestamps are not part of the model's state.
const serializeState = (snapshot: Snapshot) => {
  const { startedAt: _startedAt, ...context } = snapshot.context;
  return JSON.stringify({ value: snapshot.value, context });
};

const model = createMachineModel(sequentialMachine);
const paths = [planned, fixed].flatMap((workflow) =>
  listEdgePaths(model.getShortestPaths({ input: { runId: 'r', workflow } satisfies SequentialInput, events: eventsFor, serializeState }), eventsFor, serializeState).map((path) => ({ workflow, path })),
);

const coverage = createCoverage(sequentialMachine);

describe('sequential machine, model-based', () => {
  afterAll(() => {
    // Runs after every path: the generated paths must cover the whole definition.
    expect(coverage.missingStates(), 'states no path reached').toEqual([]);
    expect(coverage.missingTransitions(), 'transitions no path took').toEqual([]);
  });

  it('generates paths for both workflows', () => {
    expect(paths.length).toBeGreaterThan(20);
  });

  for (const { workflow, path } of paths) {
    it(`${workflow.plan ? 'planned' : 'fixed'}: ${path.description}`, () => {
      const commands: RecordedCommand[] = [];
      const machine = sequentialMachine.provide({
        actors: {
          server: createRecordingServer(commands),
          // Never settles by itself: the path sends its done/error event, as the model says.
          synthesize: fromPromise(() => new Promise<string>(() => undefined)),
        },
      });
      const emitted: string[] = [];
      const actor = createActor(machine, { input: { runId: 'r', workflow }, inspect: coverage.inspect });
      actor.on('*', (event) => emitted.push(event.type));
      actor.start();

      for (const event of path.events) actor.send(event);
      const snapshot = actor.getSnapshot();
      if (path.expected) expect(snapshot.value).toEqual(path.expected.value);
      checkInvariants(snapshot, commands, emitted);
      actor.stop();
    });
  }
});

/** What must hold in whichever state a path ends. */
function checkInvariants(snapshot: Snapshot, commands: RecordedCommand[], emitted: string[]): void {
  const { context } = snapshot;
  const task = context.breakdown[context.index];
  if (snapshot.matches({ executing: 'implementing' }) && task) {
    const last = commands.at(-1)!;
    expect(last.server).toBe(task.server);
    expect(last.command).toMatchObject({ type: 'server.call', tool: task.tool, callId: `${task.id}#call`, args: context.args });
    if (task.id === 'b') expect(context.args).toEqual({ text: 1 });
  }
  if (snapshot.matches({ executing: 'gettingContext' }) && task) {
    expect(commands.at(-1)!.command).toMatchObject({ type: 'server.read', uri: task.context[context.gathered.length]!.uri });
  }
  if (snapshot.matches({ planning: 'askingPlanner' })) {
    expect(commands.at(-1)).toEqual({ server: 'beta', command: { type: 'server.call', callId: 'plan', tool: 'plan', args: {} } });
  }
  if (snapshot.matches('failed')) {
    expect(snapshot.status).toBe('done');
    expect(snapshot.output?.error?.message).toBeTruthy();
    // Every task after the failing one is reported skipped, none is left pending.
    const skipped = emitted.filter((type) => type === 'task.skipped').length;
    const failedTasks = emitted.filter((type) => type === 'task.failed').length;
    if (failedTasks > 0) expect(skipped).toBe(context.breakdown.length - context.index - 1);
  }
  if (snapshot.matches('finalOutput')) {
    expect(snapshot.output).toEqual({ output: 'final output' });
    expect(emitted.filter((type) => type === 'task.completed')).toHaveLength(context.breakdown.length);
  }
  if (snapshot.matches('executing') || snapshot.matches('synthesizing')) {
    expect(emitted).toContain('run.breakdown');
  }
}
