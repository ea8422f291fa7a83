/**
 * Detection and recovery in the server directory, on real fixture processes:
 * crashes, timeouts, the circuit breaker, missed pings, restarts with
 * backoff and a half-open probe, recovery that gives up, and calls held
 * while a member recovers. Calls go through the call router, lifecycle is
 * read off the directory's bus. Every wait is on a bus event or a reply,
 * never on the clock.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { listLiveGroups } from '../../actors/process-group.js';
import type { BusEvent, BusEventOf, BusEventType } from '../../src/core/bus-events.js';
import type { ServerAvailability, ServerLifecycle, ServerReply, ServerReport, ServerRequest } from '../../src/core/server-port.js';
import type { StdioServerSpec } from '../../src/core/workflow.js';
import type { RunScope } from '../../src/engine/call-router.js';
import { ServerDirectory } from '../../src/engine/server-directory.js';
import { createTempDir, FIXTURE_SERVER, isProcessAlive } from '../support/fixture.js';

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

type StateEvent = BusEventOf<'server.state'>;
type Failed = Extract<ServerReply, { type: 'server.failed' }>;

const is =
  <K extends BusEventType>(type: K) =>
  (event: BusEvent): event is BusEventOf<K> =>
    event.type === type;
const isState = (state: ServerLifecycle) => (event: BusEvent): event is StateEvent => event.type === 'server.state' && event.state === state;
const isGaveUp = (event: BusEvent): event is BusEventOf<'server.log'> => event.type === 'server.log' && event.line.startsWith('recovery gave up');

interface Harness {
  directory: ServerDirectory;
  bus: Collector<BusEvent>;
  /** Bus events and replies, in the order they happened. */
  timeline: (BusEvent | ServerReport)[];
  /** Acquires `fx` and resolves with the directory's answer. */
  acquire(): Promise<ServerAvailability>;
  call(tool: string, args?: Record<string, unknown>, extra?: { timeoutMs?: number; idempotent?: boolean }): Promise<ServerReply>;
  read(uri: string): Promise<ServerReply>;
  /** The lifecycle states published so far, in order. */
  states(): ServerLifecycle[];
  memberState(): ServerLifecycle | undefined;
}

let work: ReturnType<typeof createTempDir>;
const started: Harness[] = [];

function fixtureSpec(flags: string[], extra: Partial<StdioServerSpec> = {}): StdioServerSpec {
  return { kind: 'stdio', replicas: 1, command: process.execPath, args: [FIXTURE_SERVER, ...flags], env: {}, cwd: work.dir, ...extra };
}

const recovery = (extra: Partial<NonNullable<StdioServerSpec['recovery']>> = {}): NonNullable<StdioServerSpec['recovery']> => ({ initialDelayMs: 50, maxDelayMs: 200, factor: 2, ...extra });

/** A directory with one server, `fx`, and a requester that keeps every answer. */
function startDirectory(spec: StdioServerSpec): Harness {
  const directory = new ServerDirectory({ servers: { fx: spec }, timeoutMs: 10_000 });
  const bus = new Collector<BusEvent>();
  const answers = new Collector<ServerReport>();
  const timeline: (BusEvent | ServerReport)[] = [];
  directory.bus.events$.subscribe((event) => {
    timeline.push(event);
    bus.push(event);
  });
  const requester = {
    send(event: ServerReport) {
      timeline.push(event);
      answers.push(event);
    },
  };
  const scope: RunScope = { runId: 't', workspace: work.dir, timeoutMs: 5000, calls: new Map() };
  let calls = 0;
  const request = (request: Extract<ServerRequest, { type: 'server.call' | 'server.read' }>) => {
    directory.router.request(request, requester, scope);
    return answers.find((event): event is ServerReply => 'callId' in event && event.callId === request.callId);
  };
  const harness: Harness = {
    directory,
    bus,
    timeline,
    acquire() {
      directory.acquire(['fx'], requester);
      const count = answers.items.filter((event) => event.type === 'server.ready' || event.type === 'server.unavailable').length;
      return answers.nth(count + 1, (event): event is ServerAvailability => event.type === 'server.ready' || event.type === 'server.unavailable');
    },
    call: (tool, args = {}, extra = {}) => request({ type: 'server.call', server: 'fx', callId: `call-${++calls}`, tool, args, ...extra }),
    read: (uri) => request({ type: 'server.read', server: 'fx', callId: `call-${++calls}`, uri }),
    states: () => bus.items.filter(is('server.state')).map((event) => event.state),
    memberState: () => directory.listMembers().find((member) => member.id === 'fx#1')?.state,
  };
  started.push(harness);
  return harness;
}

const failure = (reply: ServerReply): Failed => {
  expect(reply.type).toBe('server.failed');
  return reply as Failed;
};

beforeEach(() => {
  work = createTempDir('ensemble-resilience-');
});

afterEach(async () => {
  try {
    for (const harness of started.splice(0)) {
      await harness.directory.close();
      // `closed` is published once per member, after its last process is gone.
      expect(harness.bus.items.filter(isState('closed'))).toHaveLength(1);
      expect(harness.memberState()).toBe('closed');
    }
    expect(listLiveGroups()).toEqual([]);
  } finally {
    work.remove();
  }
});

describe('server directory: serving', () => {
  it('serves once started: connecting → serving, server.joined with the tools, calls and reads reach the process', async () => {
    const h = startDirectory(fixtureSpec([]));
    const ready = await h.acquire();
    expect(ready.type).toBe('server.ready');
    const names = (ready as Extract<ServerAvailability, { type: 'server.ready' }>).tools.map((tool) => tool.name);
    expect(names).toEqual(expect.arrayContaining(['noop', 'echo', 'add', 'hang', 'crash']));

    const serving = await h.bus.find(isState('serving'));
    expect(h.states()).toEqual(['connecting', 'serving']);
    expect(isProcessAlive(serving.pid!)).toBe(true);
    const joined = await h.bus.find(is('server.joined'));
    expect(joined).toMatchObject({ server: 'fx', replica: 1 });
    expect(joined.tools.map((tool) => tool.name)).toEqual(names);

    expect(await h.call('echo', { text: 'hello' })).toMatchObject({ type: 'server.result', server: 'fx', result: { text: 'hello', isError: false } });
    expect(await h.call('add', { a: 2, b: 3 })).toMatchObject({ type: 'server.result', result: { json: { sum: 5 } } });
    expect(await h.read('fixture://config')).toMatchObject({ type: 'server.resource', resource: { json: { mode: 'test', level: 3 } } });
    expect(h.directory.listMembers()).toEqual([{ id: 'fx#1', server: 'fx', replica: 1, state: 'serving', inFlight: 0 }]);
  });
});

describe('server directory: detection', () => {
  it('answers a call the process crashes on with SERVER_UNAVAILABLE; without recovery the member is withdrawn for good and later calls are refused at once with the cause', async () => {
    const h = startDirectory(fixtureSpec(['--crash-on-call', '1']));
    await h.acquire();
    const serving = await h.bus.find(isState('serving'));

    const crashed = failure(await h.call('noop'));
    expect(crashed.error.code).toBe('SERVER_UNAVAILABLE');
    expect(crashed.error.message).toContain('process exited with code 1');
    expect(crashed.refused).toBeUndefined();

    const withdrawn = await h.bus.find(is('server.withdrawn'));
    expect(withdrawn).toMatchObject({ server: 'fx', replica: 1, error: { code: 'SERVER_UNAVAILABLE' }, tools: [], servedBy: [] });
    expect(withdrawn.error.message).toContain('process exited with code 1');
    await h.bus.find(isState('unavailable'));
    await vi.waitFor(() => expect(isProcessAlive(serving.pid!)).toBe(false));

    // Nothing can serve it now: refused at once, with the cause, and nothing restarts.
    const refused = failure(await h.call('noop'));
    expect(refused).toMatchObject({ refused: true, error: { code: 'SERVER_UNAVAILABLE', message: withdrawn.error.message } });
    expect(await h.acquire()).toEqual({ type: 'server.unavailable', server: 'fx', error: withdrawn.error });
    expect(h.states()).toEqual(['connecting', 'serving', 'unavailable']);
    expect(h.bus.items.some(is('server.restored'))).toBe(false);
  });

  it('answers a call that times out with CALL_TIMEOUT and, with no fallback, takes nothing out of service', async () => {
    const h = startDirectory(fixtureSpec([]));
    await h.acquire();
    for (let i = 0; i < 3; i++) {
      const timedOut = failure(await h.call('hang', {}, { timeoutMs: 150 }));
      expect(timedOut.error).toMatchObject({ code: 'CALL_TIMEOUT', server: 'fx' });
      expect(timedOut.error.message).toContain('timed out after 150 ms');
      expect(h.memberState()).toBe('serving');
    }
    expect(await h.call('echo', { text: 'still here' })).toMatchObject({ type: 'server.result', result: { text: 'still here' } });
    expect(h.states()).toEqual(['connecting', 'serving']);
    expect(h.bus.items.some(is('server.withdrawn'))).toBe(false);
  });

  it('keeps the circuit closed on isError results: the server answered', async () => {
    const h = startDirectory(fixtureSpec([], { circuitBreaker: { failureThreshold: 2, resetTimeoutMs: 60_000 } }));
    await h.acquire();
    for (let i = 0; i < 3; i++) expect(await h.call('fail')).toMatchObject({ type: 'server.result', result: { isError: true, text: 'fixture failure' } });
    expect(await h.call('echo', { text: 'still here' })).toMatchObject({ type: 'server.result', result: { text: 'still here' } });
    expect(h.memberState()).toBe('serving');
    expect(h.states()).toEqual(['connecting', 'serving']);
  });

  it('opens the circuit after failureThreshold failed calls in a row (CALL_FAILED, CALL_TIMEOUT); the member goes unavailable, stays out for resetTimeoutMs, then recovers', async () => {
    const resetTimeoutMs = 400;
    const h = startDirectory(fixtureSpec([], { circuitBreaker: { failureThreshold: 2, resetTimeoutMs }, recovery: recovery() }));
    await h.acquire();
    const first = await h.bus.find(isState('serving'));

    // A failure (a result that is not a CallToolResult), then a success: not in a row, the circuit stays closed.
    expect(failure(await h.call('malformed')).error.code).toBe('CALL_FAILED');
    expect(await h.call('noop')).toMatchObject({ type: 'server.result' });
    expect(failure(await h.call('malformed')).error.code).toBe('CALL_FAILED');
    expect(h.memberState()).toBe('serving');

    // The second failure in a row opens it.
    expect(failure(await h.call('hang', {}, { timeoutMs: 150 })).error.code).toBe('CALL_TIMEOUT');
    const withdrawn = await h.bus.find(is('server.withdrawn'));
    expect(withdrawn.error.code).toBe('CIRCUIT_OPEN');
    expect(withdrawn.error.message).toContain('circuit opened after 2 failed calls in a row');
    expect(withdrawn.error.message).toContain('timed out after 150 ms');
    const open = await h.bus.find(isState('unavailable'));
    expect(open.error?.code).toBe('CIRCUIT_OPEN');

    // Half-open after at least resetTimeoutMs (a few ms of timer slack), then closed again.
    const recovering = await h.bus.find(isState('recovering'));
    expect(recovering.attempt).toBe(1);
    expect(recovering.at - open.at).toBeGreaterThanOrEqual(resetTimeoutMs - 5);
    await h.bus.find(is('server.restored'));
    const second = await h.bus.nth(2, isState('serving'));
    expect(h.states()).toEqual(['connecting', 'serving', 'unavailable', 'recovering', 'probing', 'serving']);
    expect(second.pid).not.toBe(first.pid);
    await vi.waitFor(() => expect(isProcessAlive(first.pid!)).toBe(false));
    expect(await h.call('echo', { text: 'closed again' })).toMatchObject({ type: 'server.result', result: { text: 'closed again' } });
  });

  it('takes the member out at its first timeout when a fallback is declared; the fallback serves its calls', async () => {
    const h = startDirectory(fixtureSpec([], { fallback: [{ kind: 'builtin', builtin: 'files', tools: {} }] }));
    await h.acquire();

    const timedOut = failure(await h.call('hang', {}, { timeoutMs: 150 }));
    expect(timedOut.error.code).toBe('CALL_TIMEOUT');
    expect(timedOut.error.message).toMatch(/timed out after 150 ms \(not retried on a fallback: the task is not marked idempotent\)$/);
    const withdrawn = await h.bus.find(is('server.withdrawn'));
    expect(withdrawn).toMatchObject({ error: { code: 'CALL_TIMEOUT', server: 'fx' }, servedBy: ['builtin:files'] });
    expect(withdrawn.tools.map((tool) => tool.name)).toEqual(expect.arrayContaining(['write_file', 'read_file']));

    const written = await h.call('write_file', { path: 'out/note.txt', content: 'kept' });
    expect(written).toMatchObject({ type: 'server.result', server: 'fx', servedBy: 'builtin:files', result: { isError: false, text: 'wrote out/note.txt (4 bytes)' } });
    expect(readFileSync(join(work.dir, 'out', 'note.txt'), 'utf8')).toBe('kept');
  });

  it('goes unavailable with HEALTH_CHECK_FAILED when pings go unanswered, answering the call in flight with the cause', async () => {
    const h = startDirectory(fixtureSpec(['--no-ping'], { healthCheck: { intervalMs: 100, timeoutMs: 100, failures: 2 } }));
    await h.acquire();
    const serving = await h.bus.find(isState('serving'));
    // Calls keep working on a server that does not answer pings: only the health check notices.
    expect(await h.call('echo', { text: 'fine' })).toMatchObject({ type: 'server.result', result: { text: 'fine' } });
    const hung = h.call('hang', {}, { timeoutMs: 30_000 });

    const withdrawn = await h.bus.find(is('server.withdrawn'));
    expect(withdrawn.error).toMatchObject({ code: 'HEALTH_CHECK_FAILED', server: 'fx' });
    expect(withdrawn.error.message).toContain('missed 2 pings in a row');
    expect(await h.bus.find(isState('unavailable'))).toMatchObject({ error: { code: 'HEALTH_CHECK_FAILED' } });
    expect(failure(await hung).error.code).toBe('HEALTH_CHECK_FAILED');
    // Leaving the live state killed the sick process.
    await vi.waitFor(() => expect(isProcessAlive(serving.pid!)).toBe(false));
    expect(failure(await h.call('noop'))).toMatchObject({ refused: true, error: { code: 'HEALTH_CHECK_FAILED' } });
  });
});

describe('server directory: recovery', () => {
  it('restarts a crashed server as a new process: withdrawn, then restored, and calls work again', async () => {
    const h = startDirectory(fixtureSpec([], { recovery: recovery() }));
    await h.acquire();
    const first = await h.bus.find(isState('serving'));

    const crashed = failure(await h.call('crash'));
    expect(crashed.error.code).toBe('SERVER_UNAVAILABLE');
    expect(await h.bus.find(is('server.withdrawn'))).toMatchObject({ error: { code: 'SERVER_UNAVAILABLE' } });
    expect(await h.bus.find(isState('recovering'))).toMatchObject({ attempt: 1 });
    expect(await h.bus.find(is('server.restored'))).toMatchObject({ server: 'fx', replica: 1 });
    const second = await h.bus.nth(2, isState('serving'));

    expect(h.states()).toEqual(['connecting', 'serving', 'unavailable', 'recovering', 'probing', 'serving']);
    expect(second.pid).not.toBe(first.pid);
    expect(await h.call('echo', { text: 'again' })).toMatchObject({ type: 'server.result', result: { text: 'again' } });
    await vi.waitFor(() => expect(isProcessAlive(first.pid!)).toBe(false));
    expect(h.bus.items.filter(is('server.joined'))).toHaveLength(1);
  });

  it('restarts a server that fails to start (--fail-starts 2), with backoff, until it comes back', async () => {
    const stateFile = join(work.dir, 'starts');
    const h = startDirectory(fixtureSpec(['--fail-starts', '2', '--state-file', stateFile], { recovery: recovery() }));
    // The directory answers once the member has settled: here, its first start failed.
    const answer = await h.acquire();
    expect(answer).toMatchObject({ type: 'server.unavailable', error: { code: 'SERVER_START_FAILED' } });

    await h.bus.find(is('server.joined'));
    expect(h.states()).toEqual(['connecting', 'unavailable', 'recovering', 'unavailable', 'recovering', 'probing', 'serving']);
    expect(h.bus.items.filter(isState('recovering')).map((event) => event.attempt)).toEqual([1, 2]);
    expect(h.bus.items.find(isState('unavailable'))?.error?.code).toBe('SERVER_START_FAILED');
    // It never served before, so it joins (no withdrawn/restored).
    expect(h.bus.items.some(is('server.withdrawn'))).toBe(false);
    expect(h.bus.items.some(is('server.restored'))).toBe(false);

    expect(await h.call('echo', { text: 'back' })).toMatchObject({ type: 'server.result', result: { text: 'back' } });
    expect(readFileSync(stateFile, 'utf8').trim()).toBe('3');
    expect(await h.acquire()).toMatchObject({ type: 'server.ready' });
  });

  it('gives up after maxAttempts (--exit-at-start): server.log says so, and later calls are refused with the cause', async () => {
    const h = startDirectory(fixtureSpec(['--exit-at-start', '1'], { recovery: recovery({ initialDelayMs: 20, maxAttempts: 2 }) }));
    expect(await h.acquire()).toMatchObject({ type: 'server.unavailable', error: { code: 'SERVER_START_FAILED' } });
    const gaveUp = await h.bus.find(isGaveUp);

    const last = h.bus.items.filter(isState('unavailable')).at(-1)!;
    expect(gaveUp).toMatchObject({ server: 'fx', line: expect.stringContaining(`last error: ${last.error!.message}`) });
    expect(h.bus.items.filter(isState('recovering')).map((event) => event.attempt)).toEqual([1, 2]);
    expect(h.states()).toEqual(['connecting', 'unavailable', 'recovering', 'unavailable', 'recovering', 'unavailable']);
    expect(h.memberState()).toBe('unavailable');

    const refused = failure(await h.call('noop'));
    expect(refused).toMatchObject({ refused: true, error: { code: 'SERVER_START_FAILED', message: last.error!.message } });
    expect(h.bus.items.filter(isGaveUp)).toHaveLength(1);
  });

  it('keeps a restarted server out of service when it fails the half-open probe (ping)', async () => {
    // The health check never fires in this test; its timeoutMs bounds the probe's ping.
    const h = startDirectory(fixtureSpec(['--no-ping'], { healthCheck: { intervalMs: 600_000, timeoutMs: 200, failures: 1 }, recovery: recovery({ maxAttempts: 1 }) }));
    await h.acquire();

    expect(failure(await h.call('crash')).error.code).toBe('SERVER_UNAVAILABLE');
    await h.bus.find(isState('probing'));
    const probeFailed = await h.bus.nth(2, isState('unavailable'));
    expect(probeFailed.error).toMatchObject({ code: 'HEALTH_CHECK_FAILED' });
    expect(probeFailed.error!.message).toContain('probe ping');
    await h.bus.find(isGaveUp);
    // The restarted process answered initialize and tools/list, but no call reached it.
    expect(h.states()).toEqual(['connecting', 'serving', 'unavailable', 'recovering', 'probing', 'unavailable']);
    expect(h.bus.items.some(is('server.restored'))).toBe(false);
    expect(failure(await h.call('noop'))).toMatchObject({ refused: true, error: { code: 'HEALTH_CHECK_FAILED' } });
  });
});

describe('server directory: calls held while a member recovers', () => {
  it('holds a call while no replica is live and serves it once the member is restored', async () => {
    const h = startDirectory(fixtureSpec([], { recovery: recovery({ initialDelayMs: 300, maxDelayMs: 300, factor: 1 }) }));
    await h.acquire();
    expect(failure(await h.call('crash')).error.code).toBe('SERVER_UNAVAILABLE');
    const withdrawn = await h.bus.find(is('server.withdrawn'));

    // No live replica, but one is recovering: the call waits for it instead of failing.
    const reply = await h.call('echo', { text: 'held' }, { timeoutMs: 20_000 });
    expect(reply).toMatchObject({ type: 'server.result', result: { text: 'held' } });
    const restored = await h.bus.find(is('server.restored'));
    const at = (item: BusEvent | ServerReport) => h.timeline.indexOf(item);
    expect(at(withdrawn)).toBeLessThan(at(restored));
    expect(at(restored)).toBeLessThan(at(reply));
    expect(h.directory.router.pool('fx')!.held).toEqual([]);
  });

  it('fails a held call with the cause when recovery gives up (--fail-starts beyond maxAttempts)', async () => {
    const stateFile = join(work.dir, 'starts');
    const h = startDirectory(fixtureSpec(['--fail-starts', '5', '--state-file', stateFile], { recovery: recovery({ initialDelayMs: 100, maxDelayMs: 100, factor: 1, maxAttempts: 2 }) }));
    await h.acquire();
    await h.bus.find(isState('unavailable'));

    const reply = failure(await h.call('echo', { text: 'never' }, { timeoutMs: 20_000 }));
    const gaveUp = await h.bus.find(isGaveUp);
    const last = h.bus.items.filter(isState('unavailable')).at(-1)!;
    expect(reply).toMatchObject({ refused: true, error: { code: 'SERVER_START_FAILED', message: last.error!.message } });
    expect(h.timeline.indexOf(gaveUp)).toBeLessThan(h.timeline.indexOf(reply));
    expect(h.bus.items.filter(isState('recovering')).map((event) => event.attempt)).toEqual([1, 2]);
    // The first start and two recovery attempts: three starts, all failed.
    expect(readFileSync(stateFile, 'utf8').trim()).toBe('3');
    expect(failure(await h.call('noop'))).toMatchObject({ refused: true, error: { code: 'SERVER_START_FAILED' } });
  });

  it('fails a held call after its timeout when no member recovers in time', async () => {
    const stateFile = join(work.dir, 'starts');
    const h = startDirectory(fixtureSpec(['--fail-starts', '1', '--state-file', stateFile], { recovery: recovery({ initialDelayMs: 600_000, maxDelayMs: 600_000 }) }));
    await h.acquire();
    const down = await h.bus.find(isState('unavailable'));

    const reply = failure(await h.call('echo', { text: 'late' }, { timeoutMs: 200 }));
    expect(reply).toMatchObject({ refused: true, error: { code: 'SERVER_UNAVAILABLE' } });
    expect(reply.error.message).toBe(`server "fx" has no live replica (${down.error!.message}); the call waited 200 ms for one to recover`);
    expect(h.states()).toEqual(['connecting', 'unavailable']);
  });

  it('answers a held call when the directory closes, instead of leaving it waiting', async () => {
    const stateFile = join(work.dir, 'starts');
    const h = startDirectory(fixtureSpec(['--fail-starts', '1', '--state-file', stateFile], { recovery: recovery({ initialDelayMs: 600_000, maxDelayMs: 600_000 }) }));
    await h.acquire();
    await h.bus.find(isState('unavailable'));

    const held = h.call('echo', { text: 'never' }, { timeoutMs: 60_000 });
    await h.directory.close();
    expect(failure(await held)).toMatchObject({ refused: true, error: { code: 'SERVER_START_FAILED' } });
  });
});
