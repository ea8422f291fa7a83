/**
 * Detection and recovery in the server actor, on real fixture processes:
 * missed pings, crashes, a circuit breaker, a timeout with a fallback
 * declared, restarts with backoff and a half-open probe. Every wait is on a
 * report or a bus event, never on the clock.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createActor, sendTo, setup } from 'xstate';
import { listLiveGroups } from '../../actors/process-group.js';
import { createServerActor } from '../../actors/server.actor.js';
import type { BusPayload } from '../../src/core/bus-events.js';
import type { ServerCommand, ServerReport } from '../../src/core/server-port.js';
import type { ResilienceSpec, StdioServerSpec } from '../../src/core/workflow.js';
import { createTempDir, FIXTURE_SERVER, isProcessAlive, ROOT } from '../support/fixture.js';

/** Everything seen so far, and promises for what has not happened yet. */
class Collector<T> {
  readonly items: T[] = [];
  private readonly waiting: { predicate: (item: T) => boolean; resolve: (item: T) => void }[] = [];

  push(item: T): void {
    this.items.push(item);
    for (const waiter of [...this.waiting]) {
      if (!waiter.predicate(item)) continue;
      this.waiting.splice(this.waiting.indexOf(waiter), 1);
      waiter.resolve(item);
    }
  }

  /** The first item, past or future, that matches. */
  find<U extends T>(predicate: (item: T) => item is U): Promise<U>;
  find(predicate: (item: T) => boolean): Promise<T>;
  find(predicate: (item: T) => boolean): Promise<T> {
    const seen = this.items.find(predicate);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiting.push({ predicate, resolve }));
  }

  /** The nth (1-based) item, past or future, that matches. */
  nth<U extends T>(n: number, predicate: (item: T) => item is U): Promise<U>;
  nth(n: number, predicate: (item: T) => boolean): Promise<T>;
  nth(n: number, predicate: (item: T) => boolean): Promise<T> {
    let count = 0;
    return this.find((item) => predicate(item) && ++count === n);
  }
}

type Report<K extends ServerReport['type']> = Extract<ServerReport, { type: K }>;
type StateEvent = Extract<BusPayload, { type: 'server.state' }>;

const is =
  <K extends ServerReport['type']>(type: K) =>
  (report: ServerReport): report is Report<K> =>
    report.type === type;
const isState = (state: StateEvent['state']) => (event: BusPayload): event is StateEvent => event.type === 'server.state' && event.state === state;

function fixtureSpec(flags: string[], resilience: Partial<ResilienceSpec> & { timeoutMs?: number } = {}): StdioServerSpec {
  return { kind: 'stdio', replicas: 1, command: process.execPath, args: [FIXTURE_SERVER, ...flags], env: {}, cwd: ROOT, ...resilience };
}

interface ServerHarness {
  bus: Collector<BusPayload>;
  reports: Collector<ServerReport>;
  send(command: ServerCommand): void;
  /** Sends a call and resolves with its one reply. */
  call(tool: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<Report<'server.result' | 'server.failed'>>;
  /** Whether the server actor is in this state under `open`. */
  matches(state: Record<string, unknown>): boolean;
  /** Stops the actor and waits until its processes are gone. */
  close(): Promise<void>;
}

const started: ServerHarness[] = [];

/** Spawns the server actor under a tiny parent that forwards commands and collects its reports. */
function startServer(spec: StdioServerSpec): ServerHarness {
  const bus = new Collector<BusPayload>();
  const reports = new Collector<ServerReport>();
  const closes = new Set<Promise<void>>();
  const server = createServerActor({ publish: (event) => bus.push(event), trackClose: (closing) => closes.add(closing) });
  const parent = setup({
    types: { events: {} as ServerReport | { type: 'send'; command: ServerCommand } },
    actors: { server },
  }).createMachine({
    invoke: { id: 'server', src: 'server', input: { name: 'fx', spec, runId: 'resilience', timeoutMs: 10_000 } },
    on: {
      send: { actions: sendTo('server', ({ event }) => (event as { command: ServerCommand }).command) },
      '*': { actions: ({ event }) => reports.push(event as ServerReport) },
    },
  });
  const actor = createActor(parent).start();
  let calls = 0;
  let closed = false;

  const harness: ServerHarness = {
    bus,
    reports,
    send: (command) => actor.send({ type: 'send', command }),
    call(tool, args = {}, timeoutMs) {
      const callId = `call-${++calls}`;
      harness.send({ type: 'server.call', callId, tool, args, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
      return reports.find((report): report is Report<'server.result' | 'server.failed'> => (report.type === 'server.result' || report.type === 'server.failed') && report.callId === callId);
    },
    matches: (state) => actor.getSnapshot().children.server!.getSnapshot().matches({ open: state } as never),
    async close() {
      if (closed) return;
      closed = true;
      actor.stop();
      let seen = -1;
      while (seen !== closes.size) {
        seen = closes.size;
        await Promise.allSettled([...closes]);
      }
    },
  };
  started.push(harness);
  return harness;
}

afterEach(async () => {
  const servers = started.splice(0);
  for (const server of servers) {
    await server.close();
    // `closed` is published once per actor, after its last process is gone.
    expect(server.bus.items.filter(isState('closed'))).toHaveLength(1);
  }
  expect(listLiveGroups()).toEqual([]);
});

const recovery = (extra: Partial<ResilienceSpec['recovery']> = {}): ResilienceSpec['recovery'] => ({ initialDelayMs: 50, maxDelayMs: 200, factor: 2, ...extra });

describe('server actor: detection', () => {
  it('goes unavailable with HEALTH_CHECK_FAILED when pings go unanswered, answering the call in flight with the cause', async () => {
    const server = startServer(fixtureSpec(['--no-ping'], { healthCheck: { intervalMs: 100, timeoutMs: 100, failures: 2 } }));
    const ready = await server.bus.find(isState('ready'));
    // Calls keep working on a server that does not answer pings: only the health check notices.
    const hung = server.call('hang', {}, 30_000);

    const unavailable = await server.reports.find(is('server.unavailable'));
    expect(unavailable.error).toMatchObject({ code: 'HEALTH_CHECK_FAILED', server: 'fx' });
    expect(unavailable.error.message).toContain('missed 2 pings');
    expect(await hung).toMatchObject({ type: 'server.failed', error: { code: 'HEALTH_CHECK_FAILED' } });
    expect(await server.bus.find(isState('unavailable'))).toMatchObject({ error: { code: 'HEALTH_CHECK_FAILED' } });
    // Leaving the live state killed the sick process.
    await vi.waitFor(() => expect(isProcessAlive(ready.pid!)).toBe(false));
  });

  it('goes unavailable with SERVER_UNAVAILABLE and the exit code when the process crashes during a call', async () => {
    const server = startServer(fixtureSpec(['--crash-on-call', '1']));
    await server.reports.find(is('server.ready'));

    const reply = await server.call('noop');
    expect(reply).toMatchObject({ type: 'server.failed', error: { code: 'SERVER_UNAVAILABLE' } });
    const unavailable = await server.reports.find(is('server.unavailable'));
    expect(unavailable.error.code).toBe('SERVER_UNAVAILABLE');
    expect(unavailable.error.message).toContain('process exited with code 1');
    // Nothing more can be served: calls are refused at once, with the cause.
    expect(await server.call('noop')).toMatchObject({ type: 'server.failed', refused: true, error: { message: unavailable.error.message } });
  });

  it('opens the circuit after failureThreshold timeouts in a row (no fallback: one timeout alone keeps it usable)', async () => {
    const server = startServer(fixtureSpec([], { circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } }));
    await server.reports.find(is('server.ready'));

    expect(await server.call('hang', {}, 200)).toMatchObject({ type: 'server.failed', error: { code: 'CALL_TIMEOUT' } });
    expect(server.matches({ live: 'serving' })).toBe(true);
    expect(await server.call('hang', {}, 200)).toMatchObject({ type: 'server.failed', error: { code: 'CALL_TIMEOUT' } });

    const unavailable = await server.reports.find(is('server.unavailable'));
    expect(unavailable.error.code).toBe('CIRCUIT_OPEN');
    expect(unavailable.error.message).toContain('after 2 failed calls');
    expect(unavailable.error.message).toContain('timed out');
  });

  it('keeps the circuit closed on isError results: the server answered', async () => {
    const server = startServer(fixtureSpec([], { circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } }));
    await server.reports.find(is('server.ready'));
    for (let i = 0; i < 3; i++) expect(await server.call('fail')).toMatchObject({ type: 'server.result', result: { isError: true } });
    expect(await server.call('echo', { text: 'still here' })).toMatchObject({ type: 'server.result', result: { text: 'still here' } });
    expect(server.reports.items.some(is('server.unavailable'))).toBe(false);
  });

  it('goes unavailable at the first timeout when a fallback is declared', async () => {
    const server = startServer(fixtureSpec([], { fallback: [{ kind: 'builtin', builtin: 'files', tools: {} }] }));
    await server.reports.find(is('server.ready'));

    const reply = await server.call('hang', {}, 200);
    expect(reply).toMatchObject({ type: 'server.failed', error: { code: 'CALL_TIMEOUT' } });
    const unavailable = await server.reports.find(is('server.unavailable'));
    expect(unavailable.error).toMatchObject({ code: 'CALL_TIMEOUT', server: 'fx' });
  });
});

describe('server actor: recovery', () => {
  it('restarts a primary that fails to start, with backoff, until it comes back', async () => {
    const work = createTempDir();
    try {
      const server = startServer(fixtureSpec(['--fail-starts', '2', '--state-file', join(work.dir, 'starts')], { recovery: recovery() }));
      await server.reports.find(is('server.ready'));

      const lifecycle = server.reports.items.filter((report) => report.type !== 'server.result' && report.type !== 'server.failed').map((report) => report.type);
      expect(lifecycle).toEqual(['server.unavailable', 'server.recovering', 'server.unavailable', 'server.recovering', 'server.ready']);
      expect(server.reports.items.filter(is('server.recovering')).map((report) => report.attempt)).toEqual([1, 2]);
      expect(server.reports.items.find(is('server.unavailable'))?.error.code).toBe('SERVER_START_FAILED');
      expect(server.bus.items.filter(isState('recovering'))).toHaveLength(2);

      expect(await server.call('echo', { text: 'back' })).toMatchObject({ type: 'server.result', result: { text: 'back' } });
    } finally {
      work.remove();
    }
  });

  it('restarts a crashed server as a new process; the next call succeeds and the old process is gone', async () => {
    const server = startServer(fixtureSpec([], { recovery: recovery() }));
    const first = await server.bus.find(isState('ready'));

    expect(await server.call('crash')).toMatchObject({ type: 'server.failed', error: { code: 'SERVER_UNAVAILABLE' } });
    expect(await server.reports.find(is('server.recovering'))).toMatchObject({ attempt: 1 });
    await server.reports.nth(2, is('server.ready'));
    const second = await server.bus.nth(2, isState('ready'));

    expect(second.pid).not.toBe(first.pid);
    expect(await server.call('echo', { text: 'again' })).toMatchObject({ type: 'server.result', result: { text: 'again' } });
    await vi.waitFor(() => expect(isProcessAlive(first.pid!)).toBe(false));
  });

  it('gives up after maxAttempts and stays unavailable', async () => {
    const server = startServer(fixtureSpec(['--exit-at-start', '1'], { recovery: recovery({ initialDelayMs: 20, maxAttempts: 2 }) }));
    const gaveUp = await server.bus.find((event) => event.type === 'server.log' && event.line.startsWith('recovery gave up'));

    expect(gaveUp).toMatchObject({ line: expect.stringContaining('after 2 attempts') });
    expect(server.reports.items.filter(is('server.recovering')).map((report) => report.attempt)).toEqual([1, 2]);
    expect(server.reports.items.filter(is('server.unavailable'))).toHaveLength(3);
    expect(server.matches({ unavailable: 'gaveUp' })).toBe(true);
    expect(await server.call('noop')).toMatchObject({ type: 'server.failed', refused: true, error: { code: 'SERVER_START_FAILED' } });
  });

  it('restarts at once on server.restart, without waiting for the backoff delay', async () => {
    const work = createTempDir();
    try {
      const server = startServer(fixtureSpec(['--fail-starts', '1', '--state-file', join(work.dir, 'starts')], { recovery: recovery({ initialDelayMs: 600_000, maxDelayMs: 600_000 }) }));
      await server.reports.find(is('server.unavailable'));
      // Still down: calls are refused with the cause.
      expect(await server.call('noop')).toMatchObject({ type: 'server.failed', refused: true, error: { code: 'SERVER_START_FAILED' } });

      server.send({ type: 'server.restart' });
      expect(await server.reports.find(is('server.recovering'))).toMatchObject({ attempt: 1 });
      await server.reports.find(is('server.ready'));
      expect(await server.call('echo', { text: 'restarted' })).toMatchObject({ type: 'server.result', result: { text: 'restarted' } });
    } finally {
      work.remove();
    }
  });

  it('keeps a restarted server out of service when it fails the half-open probe (ping)', async () => {
    // The health check never fires in this test; its timeoutMs bounds the probe's ping.
    const server = startServer(fixtureSpec(['--no-ping'], { healthCheck: { intervalMs: 600_000, timeoutMs: 200, failures: 1 }, recovery: recovery({ maxAttempts: 1 }) }));
    await server.reports.find(is('server.ready'));

    await server.call('crash');
    const probeFailed = await server.reports.nth(2, is('server.unavailable'));
    expect(probeFailed.error.code).toBe('HEALTH_CHECK_FAILED');
    expect(probeFailed.error.message).toContain('probe ping');
    // The restarted process answered initialize and tools/list, but no call reached it.
    expect(server.reports.items.filter(is('server.ready'))).toHaveLength(1);
  });
});
