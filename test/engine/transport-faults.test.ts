/**
 * Faults on a server's stdio stay with that server: an oversized message, a
 * line that never ends, a flood of lines that are not JSON-RPC. Each fails
 * the call with an error naming the server and the limit, stops that server
 * (which then goes unavailable like any death), and leaves the Ensemble
 * process — this test process — running, with a report.
 */
import { describe, expect, it } from 'vitest';
import { listLiveGroups } from '../../actors/process-group.js';
import { GARBAGE_SAMPLES, MAX_GARBAGE_RUN } from '../../actors/process-transport.js';
import { runWorkflow, type BusEvent } from '../../src/index.js';
import { eventsOf } from '../support/bus-record.js';
import { runEnsemble, writeWorkflowFile } from '../support/cli.js';
import { createTempDir, fixtureServer } from '../support/fixture.js';

const MiB = 1024 * 1024;

async function runOne(server: Record<string, unknown>, task: { tool: string; args?: Record<string, unknown> }) {
  const events: BusEvent[] = [];
  const report = await runWorkflow(
    { name: 'faults', servers: { fx: server }, tasks: [{ id: 't', server: 'fx', ...task }] },
    { onEvent: (event) => events.push(event) },
  );
  return { report, events, task: report.tasks.find((entry) => entry.id === 't') };
}

describe('oversized messages', () => {
  it('regression: an 11 MB tool result fails the call naming the server and servers.fx.maxMessageBytes instead of crashing Ensemble', async () => {
    const { report, events, task } = await runOne(fixtureServer(), { tool: 'big', args: { bytes: 11 * MiB } });
    expect(report.status).toBe('failed');
    expect(task?.status).toBe('failed');
    expect(task?.error?.code).toBe('SERVER_UNAVAILABLE');
    expect(task?.error?.server).toBe('fx');
    expect(task?.error?.message).toContain('server "fx"');
    expect(task?.error?.message).toContain(`larger than ${10 * MiB} bytes`);
    expect(task?.error?.message).toContain('servers.fx.maxMessageBytes');
    // The server was stopped, like any death: it went unavailable, and no process is left.
    expect(eventsOf(events, 'server.state').some((event) => event.server === 'fx' && event.state === 'unavailable')).toBe(true);
    expect(listLiveGroups()).toEqual([]);
  });

  it('regression: 11 MB on stdout without a newline fails the call at the limit, without waiting for a newline that never comes', async () => {
    const { report, task } = await runOne(fixtureServer(), { tool: 'spew', args: { bytes: 11 * MiB } });
    expect(report.status).toBe('failed');
    expect(task?.error).toMatchObject({ code: 'SERVER_UNAVAILABLE', server: 'fx' });
    expect(task?.error?.message).toContain('servers.fx.maxMessageBytes');
    expect(listLiveGroups()).toEqual([]);
  });

  it('regression: `ensemble run --json` on an 11 MB result exits 1 with its one JSON report, not a stack trace', async () => {
    const work = createTempDir();
    const file = writeWorkflowFile(
      work.dir,
      'big.yaml',
      JSON.stringify({ name: 'big', servers: { fx: fixtureServer() }, tasks: [{ id: 'small', server: 'fx', tool: 'echo', args: { text: 'kept' } }, { id: 't', server: 'fx', tool: 'big', args: { bytes: 11 * MiB } }] }),
    );
    const { code, stdout, stderr } = await runEnsemble(work.dir, 'run', file, '--json');
    work.remove();
    expect(code).toBe(1);
    expect(stderr).not.toContain('ReadBuffer');
    const report = JSON.parse(stdout) as { status: string; tasks: { id: string; text: string; error?: { message: string } }[] };
    expect(report.status).toBe('failed');
    // What finished before the fault is in the report.
    expect(report.tasks.find((task) => task.id === 'small')?.text).toBe('kept');
    expect(report.tasks.find((task) => task.id === 't')?.error?.message).toContain('servers.fx.maxMessageBytes');
  });

  it('takes a result above the default limit when servers.<name>.maxMessageBytes allows it', async () => {
    const { report, task } = await runOne({ ...fixtureServer(), maxMessageBytes: 12 * MiB }, { tool: 'big', args: { bytes: 11 * MiB } });
    expect(report.status).toBe('completed');
    expect(task?.text).toHaveLength(11 * MiB);
  });

  it('applies a lower limit to every message of that server', async () => {
    const { task } = await runOne({ ...fixtureServer(), maxMessageBytes: 64 * 1024 }, { tool: 'big', args: { bytes: 70_000 } });
    expect(task?.error?.message).toContain(`larger than ${64 * 1024} bytes`);
  });

  it('fails the start, naming the limit, when even the tool list is over it', async () => {
    // The fixture's tools/list answer is a few KiB.
    const { report } = await runOne({ ...fixtureServer(), maxMessageBytes: 1024 }, { tool: 'noop' });
    expect(report.error).toMatchObject({ code: 'SERVER_START_FAILED', server: 'fx' });
    expect(report.error?.message).toContain('larger than 1024 bytes, the limit set by servers.fx.maxMessageBytes');
    expect(listLiveGroups()).toEqual([]);
  });

  it('range-checks maxMessageBytes at validation, naming the field', async () => {
    for (const [value, expected] of [
      [10, 'at least 1024'],
      [2 * 1024 * MiB, 'at most 1073741824'],
      [2048.5, 'whole number'],
    ] as const) {
      await expect(
        runWorkflow({ name: 'bad', servers: { fx: { ...fixtureServer(), maxMessageBytes: value } }, tasks: [{ id: 't', server: 'fx', tool: 'noop' }] }),
      ).rejects.toMatchObject({ code: 'INVALID_WORKFLOW', field: 'servers.fx.maxMessageBytes', message: expect.stringContaining(expected) });
    }
  });

  it('refuses maxMessageBytes on an http server (only stdio messages are split by Ensemble)', async () => {
    await expect(
      runWorkflow({ name: 'bad', servers: { web: { url: 'http://127.0.0.1:1/mcp', maxMessageBytes: 4096 } }, tasks: [{ id: 't', server: 'web', tool: 'noop' }] }),
    ).rejects.toMatchObject({ code: 'INVALID_WORKFLOW', field: 'servers.web.maxMessageBytes' });
  });
});

describe('garbage on stdout', () => {
  it('regression: a server flooding non-JSON lines is stopped after a bounded run of them, with few bus events, and the run reports it', async () => {
    const { report, events, task } = await runOne(fixtureServer(), { tool: 'garbage', args: { lines: 100_000 } });
    expect(report.status).toBe('failed');
    expect(task?.error).toMatchObject({ code: 'SERVER_UNAVAILABLE', server: 'fx' });
    expect(task?.error?.message).toContain(`flooded stdout with ${MAX_GARBAGE_RUN} lines in a row that are not JSON-RPC`);
    // Not one bus event per line: the first few samples and one "counted, not shown" line.
    const logs = eventsOf(events, 'server.log').filter((event) => event.server === 'fx' && event.line.startsWith('not JSON-RPC'));
    expect(logs).toHaveLength(GARBAGE_SAMPLES + 1);
    expect(eventsOf(events, 'server.state').some((event) => event.server === 'fx' && event.state === 'unavailable')).toBe(true);
    expect(listLiveGroups()).toEqual([]);
  });
});
