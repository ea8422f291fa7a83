/**
 * Model-based tests of the parallel machine: paths generated with
 * @xstate/graph over four workflows (group-by-group or eager, stop or
 * continue on error), replayed on a live actor whose servers and task
 * actors are recording fakes. Every step checks the scheduling invariants;
 * the suite fails if a state or transition is never reached.
 */
import { createActor, fromCallback, fromPromise, type SnapshotFrom } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { ToolInfo, ToolResult } from '../../src/core/results.js';
import type { Workflow } from '../../src/core/workflow.js';
import { parallelMachine, type ParallelEvent } from '../../machines/parallel.machine.js';
import type { TaskActorInput } from '../../machines/task.machine.js';
import { createCoverage, createMachineModel, listEdgePaths } from '../support/transition-coverage.js';
import { createRecordingServer, type RecordedCommand } from './fake-server.js';

const stdio = (name: string, replicas: number) => ({ kind: 'stdio' as const, command: 'node', args: [`${name}.js`], env: {}, cwd: '/tmp', replicas });
const tools: ToolInfo[] = [{ name: 'work' }, { name: 'plan' }];
const task = (id: string, server: string, needs: string[] = []) => ({ id, server, tool: 'work', args: {}, context: [], needs });

/** `a` and `b` run side by side on alpha's two replicas; `c` needs `a` and runs on beta. */
const base: Workflow = {
  name: 'model',
  dir: '/tmp',
  timeoutMs: 1000,
  pattern: 'parallel',
  onError: 'stop',
  schedule: 'groups',
  servers: { alpha: stdio('alpha', 2), beta: stdio('beta', 1) },
  tasks: [task('a', 'alpha'), task('b', 'alpha'), task('c', 'beta', ['a'])],
};
const workflows: Record<string, Workflow> = {
  'groups, stop, planner': { ...base, plan: { server: 'beta', tool: 'plan', args: {} }, tasks: [task('a', 'alpha'), task('b', 'alpha', ['a'])] },
  'groups, continue': { ...base, onError: 'continue' },
  'eager, stop': { ...base, schedule: 'eager', concurrency: 2 },
  'eager, continue': { ...base, schedule: 'eager', onError: 'continue' },
};

type Snapshot = SnapshotFrom<typeof parallelMachine>;
const ok = (text: string): ToolResult => ({ text, json: undefined, isError: false, content: [] });

function eventsFor(snapshot: Snapshot): ParallelEvent[] {
  const { context } = snapshot;
  if (snapshot.matches('initializing')) {
    const waiting = Object.entries(context.workflow.servers)
      .flatMap(([server, spec]) => Array.from({ length: spec.replicas }, (_, i) => ({ server, replica: i + 1 })))
      .filter(({ server, replica }) => !context.ready.includes(`${server}#${replica}`));
    return [
      ...waiting.map(({ server, replica }) => ({ type: 'server.ready' as const, server, replica, tools })),
      // beta without the `work` tool: refused before any task runs.
      ...waiting.filter(({ server }) => server === 'beta').map(({ server, replica }) => ({ type: 'server.ready' as const, server, replica, tools: [{ name: 'plan' }] })),
      ...waiting.slice(0, 1).map(({ server, replica }) => ({ type: 'server.unavailable' as const, server, replica, error: { code: 'SERVER_START_FAILED' as const, message: 'no start', server } })),
      { type: 'run.cancel', reason: 'user' },
      { type: 'run.notify', notification: { level: 'warning', message: 'a fallback took over', server: 'alpha' } },
    ];
  }
  if (snapshot.matches({ planning: 'askingPlanner' })) {
    const reply = { server: 'beta', callId: 'plan', durationMs: 1 };
    return [
      { type: 'server.result', ...reply, result: { ...ok('plan'), json: [{ id: 'p', server: 'alpha', tool: 'work', needs: ['a'] }] } },
      { type: 'server.result', ...reply, result: { ...ok('plan'), json: [{ id: 'p', server: 'nowhere', tool: 'work' }] } },
      { type: 'server.result', ...reply, result: { ...ok('broke'), isError: true } },
      { type: 'server.failed', ...reply, error: { code: 'CALL_TIMEOUT', message: 'slow planner', server: 'beta' } },
    ];
  }
  const running = Object.entries(context.running);
  const finished = (taskId: string, worker: string, outcome: Extract<ParallelEvent, { type: 'task.finished' }>['outcome']): ParallelEvent => ({ type: 'task.finished', taskId, worker, outcome });
  if (snapshot.matches('cancelling')) {
    return running.map(([id, worker]) => finished(id, worker, { status: 'cancelled', error: { code: 'CANCELLED', message: 'stopping' }, durationMs: 1 }));
  }
  if (snapshot.matches({ executing: 'executingGroup' }) || snapshot.matches({ executing: 'flowing' })) {
    const events: ParallelEvent[] = running.flatMap(([id, worker]) => [
      finished(id, worker, { status: 'completed', result: ok(id), durationMs: 1 }),
      finished(id, worker, { status: 'failed', error: { code: 'TOOL_ERROR', message: `${id} failed`, task: id }, durationMs: 1 }),
      // An optional task nothing could serve.
      finished(id, worker, { status: 'skipped', reason: 'server unavailable', durationMs: 1 }),
    ]);
    if (snapshot.matches({ executing: 'executingGroup' })) events.push({ type: 'xstate.after.groupTimeout.parallel.executing.executingGroup' } as unknown as ParallelEvent);
    if (context.groupIndex === 0 && running.length > 0) events.push({ type: 'run.cancel', reason: 'user' });
    return events;
  }
  if (snapshot.matches('combiningResults')) {
    return [
      { type: 'xstate.done.actor.synthesize', output: 'combined' } as unknown as ParallelEvent,
      { type: 'xstate.error.actor.synthesize', error: new Error('bad output template') } as unknown as ParallelEvent,
    ];
  }
  return [];
}

const model = createMachineModel(parallelMachine);
const coverage = createCoverage(parallelMachine);
const paths = Object.entries(workflows).flatMap(([name, workflow]) =>
  listEdgePaths(model.getShortestPaths({ input: { runId: 'r', workflow }, events: eventsFor }), eventsFor).map((path) => ({ name, workflow, path })),
);

describe('parallel machine, model-based', () => {
  afterAll(() => {
    expect(coverage.missingStates(), 'states no path reached').toEqual([]);
    expect(coverage.missingTransitions(), 'transitions no path took').toEqual([]);
  });

  it('generates paths for every workflow', () => {
    for (const name of Object.keys(workflows)) expect(paths.filter((path) => path.name === name).length, name).toBeGreaterThan(5);
  });

  for (const { name, workflow, path } of paths) {
    it(`${name}: ${path.description}`, () => {
      const commands: RecordedCommand[] = [];
      const spawned: TaskActorInput[] = [];
      const cancels: string[] = [];
      const machine = parallelMachine.provide({
        actors: {
          server: createRecordingServer(commands),
          task: fromCallback<{ type: string }, TaskActorInput>(({ input, receive }) => {
            spawned.push(input);
            receive((event) => {
              if (event.type === 'task.cancel') cancels.push(input.task.id);
            });
          }) as never,
          synthesize: fromPromise(() => new Promise<string>(() => undefined)),
        },
      });
      const emitted: { type: string; task?: { id: string } }[] = [];
      const actor = createActor(machine, { input: { runId: 'r', workflow }, inspect: coverage.inspect });
      actor.on('*', (event) => emitted.push(event as never));
      actor.start();
      for (const event of path.events) actor.send(event);
      const snapshot = actor.getSnapshot();
      if (path.expected) expect(snapshot.value).toEqual(path.expected.value);
      checkInvariants(snapshot, spawned, cancels, emitted);
      actor.stop();
    });
  }
});

function checkInvariants(snapshot: Snapshot, spawned: TaskActorInput[], cancels: string[], emitted: { type: string; task?: { id: string } }[]): void {
  const { context } = snapshot;
  const running = Object.entries(context.running);
  // Never more in flight than the concurrency limit, and never two tasks on one replica.
  expect(running.length).toBeLessThanOrEqual(context.concurrency);
  expect(new Set(running.map(([, worker]) => worker)).size).toBe(running.length);
  for (const [id, worker] of running) {
    expect(context.status[id]).toBe('running');
    // Each running task was spawned on the replica the machine says, of its own server.
    const input = spawned.filter((entry) => entry.task.id === id).at(-1)!;
    expect(input.worker.id).toBe(worker);
    expect(worker.startsWith(`${input.task.server}#`)).toBe(true);
    // It only started once everything it needs had completed.
    for (const need of context.needs[id] ?? []) expect(context.status[need]).toBe('completed');
    if (context.workflow.schedule === 'groups' && snapshot.matches('executing')) expect(context.groups[context.groupIndex]).toContain(id);
  }
  // An idle replica is not also running a task.
  const idle = Object.values(context.idle).flat();
  for (const [, worker] of running) expect(idle).not.toContain(worker);
  if (snapshot.matches('failed')) {
    expect(snapshot.output?.error?.message).toBeTruthy();
    expect(Object.values(context.status).every((status) => status !== 'pending' && status !== 'running')).toBe(true);
  }
  if (snapshot.matches('cancelling')) {
    for (const [id] of running) expect(cancels).toContain(id);
  }
  if (snapshot.matches('finalOutput')) {
    expect(snapshot.output).toEqual({ output: 'combined' });
    // Completed, or optional and skipped: reduced functionality still ends well.
    expect(Object.values(context.status).every((status) => status === 'completed' || status === 'skipped')).toBe(true);
  }
  // Every task.started on the bus matches a spawned task actor.
  expect(emitted.filter((event) => event.type === 'task.started').length).toBe(spawned.length);
}
