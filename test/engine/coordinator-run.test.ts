/**
 * The multi-server coordinator on real processes: the fixture server and the
 * ledger fixture (a tiny database). Order and overlap are read from the bus.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runWorkflow, type BusEvent, type RunReport } from '../../src/index.js';
import { formatProgress, formatServerSummary } from '../../src/cli/progress.js';
import { eventsOf, taskOf } from '../support/bus-record.js';
import { createTempDir, fixtureServer, ROOT } from '../support/fixture.js';

const LEDGER = join(ROOT, 'test/fixtures/ledger-server.mjs');
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function tempDir(): string {
  const temp = createTempDir('ensemble-coordinator-');
  cleanups.push(temp.remove);
  return temp.dir;
}

const ledger = (db: string, extra: Record<string, unknown> = {}) => ({ command: process.execPath, args: [LEDGER, '--db', db], ...extra });
const rowsIn = (db: string): { id: number; name: string }[] => (existsSync(db) ? JSON.parse(readFileSync(db, 'utf8')).rows : []);

async function run(document: Record<string, unknown>): Promise<{ report: RunReport; events: BusEvent[] }> {
  const events: BusEvent[] = [];
  const report = await runWorkflow({ name: 'coordinator-test', ...document }, { onEvent: (event) => events.push(event) });
  return { report, events };
}

const finishedAt = (events: BusEvent[], id: string) => events.findIndex((event) => (event.type === 'task.completed' || event.type === 'task.failed') && event.task.id === id);
const startedAt = (events: BusEvent[], id: string) => events.findIndex((event) => event.type === 'task.started' && event.task.id === id);

describe('saga: compensations after a later task fails', () => {
  it('undoes the completed tasks in reverse order, on the bus and in the report, and the rows are gone', async () => {
    const db = join(tempDir(), 'rows.json');
    const { report, events } = await run({
      servers: { db: ledger(db), fx: fixtureServer() },
      tasks: [
        { id: 'first', server: 'db', tool: 'insert', args: { name: 'alice' }, compensate: { server: 'db', tool: 'delete', args: { id: '{{ result.json.id }}' } } },
        { id: 'second', server: 'db', tool: 'insert', args: { name: 'bob' }, compensate: { server: 'db', tool: 'delete', args: { id: '{{ result.json.id }}' } } },
        { id: 'api', server: 'fx', tool: 'fail', args: { message: 'api refused {{ tasks.second.json.name }}' } },
      ],
    });
    expect(report.pattern).toBe('multi-server');
    expect(report.status).toBe('failed');
    expect(taskOf(report, 'api').status).toBe('failed');
    expect(report.compensations).toEqual([
      { task: 'second', server: 'db', tool: 'delete', status: 'compensated', text: 'deleted row 2' },
      { task: 'first', server: 'db', tool: 'delete', status: 'compensated', text: 'deleted row 1' },
    ]);
    expect(eventsOf(events, 'task.compensated').map((event) => event.task.id)).toEqual(['second', 'first']);
    // Compensation comes after the failure, never before.
    expect(events.findIndex((event) => event.type === 'task.compensated')).toBeGreaterThan(finishedAt(events, 'api'));
    expect(rowsIn(db)).toEqual([]);
    // The CLI shows each undo as it happens.
    expect(formatProgress(eventsOf(events, 'task.compensated')[0]!)).toMatch(/^ {2}↺ second {2}compensated by db\.delete {2}/);
  });

  it('reports a compensation that fails and still runs the ones below it', async () => {
    const db = join(tempDir(), 'rows.json');
    const { report, events } = await run({
      servers: { db: ledger(db), fx: fixtureServer() },
      tasks: [
        { id: 'kept', server: 'db', tool: 'insert', args: { name: 'alice' }, compensate: { server: 'db', tool: 'delete', args: { id: '{{ result.json.id }}' } } },
        { id: 'wrong', server: 'db', tool: 'insert', args: { name: 'bob' }, compensate: { server: 'db', tool: 'delete', args: { id: 99 } } },
        { id: 'api', server: 'fx', tool: 'fail' },
      ],
    });
    expect(report.status).toBe('failed');
    expect(report.compensations?.map((entry) => [entry.task, entry.status])).toEqual([
      ['wrong', 'failed'],
      ['kept', 'compensated'],
    ]);
    expect(eventsOf(events, 'task.compensation_failed')[0]).toMatchObject({ task: { id: 'wrong' }, error: { code: 'TOOL_ERROR' } });
    expect(rowsIn(db)).toEqual([{ id: 2, name: 'bob' }]);
    expect(formatProgress(eventsOf(events, 'task.compensation_failed')[0]!)).toContain('✗ wrong  compensation db.delete failed: compensation of task "wrong": db.delete returned an error: no row 99');
  });

  it('runs no compensation when every task completes', async () => {
    const db = join(tempDir(), 'rows.json');
    const { report, events } = await run({
      servers: { db: ledger(db), fx: fixtureServer() },
      tasks: [
        { id: 'row', server: 'db', tool: 'insert', args: { name: 'alice' }, compensate: { server: 'db', tool: 'delete', args: { id: '{{ result.json.id }}' } } },
        { id: 'api', server: 'fx', tool: 'echo', args: { text: 'row {{ tasks.row.json.id }}' } },
      ],
    });
    expect(report.status).toBe('completed');
    expect(taskOf(report, 'api').text).toBe('row 1');
    expect(report.compensations).toBeUndefined();
    expect(eventsOf(events, 'task.compensated')).toEqual([]);
    expect(rowsIn(db)).toEqual([{ id: 1, name: 'alice' }]);
  });
});

describe('routing by capability', () => {
  it('sends a task that names only a tool to the first declared server offering it', async () => {
    const db = join(tempDir(), 'rows.json');
    const { report, events } = await run({
      servers: { db: ledger(db), one: fixtureServer(), two: fixtureServer() },
      tasks: [
        { id: 'row', tool: 'insert', args: { name: 'carol' } },
        { id: 'say', server: 'any', tool: 'echo', args: { text: 'id {{ tasks.row.json.id }}' } },
      ],
    });
    expect(report.status).toBe('completed');
    expect(taskOf(report, 'row').server).toBe('db');
    expect(taskOf(report, 'say')).toMatchObject({ server: 'one', text: 'id 1' });
    expect(eventsOf(events, 'run.breakdown')[0]!.tasks.map((task) => task.server)).toEqual(['db', 'one']);
  });

  it('fails before any task runs when no server offers the tool', async () => {
    const { report, events } = await run({
      servers: { one: fixtureServer() },
      tasks: [{ id: 'nothing', tool: 'teleport' }],
    });
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'UNKNOWN_TOOL' });
    expect(report.error?.message).toContain('no live server offers tool "teleport"');
    expect(eventsOf(events, 'task.started')).toEqual([]);
  });
});

describe('servers together, each within its limit', () => {
  it('runs independent tasks of different servers at once', async () => {
    const dir = tempDir();
    const flag = join(dir, 'flag');
    // The ledger answers only once the fixture has written the file: in turn, this would never finish.
    const { report } = await run({
      servers: { db: ledger(join(dir, 'rows.json')), fx: fixtureServer() },
      tasks: [
        { id: 'wait', server: 'db', tool: 'wait_for_file', args: { path: flag }, needs: [] },
        { id: 'write', server: 'fx', tool: 'write_file', args: { path: flag, content: 'x' }, needs: [] },
        { id: 'after', server: 'fx', tool: 'echo', args: { text: '{{ tasks.wait.text }}' } },
      ],
    });
    expect(report.pattern).toBe('multi-server');
    expect(report.status).toBe('completed');
    expect(taskOf(report, 'after').text).toBe(`found ${flag}`);
  });

  it('keeps a server with maxConcurrent 1 to one task at a time', async () => {
    const dir = tempDir();
    const { report, events } = await run({
      pattern: 'multi-server',
      servers: { db: ledger(join(dir, 'rows.json')), fx: fixtureServer() },
      tasks: [
        { id: 'a', server: 'db', tool: 'insert', args: { name: 'a' }, needs: [] },
        { id: 'b', server: 'db', tool: 'insert', args: { name: 'b' }, needs: [] },
        { id: 'c', server: 'db', tool: 'insert', args: { name: 'c' }, needs: [] },
      ],
    });
    expect(report.status).toBe('completed');
    expect(startedAt(events, 'b')).toBeGreaterThan(finishedAt(events, 'a'));
    expect(startedAt(events, 'c')).toBeGreaterThan(finishedAt(events, 'b'));
  });

  it('lets a server with maxConcurrent 2 take two of its tasks at once', async () => {
    const dir = tempDir();
    const flag = join(dir, 'flag');
    const { report } = await run({
      servers: { db: ledger(join(dir, 'rows.json'), { maxConcurrent: 2 }), fx: fixtureServer() },
      tasks: [
        { id: 'wait', server: 'db', tool: 'wait_for_file', args: { path: flag }, needs: [] },
        { id: 'touch', server: 'db', tool: 'touch', args: { path: flag }, needs: [] },
        { id: 'say', server: 'fx', tool: 'echo', args: { text: '{{ tasks.wait.text }}' } },
      ],
    });
    expect(report.status).toBe('completed');
    expect(taskOf(report, 'say').text).toBe(`found ${flag}`);
  });
});

describe("each server's share of the run", () => {
  it('counts calls, errors and tasks per server, with its state, in the report and the summary lines', async () => {
    const db = join(tempDir(), 'rows.json');
    const { report } = await run({
      servers: { db: ledger(db), fx: fixtureServer(), idle: fixtureServer() },
      onError: 'continue',
      tasks: [
        { id: 'row', server: 'db', tool: 'insert', args: { name: 'dan' } },
        { id: 'say', server: 'fx', tool: 'echo', args: { text: '{{ tasks.row.json.name }}' } },
        { id: 'oops', server: 'fx', tool: 'fail', needs: [] },
      ],
    });
    expect(report.status).toBe('failed');
    const byName = Object.fromEntries((report.servers ?? []).map((share) => [share.name, share]));
    expect(Object.keys(byName)).toEqual(['db', 'fx', 'idle']);
    expect(byName.db).toMatchObject({ state: 'serving', calls: 1, errors: 0, tasks: ['row'], servedBy: ['db'] });
    expect(byName.fx).toMatchObject({ state: 'serving', calls: 2, errors: 1 });
    expect(byName.fx!.tasks.sort()).toEqual(['oops', 'say']);
    expect(byName.idle).toMatchObject({ calls: 0, tasks: [] });
    const lines = formatServerSummary(report);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/db\s+serving\s+1 call, 0 errors, .* \(tasks: row\)/);
  });
});
