/**
 * Closing a server ends its whole process group: the server and whatever it
 * started (as `npx` starts the real server), on every way a run can end.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { listLiveGroups } from '../../actors/process-group.js';
import { createRun, loadWorkflow, runWorkflow, type BusEvent } from '../../src/index.js';
import { createTempDir, fixtureServer, isProcessAlive } from '../support/fixture.js';

interface Pids {
  pid: number;
  grandchild: number | null;
}

/** The server's and its grandchild's pids, from the `pids` task result. */
function pidsOf(report: { tasks: { id: string; json?: unknown }[] }): Pids {
  const pids = report.tasks.find((task) => task.id === 'pids')?.json as Pids | undefined;
  if (!pids?.grandchild) throw new Error('the fixture did not report its grandchild');
  return pids;
}

async function expectGone(pids: Pids): Promise<void> {
  // The kernel delivers SIGKILL at once but reaping is asynchronous: wait on the process table.
  await vi.waitFor(() => {
    expect(isProcessAlive(pids.pid), `server ${pids.pid} alive`).toBe(false);
    expect(isProcessAlive(pids.grandchild!), `grandchild ${pids.grandchild} alive`).toBe(false);
  });
  expect(listLiveGroups()).toEqual([]);
}

const server = () => fixtureServer('--spawn-grandchild');

describe('no orphaned processes', () => {
  it('after a run that completes', async () => {
    const report = await runWorkflow({ name: 'done', servers: { fx: server() }, tasks: [{ id: 'pids', server: 'fx', tool: 'pids' }] });
    expect(report.status).toBe('completed');
    await expectGone(pidsOf(report));
  });

  it('after a run that fails on a tool error', async () => {
    const report = await runWorkflow({
      name: 'fails',
      servers: { fx: server() },
      tasks: [
        { id: 'pids', server: 'fx', tool: 'pids' },
        { id: 'bad', server: 'fx', tool: 'fail' },
      ],
    });
    expect(report.status).toBe('failed');
    await expectGone(pidsOf(report));
  });

  it('after the server process itself crashes (its grandchild is left behind)', async () => {
    const report = await runWorkflow({
      name: 'crash',
      servers: { fx: server() },
      tasks: [
        { id: 'pids', server: 'fx', tool: 'pids' },
        { id: 'boom', server: 'fx', tool: 'crash' },
      ],
    });
    expect(report.error).toMatchObject({ code: 'SERVER_UNAVAILABLE', task: 'boom' });
    await expectGone(pidsOf(report));
  });

  it('after a cancelled run with a call in flight', async () => {
    const work = createTempDir();
    const log = join(work.dir, 'events.jsonl');
    const run = createRun(
      await loadWorkflow({
        name: 'cancel',
        servers: { fx: fixtureServer('--spawn-grandchild', '--log-file', log) },
        tasks: [
          { id: 'pids', server: 'fx', tool: 'pids' },
          { id: 'wait', server: 'fx', tool: 'hang' },
        ],
      }),
    );
    const events: BusEvent[] = [];
    run.events$.subscribe((event) => {
      events.push(event);
      if (event.type === 'task.started' && event.task.id === 'wait') run.cancel('test');
    });
    const report = await run.start();
    expect(report.error?.code).toBe('CANCELLED');
    await expectGone(pidsOf(report));
    expect(readFileSync(log, 'utf8')).toContain('"start"');
    work.remove();
  });

  it('after a server that never answers initialize, when another server fails to start', async () => {
    const work = createTempDir();
    const pidFile = join(work.dir, 'silent.pid');
    const events: BusEvent[] = [];
    const report = await runWorkflow(
      {
        name: 'mixed',
        timeoutMs: 30_000,
        servers: {
          // Never speaks MCP: a process that would linger forever, noting its pid first.
          silent: { command: process.execPath, args: ['-e', `require('fs').writeFileSync(${JSON.stringify(pidFile)}, String(process.pid)); setInterval(() => {}, 1000)`] },
          broken: fixtureServer('--exit-at-start', '1'),
        },
        tasks: [
          { id: 'a', server: 'silent', tool: 'noop' },
          { id: 'b', server: 'broken', tool: 'noop' },
        ],
      },
      { onEvent: (event) => events.push(event) },
    );
    expect(report.error).toMatchObject({ code: 'SERVER_START_FAILED', server: 'broken' });
    const closed = events.filter((event) => event.type === 'server.state' && event.state === 'closed').map((event) => (event as { server: string }).server);
    expect(closed.sort()).toEqual(['broken', 'silent']);
    const silentPid = Number(readFileSync(pidFile, 'utf8'));
    await vi.waitFor(() => expect(isProcessAlive(silentPid)).toBe(false));
    expect(listLiveGroups()).toEqual([]);
    work.remove();
  });
});
