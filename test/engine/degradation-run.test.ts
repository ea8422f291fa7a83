/**
 * Graceful degradation end to end, on real fixture processes: one test per
 * fault of a primary server (exit at start, crash on the Nth call, hang,
 * slow answers, garbage on stdout, `isError` results, unanswered pings, a
 * restart that brings it back). A second fixture server (`backup`) and/or the
 * built-in files stand in as its fallback.
 *
 * Every test checks the same four things: the run finishes (never hangs),
 * the right fallback served each task (`servedBy`), the notifications and
 * the report say so, and no completed result was lost. Waits are on bus
 * events, never on the clock.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listLiveGroups } from '../../actors/process-group.js';
import { runWorkflow, type BusEvent, type BusEventOf, type Notification, type RunReport } from '../../src/index.js';
import { createTempDir, FIXTURE_SERVER, fixtureServer } from '../support/fixture.js';
import { eventsOf, taskOf } from '../support/bus-record.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  // Every run waits for its processes; none may outlive it, whatever the fault.
  expect(listLiveGroups()).toEqual([]);
});

function createWorkspace(): string {
  const { dir, remove } = createTempDir('ensemble-degradation-');
  cleanups.push(remove);
  return dir;
}

interface Recorded {
  report: RunReport;
  events: BusEvent[];
}

/** Runs a workflow document, recording the bus; `onEvent` may act on the run as it goes (open a gate, kill a process). */
async function run(document: Record<string, unknown>, onEvent?: (event: BusEvent, events: BusEvent[]) => void): Promise<Recorded> {
  const events: BusEvent[] = [];
  const report = await runWorkflow(
    { name: 'degradation', ...document },
    {
      // Traced: per-call events say what served each call.
      trace: true,
      onEvent: (event) => {
        events.push(event);
        onEvent?.(event, events);
      },
    },
  );
  return { report, events };
}

/** Each task as `id: status by <servedBy>`, in breakdown order: one line says who did what. */
function whoServed(report: RunReport): string[] {
  return report.tasks.map((task) => `${task.id}: ${task.status}${task.servedBy ? ` by ${task.servedBy}` : ''}`);
}

function notificationsAbout(report: RunReport, server: string): Notification[] {
  return report.notifications.filter((notification) => notification.server === server);
}

/** The index on the bus of the first event matching, after `from`; fails the test when there is none. */
function indexAfter(events: BusEvent[], from: number, what: string, predicate: (event: BusEvent) => boolean): number {
  const index = events.findIndex((event, at) => at > from && predicate(event));
  if (index < 0) throw new Error(`expected on the bus after #${from}: ${what}`);
  return index;
}

const completedTask = (id: string, servedBy?: string) => (event: BusEvent) =>
  event.type === 'task.completed' && event.task.id === id && event.servedBy === servedBy;
const serverState = (server: string, state: string) => (event: BusEvent) => event.type === 'server.state' && event.server === server && event.state === state;
const notification = (server: string, text: string) => (event: BusEvent) =>
  event.type === 'notification' && event.notification.server === server && event.notification.message.includes(text);
/** A process of `server` connected: `ready` with its tool list (a `ready` after a call carries none). */
const isStarted = (server: string) => (event: BusEvent): event is BusEventOf<'server.state'> =>
  event.type === 'server.state' && event.server === server && event.state === 'serving' && event.tools !== undefined;

/** The fixture as a second server that serves the primary's `echo` and `write_file` as they are. */
function backupServer(workspace: string) {
  return { ...fixtureServer('--name', 'backup'), cwd: workspace };
}
const BACKUP = { server: 'backup', tools: { echo: { tool: 'echo' }, write_file: { tool: 'write_file' } } };
/** What a notification names as reduced with BACKUP as the fallback: the fixture's other tools (add, …), never echo or write_file. */
const REDUCED_WITH_BACKUP = /; reduced functionality, no fallback for: (?!.*\b(echo|write_file)\b).*\badd\b/;
/** No recovery attempt within a test's lifetime: the primary stays down once it is down. */
const NO_RECOVERY = { initialDelayMs: 600_000, maxDelayMs: 600_000 };

/**
 * Holds each start of a fixture process until the test opens it: start n
 * waits for a file `go-<n>` in the gate's folder (a shell loop, then `exec`,
 * so the pid on the bus is the fixture's own).
 *
 * Why: the degradation machine reports a primary ready without waiting for
 * its fallbacks, and a call that loses its primary before the fallback
 * process is up fails ("no fallback serves this tool") instead of waiting.
 * Tests whose fault comes mid-run therefore start the primary only once
 * every `backup` process is ready, so they test the fault, not that race.
 */
function createStartGate(workspace: string) {
  const folder = join(workspace, '.gate');
  mkdirSync(folder);
  const script = 'n=$(( $(cat "$0/starts" 2>/dev/null || echo 0) + 1 )); echo $n > "$0/starts"; until [ -e "$0/go-$n" ]; do sleep 0.01; done; exec "$@"';
  const open = (...starts: number[]) => {
    for (const start of starts) writeFileSync(join(folder, `go-${start}`), '');
  };
  return {
    /** The fixture with flags, each start held until it is opened. */
    fixture: (...flags: string[]) => ({ command: '/bin/sh', args: ['-c', script, folder, process.execPath, FIXTURE_SERVER, ...flags], cwd: workspace }),
    open,
    /** An `onEvent` that opens these starts once `server` has connected `count` times (each degradation actor starts its own fallback processes). */
    openWhenStarted(server: string, count: number, ...starts: number[]) {
      let seen = 0;
      return (event: BusEvent) => {
        if (isStarted(server)(event) && ++seen === count) open(...starts);
      };
    },
  };
}

describe('graceful degradation on real processes: one fault each', () => {
  it('serves every task from the fallback when the primary exits at start, and ends degraded', async () => {
    const workspace = createWorkspace();
    const { report, events } = await run({
      workspace,
      servers: {
        primary: { ...fixtureServer('--exit-at-start', '7'), cwd: workspace, fallback: [BACKUP], recovery: NO_RECOVERY },
        backup: backupServer(workspace),
      },
      tasks: [
        { id: 'greet', server: 'primary', tool: 'echo', args: { text: 'hello' } },
        { id: 'save', server: 'primary', tool: 'write_file', args: { path: 'out/greeting.txt', content: '{{ tasks.greet.text }} from the fallback' } },
        { id: 'bye', server: 'primary', tool: 'echo', args: { text: 'bye' } },
      ],
    });

    expect(report.status).toBe('degraded');
    expect(report.error).toBeUndefined();
    expect(whoServed(report)).toEqual(['greet: completed by backup', 'save: completed by backup', 'bye: completed by backup']);
    expect(report.output).toBe('hello\nwrote out/greeting.txt\nbye');
    expect(readFileSync(join(workspace, 'out/greeting.txt'), 'utf8')).toBe('hello from the fallback');
    // From the first call: the primary never served anything.
    expect(eventsOf(events, 'server.call.result').filter((event) => event.server === 'primary')).toEqual([]);

    const [notice, ...others] = notificationsAbout(report, 'primary');
    expect(others).toEqual([]);
    expect(notice).toMatchObject({ level: 'warning', server: 'primary' });
    // Which server, why (it failed to start, with its exit code), and what serves now. Nothing is named as
    // reduced: a primary that never started never listed its tools.
    expect(notice!.message).toMatch(/^server "primary" is unavailable \(server "primary" failed to start .*exited with code 7.*\); its calls now go to backup$/);
    // Said before the first task started.
    expect(events.findIndex(notification('primary', 'is unavailable'))).toBeLessThan(events.findIndex((event) => event.type === 'task.started'));
  });

  it('retries the idempotent call in flight on the fallback when the primary crashes on the Nth call, keeping what it completed', async () => {
    const workspace = createWorkspace();
    const gate = createStartGate(workspace);
    const { report, events } = await run(
      {
        workspace,
        servers: {
          primary: { ...gate.fixture('--crash-on-call', '3'), fallback: [BACKUP], recovery: NO_RECOVERY },
          backup: backupServer(workspace),
        },
        tasks: [
          { id: 'one', server: 'primary', tool: 'echo', args: { text: 'one' } },
          { id: 'two', server: 'primary', tool: 'echo', args: { text: 'two' } },
          { id: 'three', server: 'primary', tool: 'echo', args: { text: 'three' }, idempotent: true },
          { id: 'four', server: 'primary', tool: 'write_file', args: { path: 'four.txt', content: '{{ tasks.one.text }}, {{ tasks.two.text }}, {{ tasks.three.text }}' } },
        ],
      },
      gate.openWhenStarted('backup', 1, 1),
    );

    expect(report.status).toBe('degraded');
    expect(whoServed(report)).toEqual(['one: completed by primary', 'two: completed by primary', 'three: completed by backup', 'four: completed by backup']);
    // Results from before the crash are kept, and later tasks read them.
    expect(report.tasks.map((task) => task.text)).toEqual(['one', 'two', 'three', 'wrote four.txt']);
    expect(readFileSync(join(workspace, 'four.txt'), 'utf8')).toBe('one, two, three');

    // The call in flight failed on the primary, then went to the fallback.
    const lost = eventsOf(events, 'server.call.error').find((event) => event.server === 'primary' && event.task === 'three');
    expect(lost?.error.code).toBe('SERVER_UNAVAILABLE');
    expect(eventsOf(events, 'server.call.result').find((event) => event.server === 'backup' && event.task === 'three')?.result.text).toBe('three');

    const [notice, ...others] = notificationsAbout(report, 'primary');
    expect(others).toEqual([]);
    expect(notice).toMatchObject({ level: 'warning' });
    expect(notice!.message).toContain('server "primary" is unavailable (server "primary" is unavailable: process exited with code 1');
    expect(notice!.message).toContain('its calls now go to backup');
    // What is reduced: the primary's tools the fallback does not map.
    expect(notice!.message).toMatch(REDUCED_WITH_BACKUP);
  });

  it('fails the non-idempotent call in flight with the cause instead of repeating it, keeping earlier results', async () => {
    const workspace = createWorkspace();
    const gate = createStartGate(workspace);
    const { report, events } = await run(
      {
        workspace,
        servers: {
          primary: { ...gate.fixture('--crash-on-call', '2'), fallback: [BACKUP], recovery: NO_RECOVERY },
          backup: backupServer(workspace),
        },
        tasks: [
          { id: 'first', server: 'primary', tool: 'echo', args: { text: 'kept' } },
          { id: 'append', server: 'primary', tool: 'write_file', args: { path: 'log.txt', content: 'once only' } },
          { id: 'after', server: 'primary', tool: 'echo', args: { text: 'never' } },
        ],
      },
      gate.openWhenStarted('backup', 1, 1),
    );

    expect(report.status).toBe('failed');
    expect(whoServed(report)).toEqual(['first: completed by primary', 'append: failed', 'after: skipped']);
    expect(taskOf(report, 'first').text).toBe('kept');
    const failed = taskOf(report, 'append');
    expect(failed.error).toMatchObject({ code: 'SERVER_UNAVAILABLE', task: 'append', server: 'primary' });
    expect(failed.error!.message).toContain('process exited with code 1');
    expect(failed.error!.message).toContain('not retried on a fallback: the task is not marked idempotent');
    expect(report.error).toMatchObject({ code: 'SERVER_UNAVAILABLE', task: 'append' });
    // The fallback never saw it, and nothing was written.
    expect(eventsOf(events, 'server.call.result').filter((event) => event.server === 'backup')).toEqual([]);
    expect(() => readFileSync(join(workspace, 'log.txt'))).toThrow(/ENOENT/);
    // The switch to the fallback was still announced, before the task failed.
    const [notice, ...others] = notificationsAbout(report, 'primary');
    expect(others).toEqual([]);
    expect(notice!.message).toMatch(/^server "primary" is unavailable \(.*process exited with code 1.*\); its calls now go to backup/);
    expect(notice!.message).toMatch(REDUCED_WITH_BACKUP);
  });

  it('retries a call in flight when its tool is listed in idempotentTools', async () => {
    const workspace = createWorkspace();
    const gate = createStartGate(workspace);
    const { report, events } = await run(
      {
        workspace,
        servers: {
          primary: { ...gate.fixture('--crash-on-call', '1'), fallback: [BACKUP], recovery: NO_RECOVERY, idempotentTools: ['write_file'] },
          backup: backupServer(workspace),
        },
        tasks: [{ id: 'save', server: 'primary', tool: 'write_file', args: { path: 'same.txt', content: 'same content twice is fine' } }],
      },
      gate.openWhenStarted('backup', 1, 1),
    );

    expect(report.status).toBe('degraded');
    expect(whoServed(report)).toEqual(['save: completed by backup']);
    expect(readFileSync(join(workspace, 'same.txt'), 'utf8')).toBe('same content twice is fine');
    const [notice, ...others] = notificationsAbout(report, 'primary');
    expect(others).toEqual([]);
    expect(notice!.message).toMatch(/^server "primary" is unavailable \(.*process exited with code 1.*\); its calls now go to backup/);
    expect(notice!.message).toMatch(REDUCED_WITH_BACKUP);
    expect(eventsOf(events, 'server.call.error').find((event) => event.task === 'save')?.error.code).toBe('SERVER_UNAVAILABLE');
  });

  it('treats a call that hangs as its server gone: it times out, the primary goes unavailable and the fallback serves', async () => {
    const workspace = createWorkspace();
    const gate = createStartGate(workspace);
    const { report, events } = await run(
      {
        workspace,
        servers: {
          primary: { ...gate.fixture('--hang-on-call', '2'), fallback: [BACKUP], recovery: NO_RECOVERY },
          backup: backupServer(workspace),
        },
        tasks: [
          { id: 'before', server: 'primary', tool: 'echo', args: { text: 'before' } },
          { id: 'stuck', server: 'primary', tool: 'echo', args: { text: 'stuck' }, timeoutMs: 300, idempotent: true },
          { id: 'later', server: 'primary', tool: 'echo', args: { text: 'later' } },
        ],
      },
      gate.openWhenStarted('backup', 1, 1),
    );

    expect(report.status).toBe('degraded');
    expect(whoServed(report)).toEqual(['before: completed by primary', 'stuck: completed by backup', 'later: completed by backup']);
    expect(report.output).toBe('before\nstuck\nlater');
    expect(eventsOf(events, 'server.call.error').find((event) => event.server === 'primary' && event.task === 'stuck')?.error.code).toBe('CALL_TIMEOUT');
    const [notice, ...others] = notificationsAbout(report, 'primary');
    expect(others).toEqual([]);
    expect(notice?.level).toBe('warning');
    expect(notice!.message).toContain('server "primary" is unavailable (server "primary": tool echo timed out after 300 ms); its calls now go to backup');
    expect(notice!.message).toMatch(REDUCED_WITH_BACKUP);
    // The server was given up on, not just the call: a fallback is declared, so a timeout means the server is sick.
    expect(events.some(serverState('primary', 'unavailable'))).toBe(true);
  });

  it('serves slow answers within the timeout from the primary, and moves on to the fallback when one is too slow', async () => {
    const workspace = createWorkspace();
    const gate = createStartGate(workspace);
    const { report, events } = await run(
      {
        workspace,
        servers: {
          primary: { ...gate.fixture('--slow', '400'), fallback: [BACKUP], recovery: NO_RECOVERY },
          backup: backupServer(workspace),
        },
        tasks: [
          { id: 'patient', server: 'primary', tool: 'echo', args: { text: 'worth the wait' } },
          { id: 'hurried', server: 'primary', tool: 'echo', args: { text: 'no time' }, timeoutMs: 100, idempotent: true },
          { id: 'next', server: 'primary', tool: 'echo', args: { text: 'next' } },
        ],
      },
      gate.openWhenStarted('backup', 1, 1),
    );

    expect(report.status).toBe('degraded');
    expect(whoServed(report)).toEqual(['patient: completed by primary', 'hurried: completed by backup', 'next: completed by backup']);
    expect(report.output).toBe('worth the wait\nno time\nnext');
    expect(taskOf(report, 'patient').durationMs).toBeGreaterThanOrEqual(400);
    expect(eventsOf(events, 'server.call.error').find((event) => event.task === 'hurried')?.error).toMatchObject({ code: 'CALL_TIMEOUT', server: 'primary' });
    const [notice, ...others] = notificationsAbout(report, 'primary');
    expect(others).toEqual([]);
    expect(notice!.message).toContain('server "primary" is unavailable (server "primary": tool echo timed out after 100 ms); its calls now go to backup');
    expect(notice!.message).toMatch(REDUCED_WITH_BACKUP);
  });

  it('keeps serving from the primary when it writes garbage to stdout: the run completes, not degraded', async () => {
    const workspace = createWorkspace();
    const { report, events } = await run({
      workspace,
      servers: {
        primary: { ...fixtureServer('--garbage-on-call', '2'), cwd: workspace, fallback: [BACKUP] },
        backup: backupServer(workspace),
      },
      tasks: [
        { id: 'a', server: 'primary', tool: 'echo', args: { text: 'a' } },
        { id: 'b', server: 'primary', tool: 'echo', args: { text: 'b' } },
        { id: 'c', server: 'primary', tool: 'echo', args: { text: 'c' } },
      ],
    });

    expect(report.status).toBe('completed');
    expect(whoServed(report)).toEqual(['a: completed by primary', 'b: completed by primary', 'c: completed by primary']);
    expect(report.output).toBe('a\nb\nc');
    expect(report.notifications).toEqual([]);
    // The garbage was seen and reported, and nothing went unavailable.
    const garbage = eventsOf(events, 'server.log').filter((event) => event.server === 'primary' && event.line.startsWith('not JSON-RPC'));
    expect(garbage.length).toBeGreaterThan(0);
    expect(events.some(serverState('primary', 'unavailable'))).toBe(false);
  });

  it('fails the task on an isError result without involving the fallback: the server answered', async () => {
    const workspace = createWorkspace();
    // The fallback would turn `fail` into a success: any routing to it would show.
    const fallback = { server: 'backup', tools: { fail: { tool: 'echo', args: { text: 'wrongly rerouted' } } } };
    const { report, events } = await run({
      workspace,
      servers: {
        primary: { ...fixtureServer(), cwd: workspace, fallback: [fallback] },
        backup: backupServer(workspace),
      },
      tasks: [
        { id: 'ok', server: 'primary', tool: 'echo', args: { text: 'fine' } },
        { id: 'refused', server: 'primary', tool: 'fail', args: { message: 'quota exceeded' }, idempotent: true },
        { id: 'never', server: 'primary', tool: 'echo', args: { text: 'never' } },
      ],
    });

    expect(report.status).toBe('failed');
    expect(whoServed(report)).toEqual(['ok: completed by primary', 'refused: failed', 'never: skipped']);
    expect(taskOf(report, 'ok').text).toBe('fine');
    expect(taskOf(report, 'refused')).toMatchObject({ isError: true, text: 'quota exceeded', error: { code: 'TOOL_ERROR', server: 'primary' } });
    expect(report.error).toMatchObject({ code: 'TOOL_ERROR', task: 'refused' });
    expect(report.notifications).toEqual([]);
    expect(eventsOf(events, 'server.call.result').filter((event) => event.server === 'backup')).toEqual([]);
    expect(events.some(serverState('primary', 'unavailable'))).toBe(false);
  });

  it('goes to the fallback when the primary stops answering pings, retrying the idempotent call it left hanging', async () => {
    const workspace = createWorkspace();
    const { report, events } = await run({
      workspace,
      servers: {
        // Only the health check notices: calls still work on a server that ignores pings.
        primary: {
          ...fixtureServer('--no-ping'),
          cwd: workspace,
          healthCheck: { intervalMs: 100, failures: 2 },
          recovery: NO_RECOVERY,
          fallback: [{ builtin: 'files', tools: { hang: { tool: 'write_file', args: { path: 'rescued.txt', content: 'written by the built-in files' } } } }],
        },
      },
      tasks: [
        // Served at once: two missed pings take at least 4 × 100 ms from the moment the primary is ready.
        { id: 'early', server: 'primary', tool: 'write_file', args: { path: 'early.txt', content: 'by the primary' } },
        // Never answered: in flight until the health check gives up on the server, then retried. No clock involved.
        { id: 'waiting', server: 'primary', tool: 'hang', idempotent: true },
        { id: 'late', server: 'primary', tool: 'write_file', args: { path: 'late.txt', content: 'by the fallback' } },
      ],
    });

    expect(report.status).toBe('degraded');
    expect(whoServed(report)).toEqual(['early: completed by primary', 'waiting: completed by builtin:files', 'late: completed by builtin:files']);
    expect(readFileSync(join(workspace, 'early.txt'), 'utf8')).toBe('by the primary');
    expect(readFileSync(join(workspace, 'rescued.txt'), 'utf8')).toBe('written by the built-in files');
    expect(readFileSync(join(workspace, 'late.txt'), 'utf8')).toBe('by the fallback');
    expect(eventsOf(events, 'server.call.error').find((event) => event.task === 'waiting' && event.server === 'primary')?.error.code).toBe('HEALTH_CHECK_FAILED');

    const [notice, ...others] = notificationsAbout(report, 'primary');
    expect(others).toEqual([]);
    expect(notice?.level).toBe('warning');
    expect(notice!.message).toContain('missed 2 pings in a row (every 100 ms, 100 ms to answer)');
    expect(notice!.message).toContain('its calls now go to builtin:files');
    // The built-in files cannot echo: said as reduced functionality.
    expect(notice!.message).toMatch(/reduced functionality, no fallback for: .*\becho\b/);
  });

  it('skips an optional task that neither the primary nor a fallback can serve, and ends degraded', async () => {
    const workspace = createWorkspace();
    const { report, events } = await run({
      workspace,
      servers: {
        primary: { ...fixtureServer('--crash-on-call', '1'), cwd: workspace, fallback: [{ builtin: 'files' }], recovery: NO_RECOVERY },
      },
      tasks: [
        { id: 'main', server: 'primary', tool: 'write_file', args: { path: 'main.txt', content: 'essential' }, idempotent: true },
        { id: 'extra', server: 'primary', tool: 'add', args: { a: 1, b: 2 }, optional: true },
        { id: 'last', server: 'primary', tool: 'write_file', args: { path: 'last.txt', content: 'still done' } },
      ],
    });

    expect(report.status).toBe('degraded');
    expect(report.error).toBeUndefined();
    expect(whoServed(report)).toEqual(['main: completed by builtin:files', 'extra: skipped', 'last: completed by builtin:files']);
    expect(readFileSync(join(workspace, 'main.txt'), 'utf8')).toBe('essential');
    expect(readFileSync(join(workspace, 'last.txt'), 'utf8')).toBe('still done');
    expect(eventsOf(events, 'task.skipped')).toMatchObject([{ task: { id: 'extra' }, optional: true }]);
    expect(taskOf(report, 'extra').text).toContain('no fallback serves its tool "add"');

    const [unavailable, skipped, ...others] = notificationsAbout(report, 'primary');
    expect(others).toEqual([]);
    expect(unavailable!.message).toMatch(/its calls now go to builtin:files; reduced functionality, no fallback for: .*\badd\b/);
    expect(skipped).toMatchObject({ level: 'warning', task: 'extra' });
    expect(skipped!.message).toContain('reduced functionality: optional task "extra" (primary.add) skipped');
    expect(skipped!.message).toContain('no fallback serves its tool "add"');
  });

  it('skips an optional task the fallbacks cannot serve when the primary never started (its own tools unknown)', async () => {
    const workspace = createWorkspace();
    const { report } = await run({
      workspace,
      servers: { primary: { ...fixtureServer('--exit-at-start', '1'), cwd: workspace, fallback: [{ builtin: 'files' }], recovery: NO_RECOVERY } },
      tasks: [
        { id: 'main', server: 'primary', tool: 'write_file', args: { path: 'main.txt', content: 'essential' } },
        { id: 'extra', server: 'primary', tool: 'add', args: { a: 1, b: 2 }, optional: true },
        { id: 'last', server: 'primary', tool: 'read_file', args: { path: 'main.txt' } },
      ],
    });

    expect(report.error).toBeUndefined();
    expect(report.status).toBe('degraded');
    expect(whoServed(report)).toEqual(['main: completed by builtin:files', 'extra: skipped', 'last: completed by builtin:files']);
    expect(taskOf(report, 'last').text).toBe('essential');
    const [unavailable, skipped, ...others] = notificationsAbout(report, 'primary');
    expect(others).toEqual([]);
    expect(unavailable!.message).toMatch(/^server "primary" is unavailable \(server "primary" failed to start .*\); its calls now go to builtin:files$/);
    expect(skipped).toMatchObject({ level: 'warning', task: 'extra' });
    expect(skipped!.message).toContain('reduced functionality: optional task "extra" (primary.add) skipped');
  });
});

describe('the built-in files caps, set in the workflow', () => {
  it('a builtin step takes maxReadBytes and maxListEntries from the workflow file', async () => {
    const workspace = createWorkspace();
    const fallback = [{ builtin: 'files', maxReadBytes: 4, maxListEntries: 1 }];
    const { report } = await run({
      workspace,
      onError: 'continue',
      servers: { primary: { ...fixtureServer('--exit-at-start', '1'), cwd: workspace, fallback, recovery: NO_RECOVERY } },
      tasks: [
        { id: 'small', server: 'primary', tool: 'write_file', args: { path: 'small.txt', content: 'abcd' } },
        { id: 'big', server: 'primary', tool: 'write_file', args: { path: 'big.txt', content: 'abcdefgh' }, needs: ['small'] },
        { id: 'readSmall', server: 'primary', tool: 'read_file', args: { path: 'small.txt' }, needs: ['big'] },
        { id: 'readBig', server: 'primary', tool: 'read_file', args: { path: 'big.txt' }, needs: ['big'] },
        { id: 'list', server: 'primary', tool: 'list_directory', args: { path: '.' }, needs: ['big'] },
      ],
    });
    expect(taskOf(report, 'readSmall').text).toBe('abcd');
    expect(taskOf(report, 'readBig')).toMatchObject({ isError: true, text: expect.stringMatching(/limit of 4 \(maxReadBytes\)/) });
    expect(taskOf(report, 'list')).toMatchObject({ isError: true, text: expect.stringContaining('maxListEntries') });
  });

  it('refuses the caps on a server step, naming the field', async () => {
    await expect(
      run({ servers: { a: { ...fixtureServer(), fallback: [{ server: 'b', tools: {}, maxReadBytes: 10 }] }, b: fixtureServer() }, tasks: [{ id: 't', server: 'a', tool: 'noop' }] }),
    ).rejects.toThrow(/fallback\[0\]\.maxReadBytes: maxReadBytes and maxListEntries limit the built-in files/);
  });
});

describe('graceful degradation on real processes: recovery', () => {
  /**
   * A task that waits until the primary is back, without a clock: `hang` on a
   * `latch` server whose process the test kills once a new primary process
   * has connected. The latch's fallback (the built-in files, always ready)
   * then answers the idempotent call, and the run moves on.
   */
  const latch = (workspace: string) => ({
    ...fixtureServer('--name', 'latch'),
    cwd: workspace,
    recovery: NO_RECOVERY,
    fallback: [{ builtin: 'files', tools: { hang: { tool: 'write_file', args: { path: 'latch.txt', content: 'the primary is back' } } } }],
  });
  /** Kills the latch when the primary's `restart`-th process has connected. */
  const releaseLatchOnStart = (restart: number) => {
    let latchPid: number | undefined;
    let started = 0;
    return (event: BusEvent) => {
      if (isStarted('latch')(event)) latchPid ??= event.pid;
      if (isStarted('primary')(event) && ++started === restart) process.kill(latchPid!, 'SIGKILL');
    };
  };

  it('sends calls to the fallback while the primary is down and back to it once a restart brings it back, all on the bus', async () => {
    const workspace = createWorkspace();
    const gate = createStartGate(workspace);
    const openGate = gate.openWhenStarted('backup', 1, 1, 2);
    const releaseLatch = releaseLatchOnStart(2);
    const { report, events } = await run(
      {
        workspace,
        servers: {
          // Each process of it crashes on its 2nd call; recovery starts a new one after 25–50 ms.
          primary: { ...gate.fixture('--crash-on-call', '2'), fallback: [BACKUP], recovery: { initialDelayMs: 50 } },
          backup: backupServer(workspace),
          latch: latch(workspace),
        },
        tasks: [
          { id: 'before', server: 'primary', tool: 'echo', args: { text: 'before' } },
          { id: 'crashing', server: 'primary', tool: 'echo', args: { text: 'crashing' }, idempotent: true },
          { id: 'wait', server: 'latch', tool: 'hang', idempotent: true },
          { id: 'after', server: 'primary', tool: 'echo', args: { text: 'after' } },
        ],
      },
      (event) => {
        openGate(event);
        releaseLatch(event);
      },
    );

    expect(report.status).toBe('degraded');
    expect(whoServed(report)).toEqual(['before: completed by primary', 'crashing: completed by backup', 'wait: completed by builtin:files', 'after: completed by primary']);
    expect(report.output).toMatch(/^before\ncrashing\nwrote latch.txt.*\nafter$/);

    // The whole cycle, in bus order.
    let at = indexAfter(events, -1, 'before served by the primary', completedTask('before'));
    at = indexAfter(events, at, 'primary unavailable', serverState('primary', 'unavailable'));
    at = indexAfter(events, at, 'notification: calls go to backup', notification('primary', 'its calls now go to backup'));
    at = indexAfter(events, at, 'crashing served by backup', completedTask('crashing', 'backup'));
    at = indexAfter(events, at, 'primary recovering', serverState('primary', 'recovering'));
    at = indexAfter(events, at, 'notification: recovery attempt', notification('primary', 'recovery attempt 1 started'));
    at = indexAfter(events, at, 'a new primary process connected', isStarted('primary'));
    at = indexAfter(events, at, 'notification: recovered', notification('primary', 'recovered: calls go to it again'));
    indexAfter(events, at, 'after served by the primary', completedTask('after'));

    // A new process served the last call.
    const starts = events.filter(isStarted('primary'));
    expect(starts).toHaveLength(2);
    expect(starts[1]!.pid).not.toBe(starts[0]!.pid);
    expect(eventsOf(events, 'server.call.result').find((event) => event.task === 'after')?.server).toBe('primary');

    expect(notificationsAbout(report, 'primary').map((entry) => [entry.level, entry.message.replace(/ \(.*\);/, ' (…);')])).toEqual([
      ['warning', expect.stringMatching(/^server "primary" is unavailable \(…\); its calls now go to backup; reduced functionality, no fallback for: /)],
      ['info', 'server "primary" recovery attempt 1 started'],
      ['info', 'server "primary" recovered: calls go to it again'],
    ]);
  });

  it('serves from the fallback from the first call when the primary fails to start, and from the primary once a restart succeeds', async () => {
    const workspace = createWorkspace();
    const gate = createStartGate(workspace);
    // Start 1 fails (--fail-starts 1) once the fallbacks are up; start 2 (the restart) waits until the first task is done.
    const openFirstStart = gate.openWhenStarted('backup', 1, 1);
    const releaseLatch = releaseLatchOnStart(1);
    const { report, events } = await run(
      {
        workspace,
        servers: {
          primary: { ...gate.fixture('--fail-starts', '1', '--state-file', join(workspace, 'starts')), fallback: [BACKUP], recovery: { initialDelayMs: 50 } },
          backup: backupServer(workspace),
          latch: latch(workspace),
        },
        tasks: [
          { id: 'first', server: 'primary', tool: 'echo', args: { text: 'first' } },
          { id: 'wait', server: 'latch', tool: 'hang', idempotent: true },
          { id: 'then', server: 'primary', tool: 'echo', args: { text: 'then' } },
        ],
      },
      (event) => {
        openFirstStart(event);
        if (completedTask('first', 'backup')(event)) gate.open(2);
        releaseLatch(event);
      },
    );

    expect(report.status).toBe('degraded');
    expect(whoServed(report)).toEqual(['first: completed by backup', 'wait: completed by builtin:files', 'then: completed by primary']);
    const [down, recovering, recovered, ...others] = notificationsAbout(report, 'primary');
    expect(others).toEqual([]);
    expect(down!.message).toMatch(/^server "primary" is unavailable \(server "primary" failed to start .*process exited with code 3.*\); its calls now go to backup$/);
    expect(recovering!.message).toBe('server "primary" recovery attempt 1 started');
    expect(recovered!.message).toBe('server "primary" recovered: calls go to it again');
    expect(events.findIndex(notification('primary', 'recovered'))).toBeLessThan(events.findIndex((event) => event.type === 'task.started' && event.task.id === 'then'));
  });
});
