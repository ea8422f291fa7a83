/**
 * Parallel runs on pools of real fixture processes. Order is read from the
 * bus: which task started before which other finished.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRun, loadWorkflow, runWorkflow, type BusEvent, type RunReport } from '../../src/index.js';
import { createTempDir, fixtureServer } from '../support/fixture.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

async function run(document: Record<string, unknown>, options: { pattern?: 'sequential' | 'parallel' } = {}): Promise<{ report: RunReport; events: BusEvent[] }> {
  const events: BusEvent[] = [];
  // Traced: per-call events say which replica served each call.
  const report = await runWorkflow({ name: 'parallel-test', ...document }, { onEvent: (event) => events.push(event), trace: true, ...options });
  return { report, events };
}

/** Position of the first event of a type for a task. */
function indexOf(events: BusEvent[], type: 'task.started' | 'task.completed' | 'task.failed' | 'task.skipped', id: string): number {
  const index = events.findIndex((event) => event.type === type && event.task.id === id);
  expect(index, `${type} ${id}`).toBeGreaterThanOrEqual(0);
  return index;
}

const finished = (events: BusEvent[], id: string) =>
  events.findIndex((event) => (event.type === 'task.completed' || event.type === 'task.failed') && event.task.id === id);

/** The most tasks in flight at once, replaying the bus. */
function maxInFlight(events: BusEvent[]): number {
  let now = 0;
  let most = 0;
  for (const event of events) {
    if (event.type === 'task.started') most = Math.max(most, ++now);
    if (event.type === 'task.completed' || event.type === 'task.failed') now--;
  }
  return most;
}

describe('parallel execution on a pool of three replicas', () => {
  it('overlaps the tasks of a group and starts no task of the next group before the group finished', async () => {
    const sleep = (id: string, ms: number, needs?: string[]) => ({ id, server: 'fx', tool: 'sleep', args: { ms, text: id }, ...(needs ? { needs } : {}) });
    const { report, events } = await run({
      servers: { fx: { ...fixtureServer(), replicas: 3 } },
      tasks: [sleep('a', 200), sleep('b', 200), sleep('c', 200), sleep('d', 50, ['a']), sleep('e', 50, ['b', 'c']), { id: 'pids', server: 'fx', tool: 'pids', needs: ['d', 'e'] }],
    });
    expect(report.status).toBe('completed');
    expect(report.pattern).toBe('parallel');
    expect(events.find((event) => event.type === 'run.breakdown')).toMatchObject({ groups: [['a', 'b', 'c'], ['d', 'e'], ['pids']] });

    // Group 1 overlapped: every task of it started before any of it finished.
    const firstFinish = Math.min(...['a', 'b', 'c'].map((id) => finished(events, id)));
    for (const id of ['a', 'b', 'c']) expect(indexOf(events, 'task.started', id)).toBeLessThan(firstFinish);
    // Synchronization point: group 2 starts only after all of group 1 finished.
    const lastOfGroup1 = Math.max(...['a', 'b', 'c'].map((id) => finished(events, id)));
    for (const id of ['d', 'e']) expect(indexOf(events, 'task.started', id)).toBeGreaterThan(lastOfGroup1);
    const sync = events.findIndex((event) => event.type === 'run.group' && event.index === 0 && event.phase === 'synchronized');
    expect(sync).toBeGreaterThan(lastOfGroup1);
    expect(sync).toBeLessThan(indexOf(events, 'task.started', 'd'));

    // Three workers ran group 1, and the directory sent their calls to three different replicas.
    const workers = events.filter((event): event is Extract<BusEvent, { type: 'task.started' }> => event.type === 'task.started' && ['a', 'b', 'c'].includes(event.task.id)).map((event) => event.worker);
    expect(new Set(workers)).toEqual(new Set(['worker:fx:1', 'worker:fx:2', 'worker:fx:3']));
    const replicas = events.filter((event): event is Extract<BusEvent, { type: 'server.call.result' }> => event.type === 'server.call.result' && ['a', 'b', 'c'].includes(event.task ?? '')).map((event) => event.replica);
    expect(new Set(replicas)).toEqual(new Set([1, 2, 3]));
    // Results combine in declared order, whatever order they finished in.
    expect(report.tasks.map((task) => task.id)).toEqual(['a', 'b', 'c', 'd', 'e', 'pids']);
    expect(report.output.split('\n').slice(0, 5)).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('honours the run-wide concurrency limit', async () => {
    const { report, events } = await run({
      concurrency: 2,
      servers: { fx: { ...fixtureServer(), replicas: 3 } },
      tasks: ['a', 'b', 'c', 'd'].map((id) => ({ id, server: 'fx', tool: 'sleep', args: { ms: 100 }, needs: [] as string[] })).map((task, index) => (index === 0 ? task : { ...task, needs: [] })),
      pattern: 'parallel',
    });
    expect(report.status).toBe('completed');
    expect(maxInFlight(events)).toBe(2);
  });

  it('runs tasks on different servers at the same time', async () => {
    const { report, events } = await run({
      servers: { left: fixtureServer('--name', 'left'), right: fixtureServer('--name', 'right') },
      tasks: [
        { id: 'l', server: 'left', tool: 'sleep', args: { ms: 200 }, needs: [] },
        { id: 'r', server: 'right', tool: 'sleep', args: { ms: 200 } },
      ],
    });
    expect(report.pattern).toBe('parallel');
    expect(maxInFlight(events)).toBe(2);
  });

  it('with schedule: eager, starts a task as soon as its needs are met, before an unrelated slow task finishes', async () => {
    const document = {
      servers: { fx: { ...fixtureServer(), replicas: 2 } },
      tasks: [
        { id: 'slow', server: 'fx', tool: 'sleep', args: { ms: 1500 }, needs: [] },
        { id: 'quick', server: 'fx', tool: 'echo', args: { text: 'q' } },
        { id: 'next', server: 'fx', tool: 'echo', args: { text: '{{ tasks.quick.text }}!' } },
      ],
    };
    const eager = await run({ ...document, schedule: 'eager' });
    expect(eager.report.status).toBe('completed');
    expect(indexOf(eager.events, 'task.started', 'next')).toBeLessThan(finished(eager.events, 'slow'));

    // The default schedule holds `next` at the synchronization point until `slow` is done.
    const grouped = await run(document);
    expect(indexOf(grouped.events, 'task.started', 'next')).toBeGreaterThan(finished(grouped.events, 'slow'));
  });
});

describe('failure policy', () => {
  it('onError: stop cancels tasks in flight (the server sees the cancellation) and skips what needs the failure', async () => {
    const work = createTempDir();
    cleanups.push(work.remove);
    const log = join(work.dir, 'events.jsonl');
    const { report } = await run({
      servers: { fx: { ...fixtureServer('--log-file', log), replicas: 2 } },
      tasks: [
        { id: 'long', server: 'fx', tool: 'hang', needs: [] },
        { id: 'broken', server: 'fx', tool: 'fail', args: { message: 'broken' } },
        { id: 'after', server: 'fx', tool: 'noop', needs: ['broken'] },
      ],
    });
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'TOOL_ERROR', task: 'broken' });
    expect(report.tasks).toMatchObject([
      { id: 'long', status: 'cancelled' },
      { id: 'broken', status: 'failed', isError: true },
      { id: 'after', status: 'skipped' },
    ]);
    await vi.waitFor(() => expect(readFileSync(log, 'utf8')).toContain('"event":"cancelled"'));
  });

  it('onError: continue finishes the independent tasks and reports the rest skipped', async () => {
    const { report } = await run({
      onError: 'continue',
      servers: { fx: { ...fixtureServer(), replicas: 2 } },
      tasks: [
        { id: 'bad', server: 'fx', tool: 'fail', args: { message: 'nope' }, needs: [] },
        { id: 'fine', server: 'fx', tool: 'echo', args: { text: 'done anyway' } },
        { id: 'needsBad', server: 'fx', tool: 'noop', needs: ['bad'] },
        { id: 'needsFine', server: 'fx', tool: 'echo', args: { text: '{{ tasks.fine.text }} too' } },
      ],
    });
    expect(report.status).toBe('failed');
    expect(report.tasks.map((task) => [task.id, task.status])).toEqual([
      ['bad', 'failed'],
      ['fine', 'completed'],
      ['needsBad', 'skipped'],
      ['needsFine', 'completed'],
    ]);
    expect(report.tasks[3]!.text).toBe('done anyway too');
  });

  it('cancelling the run cancels every task in flight', async () => {
    const run = createRun(
      await loadWorkflow({
        name: 'cancel-parallel',
        servers: { fx: { ...fixtureServer(), replicas: 2 } },
        tasks: [
          { id: 'x', server: 'fx', tool: 'hang', needs: [] },
          { id: 'y', server: 'fx', tool: 'hang' },
        ],
      }),
    );
    let started = 0;
    run.events$.subscribe((event) => {
      if (event.type === 'task.started' && ++started === 2) run.cancel('stop now');
    });
    const report = await run.start();
    expect(report.error?.code).toBe('CANCELLED');
    expect(report.tasks.map((task) => task.status)).toEqual(['cancelled', 'cancelled']);
  });
});

describe('forcing a pattern', () => {
  it('forcing sequential on a parallel workflow runs every task, in dependency order', async () => {
    const document = {
      servers: { fx: fixtureServer() },
      tasks: [
        // Declared before what it needs: a sequential run must still wait for `base`.
        { id: 'top', server: 'fx', tool: 'echo', args: { text: '{{ tasks.base.text }}+top' }, needs: ['base'] },
        { id: 'base', server: 'fx', tool: 'echo', args: { text: 'base' } },
        { id: 'side', server: 'fx', tool: 'echo', args: { text: 'side' } },
      ],
    };
    const { report, events } = await run(document, { pattern: 'sequential' });
    expect(report.pattern).toBe('sequential');
    expect(report.status).toBe('completed');
    expect(indexOf(events, 'task.started', 'top')).toBeGreaterThan(indexOf(events, 'task.completed', 'base'));
    expect(maxInFlight(events)).toBe(1);
    expect(report.tasks.map((task) => [task.id, task.text])).toEqual([
      ['top', 'base+top'],
      ['base', 'base'],
      ['side', 'side'],
    ]);
  });
});
