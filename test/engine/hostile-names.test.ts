/**
 * Regression tests for names that collide with the engine's own (issue 8):
 * a server named `synthesize` was said to replace the synthesizer's child and
 * leak its process; names like `constructor` and `toString` were looked up as
 * inherited properties (a server named `constructor` crashed the process).
 * Each runs real fixture processes and checks none is left.
 */
import { describe, expect, it, vi } from 'vitest';
import { listLiveGroups } from '../../actors/process-group.js';
import { runWorkflow, type BusEvent } from '../../src/index.js';
import { eventsOf } from '../support/bus-record.js';
import { fixtureServer, isProcessAlive } from '../support/fixture.js';

async function runAndWatch(document: Record<string, unknown>, pattern: 'sequential' | 'parallel') {
  const events: BusEvent[] = [];
  const report = await runWorkflow({ name: 'names', ...document }, { pattern, onEvent: (event) => events.push(event) });
  const pids = eventsOf(events, 'server.state').flatMap((event) => (event.pid !== undefined ? [event.pid] : []));
  return { report, events, pids: [...new Set(pids)] };
}

async function expectNoProcessLeft(pids: number[]): Promise<void> {
  expect(pids.length).toBeGreaterThan(0);
  await vi.waitFor(() => {
    for (const pid of pids) expect(isProcessAlive(pid), `server ${pid} alive`).toBe(false);
  });
  expect(listLiveGroups()).toEqual([]);
}

describe.each(['sequential', 'parallel'] as const)('%s runs', (pattern) => {
  it('a server named synthesize runs its tasks, the run synthesizes its output, and no process is left', async () => {
    const { report, pids } = await runAndWatch(
      {
        servers: { synthesize: fixtureServer(), serverPort: fixtureServer() },
        tasks: [
          { id: 'synthesize', server: 'synthesize', tool: 'echo', args: { text: 'one' } },
          { id: 'serverPort', server: 'serverPort', tool: 'echo', args: { text: '{{ tasks.synthesize.text }} two' } },
        ],
        output: '{{ tasks.serverPort.text }}',
      },
      pattern,
    );
    expect(report.status).toBe('completed');
    expect(report.output).toBe('one two');
    expect(pids).toHaveLength(2);
    await expectNoProcessLeft(pids);
  });

  it('a server named constructor with tasks named constructor and toString runs, reading one result from the other', async () => {
    const { report, pids } = await runAndWatch(
      {
        servers: { constructor: fixtureServer(), toString: fixtureServer() },
        tasks: [
          { id: 'constructor', server: 'constructor', tool: 'json', args: { value: { valueOf: 'mine' } } },
          { id: 'toString', server: 'toString', tool: 'echo', args: { text: 'got {{ tasks.constructor.json.valueOf }}' } },
          { id: 'hasOwnProperty', server: 'constructor', tool: 'echo', args: { text: '{{ tasks.toString.text }}!' } },
        ],
      },
      pattern,
    );
    expect(report.status).toBe('completed');
    expect(report.tasks.map((task) => [task.id, task.text])).toEqual([
      ['constructor', '{"valueOf":"mine"}'],
      ['toString', 'got mine'],
      ['hasOwnProperty', 'got mine!'],
    ]);
    await expectNoProcessLeft(pids);
  });

  it('{{ tasks.x.json.constructor }} fails the task with a template error instead of sending a function', async () => {
    const { report, pids } = await runAndWatch(
      {
        servers: { fx: fixtureServer() },
        tasks: [
          { id: 'x', server: 'fx', tool: 'json', args: { value: { a: 1 } } },
          { id: 'y', server: 'fx', tool: 'echo', args: { text: '{{ tasks.x.json.constructor }}' } },
        ],
      },
      pattern,
    );
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'TEMPLATE', task: 'y' });
    expect(report.tasks.find((task) => task.id === 'x')?.status).toBe('completed');
    await expectNoProcessLeft(pids);
  });
});
