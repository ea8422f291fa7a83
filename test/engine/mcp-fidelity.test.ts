/**
 * Regression tests for how Ensemble read the MCP boundary (issue 8, "MCP
 * fidelity"), on the real fixture server over stdio and Streamable HTTP:
 * - a JSON-RPC error answer (e.g. -32602) was CALL_FAILED, which the circuit
 *   breaker counted: three bad-argument calls opened the circuit and
 *   restarted a healthy server;
 * - a result that failed the SDK's outputSchema check was dropped, though
 *   the tool had run;
 * - progress notifications did not reset a call's timeout;
 * - HTTP sessions were left open on the server when Ensemble closed;
 * - only text and json were kept of a result: resource links, embedded
 *   resources and `_meta` were lost.
 * Waits are on the run's end or bus events, never on the clock.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listLiveGroups } from '../../actors/process-group.js';
import { formatProgress, PROGRESS_LINE_INTERVAL_MS } from '../../src/cli/progress.js';
import type { BusEventOf } from '../../src/core/bus-events.js';
import { parseWorkflow } from '../../src/workflow/parse-workflow.js';
import { MAX_DURATION_MS } from '../../src/workflow/workflow.schema.js';
import { runWorkflow, type BusEvent, type RunReport } from '../../src/index.js';
import { eventsOf, taskOf } from '../support/bus-record.js';
import { catchError } from '../support/catch-error.js';
import { createTempDir, FIXTURE_SERVER, fixtureServer } from '../support/fixture.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  // Last in, first out: a server is stopped before the folder of its log goes.
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
  expect(listLiveGroups()).toEqual([]);
});

function createLogFile(): string {
  const { dir, remove } = createTempDir('ensemble-fidelity-');
  cleanups.push(remove);
  return join(dir, 'events.jsonl');
}

type LogEvent = { event: string; pid: number; [key: string]: unknown };

function readLog(file: string): LogEvent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LogEvent);
}

interface Recorded {
  report: RunReport;
  events: BusEvent[];
}

async function run(document: Record<string, unknown>): Promise<Recorded> {
  const events: BusEvent[] = [];
  const report = await runWorkflow({ name: 'fidelity', ...document }, { onEvent: (event) => events.push(event) });
  return { report, events };
}

describe('a JSON-RPC error answer is CALL_REJECTED', () => {
  it('fails three bad-argument calls with CALL_REJECTED without opening the circuit or restarting the healthy server', async () => {
    const log = createLogFile();
    const { report, events } = await run({
      // Independent tasks, one at a time, run on whatever fails before them.
      onError: 'continue',
      concurrency: 1,
      servers: { fx: { ...fixtureServer('--log-file', log), circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000 }, recovery: { initialDelayMs: 10 } } },
      tasks: [
        { id: 'bad1', server: 'fx', tool: 'reject', args: {}, needs: [] },
        { id: 'bad2', server: 'fx', tool: 'reject', args: {}, needs: [] },
        // -32000 is also the SDK's own "connection closed": from a live server it is an answer.
        { id: 'bad3', server: 'fx', tool: 'reject', args: { code: -32000, message: 'not that' }, needs: [] },
        { id: 'after', server: 'fx', tool: 'echo', args: { text: 'still serving' }, needs: [] },
      ],
    });
    for (const id of ['bad1', 'bad2']) {
      expect(taskOf(report, id)).toMatchObject({ status: 'failed', error: { code: 'CALL_REJECTED', server: 'fx' } });
      expect(taskOf(report, id).error?.message).toBe('server "fx" rejected tool reject: MCP error -32602: Invalid params: rejected by the fixture');
    }
    expect(taskOf(report, 'bad3').error).toMatchObject({ code: 'CALL_REJECTED', message: 'server "fx" rejected tool reject: MCP error -32000: not that' });
    expect(taskOf(report, 'after')).toMatchObject({ status: 'completed', text: 'still serving' });

    // One process from start to end: no circuit opened, no restart, nothing withdrawn.
    expect(readLog(log).filter((entry) => entry.event === 'start')).toHaveLength(1);
    expect(eventsOf(events, 'server.withdrawn')).toEqual([]);
    expect(eventsOf(events, 'server.state').map((event) => event.state)).toEqual(['connecting', 'serving', 'closed']);
  });

  it('counts a rejection as an answer: failed calls on either side of it are not "in a row" for the circuit breaker', async () => {
    const log = createLogFile();
    const { report, events } = await run({
      onError: 'continue',
      concurrency: 1,
      servers: { fx: { ...fixtureServer('--log-file', log), circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } } },
      tasks: [
        { id: 'broken1', server: 'fx', tool: 'malformed', args: {}, needs: [] },
        { id: 'refused', server: 'fx', tool: 'reject', args: {}, needs: [] },
        { id: 'broken2', server: 'fx', tool: 'malformed', args: {}, needs: [] },
        { id: 'after', server: 'fx', tool: 'echo', args: { text: 'circuit still closed' }, needs: [] },
      ],
    });
    expect(report.tasks.map((task) => `${task.id}: ${task.error?.code ?? task.text}`)).toEqual([
      'broken1: CALL_FAILED',
      'refused: CALL_REJECTED',
      'broken2: CALL_FAILED',
      'after: circuit still closed',
    ]);
    expect(eventsOf(events, 'server.withdrawn')).toEqual([]);
    expect(readLog(log).filter((entry) => entry.event === 'start')).toHaveLength(1);
  });

  it('does not send a rejected call to the fallback: the call fails with CALL_REJECTED and the server stays serving', async () => {
    const primaryLog = createLogFile();
    const backupLog = createLogFile();
    const { report, events } = await run({
      servers: {
        fx: {
          ...fixtureServer('--log-file', primaryLog),
          fallback: [{ server: 'backup', tools: { reject: { tool: 'echo', args: { text: 'served by backup' } } } }, { builtin: 'files' }],
        },
        backup: fixtureServer('--log-file', backupLog),
      },
      tasks: [
        { id: 'bad', server: 'fx', tool: 'reject', args: {}, idempotent: true, needs: [] },
        { id: 'good', server: 'fx', tool: 'echo', args: { text: 'primary' }, needs: [] },
      ],
      onError: 'continue',
      concurrency: 1,
    });
    expect(taskOf(report, 'bad')).toMatchObject({ status: 'failed', error: { code: 'CALL_REJECTED', server: 'fx' } });
    expect(taskOf(report, 'bad').servedBy).toBeUndefined();
    expect(taskOf(report, 'good')).toMatchObject({ status: 'completed', text: 'primary', servedBy: 'fx' });
    expect(report.status).not.toBe('degraded');
    // The backup never saw a call, and the primary was never withdrawn.
    expect(readLog(backupLog).filter((entry) => entry.event === 'call')).toEqual([]);
    expect(eventsOf(events, 'server.withdrawn')).toEqual([]);
    expect(readLog(primaryLog).filter((entry) => entry.event === 'start')).toHaveLength(1);
  });
});

describe('a result that fails its outputSchema is kept', () => {
  it('keeps the result of a tool whose structured content does not match its outputSchema, with an OUTPUT_SCHEMA_MISMATCH warning in the task report and the notifications', async () => {
    const log = createLogFile();
    const { report } = await run({
      servers: { fx: fixtureServer('--log-file', log) },
      tasks: [
        { id: 'wrong', server: 'fx', tool: 'mismatch', args: {} },
        { id: 'missing', server: 'fx', tool: 'mismatch', args: { omit: true } },
        { id: 'right', server: 'fx', tool: 'mismatch', args: { value: 3 } },
        { id: 'uses', server: 'fx', tool: 'echo', args: { text: 'count was {{ tasks.wrong.json.count }}' } },
      ],
    });
    expect(report.status).toBe('completed');
    const wrong = taskOf(report, 'wrong');
    expect(wrong).toMatchObject({ status: 'completed', text: 'three things', json: { count: 'three' } });
    expect(wrong.warnings).toEqual([
      { code: 'OUTPUT_SCHEMA_MISMATCH', server: 'fx', message: 'server "fx": the result of tool mismatch was kept, but its structured content does not match its output schema: data/count must be number' },
    ]);
    expect(taskOf(report, 'missing').warnings).toEqual([
      { code: 'OUTPUT_SCHEMA_MISMATCH', server: 'fx', message: 'server "fx": the result of tool mismatch was kept, but it has an output schema but did not return structured content' },
    ]);
    expect(taskOf(report, 'right').warnings).toBeUndefined();
    expect(taskOf(report, 'uses').text).toBe('count was three');
    expect(report.notifications.filter((notification) => notification.level === 'warning')).toMatchObject([
      { server: 'fx', task: 'wrong', message: expect.stringContaining('does not match its output schema') },
      { server: 'fx', task: 'missing', message: expect.stringContaining('did not return structured content') },
    ]);
    // The tool ran each time: that is why its result must not be thrown away.
    expect(readLog(log).filter((entry) => entry.event === 'call' && entry.tool === 'mismatch')).toHaveLength(3);
  });
});

describe('progress resets the call timeout', () => {
  it('completes a call that reports progress for longer than timeoutMs, publishing each progress on the bus', async () => {
    const { report, events } = await run({
      servers: { fx: { ...fixtureServer(), timeoutMs: 500 } },
      // Ten steps of 100 ms: twice the timeout, but never 500 ms without news.
      tasks: [{ id: 'long', server: 'fx', tool: 'progress', args: { steps: 10, intervalMs: 100 } }],
    });
    expect(taskOf(report, 'long')).toMatchObject({ status: 'completed', text: 'done after 10 steps' });
    const progress = eventsOf(events, 'server.call.progress');
    expect(progress.map(({ server, task, tool, progress: step, total, message }) => ({ server, task, tool, step, total, message }))).toEqual(
      Array.from({ length: 10 }, (_, index) => ({ server: 'fx', task: 'long', tool: 'progress', step: index + 1, total: 10, message: `step ${index + 1} of 10` })),
    );
    // All of one call, and all before the task completed.
    expect(new Set(progress.map((event) => event.callId)).size).toBe(1);
    const completedAt = events.findIndex((event) => event.type === 'task.completed');
    expect(events.findIndex((event) => event.type === 'server.call.progress')).toBeLessThan(completedAt);
    expect(events.findLastIndex((event) => event.type === 'server.call.progress')).toBeLessThan(completedAt);
  });

  it('still times out a call whose progress stops: the timeout restarts with each notification, not forever', async () => {
    const { report } = await run({
      servers: { fx: { ...fixtureServer(), timeoutMs: 300 } },
      // One notification, then 60 s of silence.
      tasks: [{ id: 'stalls', server: 'fx', tool: 'progress', args: { steps: 1, intervalMs: 60_000 } }],
    });
    expect(taskOf(report, 'stalls')).toMatchObject({ status: 'failed', error: { code: 'CALL_TIMEOUT', message: 'server "fx": tool progress timed out after 300 ms' } });
  });

  it('ends a call that keeps reporting progress at maxTotalTimeoutMs, naming the setting, and cancels it on the server', async () => {
    const log = createLogFile();
    const { report } = await run({
      servers: { fx: { ...fixtureServer('--log-file', log), timeoutMs: 500, maxTotalTimeoutMs: 700 } },
      tasks: [{ id: 'endless', server: 'fx', tool: 'progress', args: { steps: 1000, intervalMs: 100 } }],
    });
    const task = taskOf(report, 'endless');
    expect(task).toMatchObject({ status: 'failed', error: { code: 'CALL_TIMEOUT', server: 'fx' } });
    expect(task.error?.message).toBe('server "fx": tool progress ran past its maximum total time of 700 ms (servers.fx.maxTotalTimeoutMs), though it kept reporting progress');
    expect(readLog(log).filter((entry) => entry.event === 'cancelled')).toMatchObject([{ tool: 'progress', reason: 'maximum total timeout exceeded' }]);
  });

  it('refuses maxTotalTimeoutMs above 2^31-1 ms, naming the field, like every duration', () => {
    const error = catchError(() =>
      parseWorkflow({ servers: { s: { command: 'node', maxTotalTimeoutMs: 2 ** 31 } }, tasks: [{ id: 'a', server: 's', tool: 'noop' }] }, { file: 'wf.yaml', dir: '/tmp' }),
    );
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'servers.s.maxTotalTimeoutMs' });
    expect(error.message).toContain(`must be at most ${MAX_DURATION_MS} ms`);
    const parsed = parseWorkflow({ servers: { s: { url: 'http://127.0.0.1:1/mcp', maxTotalTimeoutMs: MAX_DURATION_MS } }, tasks: [{ id: 'a', server: 's', tool: 'noop' }] }, { dir: '/tmp' });
    expect(parsed.servers.s?.maxTotalTimeoutMs).toBe(MAX_DURATION_MS);
  });

  it('prints the first and the last progress line of a call, and at most one a second in between', () => {
    const at = 1_000_000;
    const progress = (step: number, offsetMs: number, total?: number): BusEventOf<'server.call.progress'> => ({
      type: 'server.call.progress',
      runId: 'cli-run',
      at: at + offsetMs,
      server: 'coder',
      callId: 'c1',
      task: 'build',
      tool: 'Task',
      progress: step,
      ...(total === undefined ? {} : { total }),
      message: `step ${step}\u001b[2J`,
    });
    const lines = [
      progress(1, 0, 4),
      progress(2, 10, 4),
      progress(3, PROGRESS_LINE_INTERVAL_MS, 4),
      progress(4, PROGRESS_LINE_INTERVAL_MS + 10, 4),
    ].map((event) => formatProgress(event));
    // The escape sequence the server sent never reaches the terminal.
    expect(lines).toEqual(['  … build  coder.Task  1/4  step 1 [2J', undefined, '  … build  coder.Task  3/4  step 3 [2J', '  … build  coder.Task  4/4  step 4 [2J']);
    expect(formatProgress({ ...progress(7, 0), callId: 'c2' })).toBe('  … build  coder.Task  7  step 7 [2J');
  });
});

describe('HTTP sessions end on close', () => {
  it('terminates its Streamable HTTP session when the run closes: the server sees the DELETE and ends the session', async () => {
    const log = createLogFile();
    const server = spawn(process.execPath, [FIXTURE_SERVER, '--http', '0', '--log-file', log], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => server.kill());
    const url = await readListeningUrl(server);
    const { report } = await run({
      servers: { web: { url } },
      onError: 'continue',
      concurrency: 1,
      tasks: [
        { id: 'a', server: 'web', tool: 'echo', args: { text: 'over http' }, needs: [] },
        // A JSON-RPC error answer over HTTP is a rejection too, and the session goes on.
        { id: 'b', server: 'web', tool: 'reject', args: {}, needs: [] },
        { id: 'c', server: 'web', tool: 'echo', args: { text: 'after' }, needs: [] },
      ],
    });
    expect(report.tasks.map((task) => `${task.id}: ${task.status} ${task.error?.code ?? task.text}`)).toEqual(['a: completed over http', 'b: failed CALL_REJECTED', 'c: completed after']);
    const sessions = readLog(log).filter((entry) => entry.event.startsWith('session'));
    expect(sessions.map((entry) => entry.event)).toEqual(['session-opened', 'session-closed']);
    expect(sessions[1]!.sessionId).toBe(sessions[0]!.sessionId);
  });
});

describe('the raw CallToolResult is kept', () => {
  it('keeps the whole CallToolResult in the task report beside text and json: resource links, embedded resources, _meta, structuredContent', async () => {
    const { report } = await run({
      servers: { fx: fixtureServer() },
      tasks: [
        { id: 'links', server: 'fx', tool: 'links', args: {} },
        { id: 'sum', server: 'fx', tool: 'add', args: { a: 1, b: 2 } },
      ],
    });
    expect(taskOf(report, 'links')).toMatchObject({ status: 'completed', text: 'see the alpha notes' });
    expect(taskOf(report, 'links').raw).toEqual({
      _meta: { 'fixture.dev/trace': 'links-1' },
      content: [
        { type: 'text', text: 'see the alpha notes' },
        { type: 'resource_link', uri: 'fixture://notes/alpha', name: 'alpha-notes', mimeType: 'text/plain' },
        { type: 'resource', resource: { uri: 'fixture://config', mimeType: 'application/json', text: '{"mode":"test","level":3}' } },
      ],
    });
    expect(taskOf(report, 'sum')).toMatchObject({ text: '3', json: { sum: 3 }, raw: { content: [{ type: 'text', text: '3' }], structuredContent: { sum: 3 } } });
    // The report is plain JSON, raw results included (what `--json` prints).
    expect(JSON.parse(JSON.stringify(report)).tasks[0].raw._meta).toEqual({ 'fixture.dev/trace': 'links-1' });
  });
});

async function readListeningUrl(child: ChildProcess): Promise<string> {
  let buffered = '';
  for await (const chunk of child.stdout!) {
    buffered += String(chunk);
    const match = /listening (\S+)/.exec(buffered);
    if (match) return match[1]!;
  }
  throw new Error('the HTTP fixture exited before listening');
}
