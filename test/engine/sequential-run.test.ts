/**
 * Sequential runs on the fixture server as a real child process over stdio
 * (and Streamable HTTP): results flow from task to task, and every kind of
 * failure ends the run with a clear error and every result so far.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createRun, runWorkflow, type BusEvent, type RunReport } from '../../src/index.js';
import { createTempDir, fixtureServer, FIXTURE_SERVER } from '../support/fixture.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function run(document: Record<string, unknown>, onEvent?: (event: BusEvent) => void): Promise<RunReport> {
  return runWorkflow({ name: 'test', ...document }, onEvent ? { onEvent } : {});
}

describe('a sequential run on real processes', () => {
  it('passes one task’s result into the next and synthesizes the output', async () => {
    const events: BusEvent[] = [];
    const report = await run(
      {
        servers: { fx: fixtureServer() },
        tasks: [
          { id: 'greet', server: 'fx', tool: 'echo', args: { text: 'hello' } },
          { id: 'sum', server: 'fx', tool: 'add', args: { a: 2, b: 3 } },
          {
            id: 'say',
            server: 'fx',
            tool: 'echo',
            args: { text: '{{ tasks.greet.text }}: {{ tasks.sum.json.sum }} ({{ context.0.json.mode }}, {{ context.1.text }})' },
            context: [
              { server: 'fx', uri: 'fixture://config' },
              { server: 'fx', uri: 'fixture://notes/alpha' },
            ],
          },
        ],
        output: 'final: {{ tasks.say.text }}',
      },
      (event) => events.push(event),
    );

    expect(report.status).toBe('completed');
    expect(report.output).toBe('final: hello: 5 (test, alpha notes)');
    expect(report.tasks.map((task) => [task.id, task.status, task.text])).toEqual([
      ['greet', 'completed', 'hello'],
      ['sum', 'completed', '5'],
      ['say', 'completed', 'hello: 5 (test, alpha notes)'],
    ]);
    const taskEvents = events.filter((event) => event.type.startsWith('task.')).map((event) => `${event.type}:${(event as { task: { id: string } }).task.id}`);
    expect(taskEvents).toEqual([
      'task.started:greet',
      'task.completed:greet',
      'task.started:sum',
      'task.completed:sum',
      'task.context:say',
      'task.started:say',
      'task.completed:say',
    ]);
    const phases = events.filter((event) => event.type === 'run.phase').map((event) => (event as { phase: string }).phase);
    expect(phases).toEqual(['initializing', 'planning', 'breakdown', 'executing', 'synthesizing']);
    expect(events.every((event) => event.runId === report.runId && typeof event.at === 'number')).toBe(true);
    const states = events.filter((event) => event.type === 'server.state').map((event) => (event as { state: string }).state);
    expect(states[0]).toBe('connecting');
    expect(states).toContain('serving');
    expect(states.at(-1)).toBe('closed');
    expect(events.at(-1)?.type).toBe('run.finished');
  });

  it('uses the output default of every task’s text in order', async () => {
    const report = await run({
      servers: { fx: fixtureServer() },
      tasks: [
        { id: 'a', server: 'fx', tool: 'echo', args: { text: 'one' } },
        { id: 'b', server: 'fx', tool: 'echo', args: { text: 'two' } },
      ],
    });
    expect(report.output).toBe('one\ntwo');
  });

  it('coordinates two servers in one run', async () => {
    const work = createTempDir();
    cleanups.push(work.remove);
    const report = await run({
      servers: { left: fixtureServer('--name', 'left'), right: { ...fixtureServer('--name', 'right'), cwd: work.dir } },
      tasks: [
        { id: 'make', server: 'left', tool: 'json', args: { value: { line: 'from left' } } },
        { id: 'save', server: 'right', tool: 'write_file', args: { path: 'out.txt', content: '{{ tasks.make.json.line }}' } },
      ],
    });
    expect(report.status).toBe('completed');
    expect(readFileSync(join(work.dir, 'out.txt'), 'utf8')).toBe('from left');
  });

  it('makes the planner’s task list the breakdown', async () => {
    const events: BusEvent[] = [];
    const report = await run(
      {
        servers: { fx: fixtureServer() },
        plan: {
          server: 'fx',
          tool: 'plan',
          args: {
            tasks: [
              { id: 'first', server: 'fx', tool: 'echo', args: { text: 'planned' } },
              { id: 'second', server: 'fx', tool: 'add', args: { a: 1, b: 1 } },
            ],
          },
        },
        tasks: [],
      },
      (event) => events.push(event),
    );
    expect(report.status).toBe('completed');
    expect(report.tasks.map((task) => task.text)).toEqual(['planned', '2']);
    expect(events.find((event) => event.type === 'run.breakdown')).toMatchObject({ source: 'planner', tasks: [{ id: 'first' }, { id: 'second' }] });
  });

  it('serves a Streamable HTTP server', async () => {
    const server = spawn(process.execPath, [FIXTURE_SERVER, '--http', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
    cleanups.push(() => server.kill());
    const url = await readListeningUrl(server);
    const report = await run({
      servers: { web: { url, headers: { 'x-test': 'yes' } } },
      tasks: [
        { id: 'a', server: 'web', tool: 'add', args: { a: 20, b: 22 } },
        { id: 'b', server: 'web', tool: 'echo', args: { text: 'sum is {{ tasks.a.json.sum }}' } },
      ],
    });
    expect(report.status).toBe('completed');
    expect(report.output).toBe('42\nsum is 42');
  });

  it('reads a server that floods stderr without stalling', async () => {
    const report = await run({
      servers: { fx: fixtureServer('--stderr-noise', '512') },
      tasks: [{ id: 'a', server: 'fx', tool: 'noop' }],
    });
    expect(report.status).toBe('completed');
  });

  it('survives non-JSON lines on stdout and reports them on the bus', async () => {
    const events: BusEvent[] = [];
    const report = await run(
      {
        servers: { fx: fixtureServer('--garbage-on-call', '1') },
        tasks: [{ id: 'a', server: 'fx', tool: 'echo', args: { text: 'still fine' } }],
      },
      (event) => events.push(event),
    );
    expect(report.status).toBe('completed');
    expect(report.output).toBe('still fine');
    expect(events.some((event) => event.type === 'server.log' && event.line.includes('not JSON-RPC'))).toBe(true);
  });
});

describe('a failing run keeps what was done', () => {
  it('stops on a tool that returns isError, keeping earlier results and skipping the rest', async () => {
    const report = await run({
      servers: { fx: fixtureServer() },
      tasks: [
        { id: 'ok', server: 'fx', tool: 'echo', args: { text: 'kept' } },
        { id: 'bad', server: 'fx', tool: 'fail', args: { message: 'disk full' } },
        { id: 'later', server: 'fx', tool: 'noop' },
      ],
    });
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'TOOL_ERROR', task: 'bad', server: 'fx' });
    expect(report.error?.message).toContain('disk full');
    expect(report.tasks).toMatchObject([
      { id: 'ok', status: 'completed', text: 'kept', isError: false },
      { id: 'bad', status: 'failed', text: 'disk full', isError: true },
      { id: 'later', status: 'skipped' },
    ]);
  });

  it('fails with the exit code and stderr of a server that does not start', async () => {
    const report = await run({
      servers: { broken: fixtureServer('--exit-at-start', '7') },
      tasks: [{ id: 'a', server: 'broken', tool: 'noop' }],
    });
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'SERVER_START_FAILED', server: 'broken' });
    expect(report.error?.message).toMatch(/server "broken" failed to start .*exited with code 7/);
    expect(report.error?.message).toContain('stderr:');
    expect(report.tasks).toMatchObject([{ id: 'a', status: 'skipped' }]);
  });

  it('names a command that does not exist', async () => {
    const report = await run({
      servers: { ghost: { command: 'ensemble-no-such-command' } },
      tasks: [{ id: 'a', server: 'ghost', tool: 'noop' }],
    });
    expect(report.error).toMatchObject({ code: 'SERVER_START_FAILED', server: 'ghost' });
    expect(report.error?.message).toContain('command not found: ensemble-no-such-command');
  });

  it('refuses a tool the server does not have before any task runs', async () => {
    const events: BusEvent[] = [];
    const report = await run(
      {
        servers: { fx: fixtureServer() },
        tasks: [
          { id: 'a', server: 'fx', tool: 'noop' },
          { id: 'b', server: 'fx', tool: 'teleport' },
        ],
      },
      (event) => events.push(event),
    );
    expect(report.error).toMatchObject({ code: 'UNKNOWN_TOOL', task: 'b', field: 'tasks[1].tool' });
    expect(report.error?.message).toContain('has no tool "teleport" (it has: noop, echo');
    expect(events.some((event) => event.type === 'task.started')).toBe(false);
  });

  it('times a call out and keeps the results before it', async () => {
    const report = await run({
      servers: { fx: fixtureServer() },
      tasks: [
        { id: 'a', server: 'fx', tool: 'echo', args: { text: 'done first' } },
        { id: 'stuck', server: 'fx', tool: 'hang', timeoutMs: 300 },
      ],
    });
    expect(report.error).toMatchObject({ code: 'CALL_TIMEOUT', task: 'stuck' });
    expect(report.error?.message).toContain('timed out after 300 ms');
    expect(report.tasks[0]).toMatchObject({ status: 'completed', text: 'done first' });
  });

  it('reports a server that dies mid-run as unavailable', async () => {
    const report = await run({
      servers: { fx: fixtureServer('--crash-on-call', '2') },
      tasks: [
        { id: 'a', server: 'fx', tool: 'echo', args: { text: 'before the crash' } },
        { id: 'b', server: 'fx', tool: 'noop' },
        { id: 'c', server: 'fx', tool: 'noop' },
      ],
    });
    expect(report.error).toMatchObject({ code: 'SERVER_UNAVAILABLE', task: 'b', server: 'fx' });
    expect(report.error?.message).toContain('exited with code 1');
    expect(report.tasks.map((task) => task.status)).toEqual(['completed', 'failed', 'skipped']);
  });

  it('rejects a planner result that is not a valid task list, naming the field', async () => {
    const report = await run({
      servers: { fx: fixtureServer() },
      plan: { server: 'fx', tool: 'plan', args: { tasks: [{ id: 'x', server: 'nowhere', tool: 'noop' }] } },
    });
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'INVALID_PLAN' });
    expect(report.error?.message).toContain('tasks[0].server');
  });

  it('cancels the call in flight when the run is cancelled, and the server sees it', async () => {
    const work = createTempDir();
    cleanups.push(work.remove);
    const log = join(work.dir, 'events.jsonl');
    const ensembleRun = createRun(
      await (await import('../../src/index.js')).loadWorkflow({
        name: 'cancel',
        servers: { fx: fixtureServer('--log-file', log) },
        tasks: [{ id: 'wait', server: 'fx', tool: 'hang' }],
      }),
    );
    const finished = ensembleRun.start();
    // Cancel once the server is working on the call (it logs each call as it starts it).
    await vi.waitFor(() => expect(readLog(log).some((line) => line.event === 'call')).toBe(true), { timeout: 10_000 });
    ensembleRun.cancel('user pressed Ctrl-C');
    const report = await finished;
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'CANCELLED', task: 'wait' });
    expect(report.tasks[0]).toMatchObject({ status: 'cancelled' });
    expect(readLog(log).find((line) => line.event === 'cancelled')?.reason).toContain('user pressed Ctrl-C');
  });
});

async function readListeningUrl(child: ChildProcess): Promise<string> {
  let buffered = '';
  for await (const chunk of child.stdout!) {
    buffered += String(chunk);
    const match = /listening (\S+)/.exec(buffered);
    if (match) return match[1]!;
  }
  await once(child, 'exit');
  throw new Error(`fixture did not listen: ${buffered}`);
}

function readLog(path: string): { event: string; reason?: string }[] {
  let text = '';
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return [];
  }
  return text.trim().split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string; reason?: string });
}

describe('regressions', () => {
  it('names a missing working folder instead of calling the command missing', async () => {
    const report = await run({
      servers: { fx: { ...fixtureServer(), cwd: '/nonexistent/ensemble-folder' } },
      tasks: [{ id: 'a', server: 'fx', tool: 'noop' }],
    });
    expect(report.error).toMatchObject({ code: 'SERVER_START_FAILED', server: 'fx' });
    expect(report.error?.message).toContain('working folder does not exist: /nonexistent/ensemble-folder');
    expect(report.error?.message).not.toContain('command not found');
  });
});
