/**
 * Model-based tests of the server member machine: paths are generated with
 * @xstate/graph over members with and without recovery and health checks,
 * each path is replayed on a live member whose connection is a recording fake
 * and whose delays run on a simulated clock, and every step checks the live
 * member against the pure model, what it reported to its parent and what it
 * asked of its connection. The suite fails when any state or transition of
 * the definition is never reached by the generated paths.
 */
import { createActor, fromCallback, initialTransition, isMachineSnapshot, SimulatedClock, transition, type AnyActorRef, type AnyEventObject, type InspectionEvent, type SnapshotFrom } from 'xstate';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import type { ErrorCode, ErrorInfo } from '../../src/core/errors.js';
import type { ToolInfo } from '../../src/core/results.js';
import type { ConnectionCommand, ConnectionEvent, ServerLifecycle, ServerMemberInput } from '../../src/core/server-port.js';
import type { StdioServerSpec } from '../../src/core/workflow.js';
import { backoffDelay, serverMachine, type MemberStateReport, type ServerMemberContext, type ServerMemberEvent } from '../../machines/server.machine.js';
import { createCoverage, createMachineModel, listEdgePaths } from '../support/transition-coverage.js';

type Snapshot = SnapshotFrom<typeof serverMachine>;

/** Fixed delays, so a path's timers fire at known times on the simulated clock. */
const DELAYS = { backoff: 100, healthInterval: 50 } as const;
type DelayName = keyof typeof DELAYS;

/** The event type XState raises when a state's `after` delay elapses: `xstate.after.<delay>.<stateNodeId>`. */
const delayedEventType = (stateId: string): string => serverMachine.getStateNodeById(stateId).after[0]!.eventType;
const HEALTH_TICK = delayedEventType('server.live.serving.health.waiting');
const BACKOFF_TICK = delayedEventType('server.unavailable.backingOff');
const delayOf = (type: string): DelayName | undefined => (type === HEALTH_TICK ? 'healthInterval' : type === BACKOFF_TICK ? 'backoff' : undefined);
/** Delayed events are not part of the machine's event union, but the model offers them like any other. */
const tick = (type: string) => ({ type }) as unknown as ServerMemberEvent;

const stdio: StdioServerSpec = { kind: 'stdio', replicas: 1, command: 'node', args: ['x.js'], env: {}, cwd: '/tmp' };

interface Case {
  label: string;
  input: ServerMemberInput;
  /** The timeout the half-open probe's ping must carry. */
  probeTimeoutMs: number;
}

/** Between them, every guard branch: no recovery, limited and unlimited recovery, health check or none. */
const cases: Case[] = [
  {
    label: 'no recovery, no health check',
    input: { name: 'plain', replica: 1, spec: stdio, timeoutMs: 1000 },
    probeTimeoutMs: 1000,
  },
  {
    label: 'one recovery attempt, two missed pings, breaker',
    input: {
      name: 'guarded',
      replica: 2,
      spec: {
        ...stdio,
        replicas: 2,
        timeoutMs: 700,
        healthCheck: { intervalMs: 50, timeoutMs: 20, failures: 2 },
        recovery: { initialDelayMs: 100, maxDelayMs: 1000, factor: 2, maxAttempts: 1 },
        circuitBreaker: { failureThreshold: 3, resetTimeoutMs: 500 },
      },
      timeoutMs: 1000,
    },
    probeTimeoutMs: 20,
  },
  {
    label: 'unlimited recovery, no health check',
    input: { name: 'stubborn', replica: 1, spec: { ...stdio, timeoutMs: 700, recovery: { initialDelayMs: 100, maxDelayMs: 400, factor: 3 } }, timeoutMs: 1000 },
    probeTimeoutMs: 700,
  },
];

const tools: ToolInfo[] = [{ name: 'echo' }, { name: 'read' }];
const changedTools: ToolInfo[] = [{ name: 'echo' }, { name: 'write' }];
const fail = (code: ErrorCode, message: string, server: string): ErrorInfo => ({ code, message, server });

/** Recovery attempts are capped here (restarts after giving up would count on for ever). */
const MAX_ATTEMPT = 2;

/** The events the outside world can send in each state: the connection, the call router, the directory, the clock. */
function eventsFor(snapshot: Snapshot): ServerMemberEvent[] {
  const { context } = snapshot;
  const server = context.name;
  const close: ServerMemberEvent = { type: 'server.close' };
  const lost: ServerMemberEvent = { type: 'conn.lost', error: fail('SERVER_UNAVAILABLE', 'process exited with code 1', server) };
  const pingFailed: ServerMemberEvent = { type: 'conn.ping.failed', error: fail('CALL_TIMEOUT', 'ping timed out', server) };
  if (snapshot.matches({ live: 'connecting' })) {
    return [{ type: 'conn.open', tools, pid: 4242 }, { type: 'conn.failed', error: fail('SERVER_START_FAILED', 'spawn node ENOENT', server) }, lost, close];
  }
  if (snapshot.matches({ live: 'recovering' })) {
    return [{ type: 'conn.open', tools }, { type: 'conn.failed', error: fail('SERVER_START_FAILED', 'initialize failed', server) }, close];
  }
  if (snapshot.matches({ live: 'probing' })) return [{ type: 'conn.pong' }, pingFailed, lost, close];
  if (snapshot.matches({ live: 'serving' })) {
    const events: ServerMemberEvent[] = [
      { type: 'conn.tools', tools: changedTools },
      { type: 'calls.tripped', error: fail('CIRCUIT_OPEN', '3 calls failed in a row', server) },
      lost,
      close,
    ];
    if (snapshot.matches({ live: { serving: { health: 'pinging' } } })) events.push({ type: 'conn.pong' }, pingFailed);
    if (snapshot.matches({ live: { serving: { health: 'waiting' } } })) events.push(tick(HEALTH_TICK));
    return events;
  }
  const retry = context.attempt < MAX_ATTEMPT;
  if (snapshot.matches({ unavailable: 'backingOff' })) return [...(retry ? [tick(BACKOFF_TICK), { type: 'server.restart' as const }] : []), close];
  if (snapshot.matches({ unavailable: 'gaveUp' }) || snapshot.matches({ unavailable: 'down' })) return [...(retry ? [{ type: 'server.restart' as const }] : []), close];
  return [];
}

/** The model's state: the state value and the counters that change what happens next; no tool lists, no pids. */
const serializeState = (snapshot: Snapshot) =>
  JSON.stringify({ value: snapshot.value, attempt: snapshot.context.attempt, missedPings: snapshot.context.missedPings, error: snapshot.context.error?.code });

const modelMachine = serverMachine.provide({ delays: DELAYS });
const model = createMachineModel(modelMachine);
const generationStarted = performance.now();
const paths = cases.flatMap((entry) =>
  listEdgePaths(model.getShortestPaths({ input: entry.input, events: eventsFor, serializeState }), eventsFor, serializeState).map((path) => ({ entry, path })),
);
const generationMs = performance.now() - generationStarted;

const coverage = createCoverage(serverMachine);
/**
 * The coverage helper reads only `@xstate.microstep`; the initial state is entered
 * by `xstate.init`, which XState reports as a snapshot, not a microstep. This
 * member's initial state (`live.connecting`) is never entered again, so the
 * init snapshot is passed on as a microstep that took no transition.
 */
const inspectCoverage = (event: InspectionEvent) => {
  coverage.inspect(event);
  if (event.type === '@xstate.snapshot' && event.event.type === 'xstate.init' && isMachineSnapshot(event.snapshot)) {
    coverage.inspect({ type: '@xstate.microstep', rootId: event.rootId, actorRef: event.actorRef, event: event.event, snapshot: event.snapshot, _transitions: [] });
  }
};

interface Connection {
  input: ServerMemberInput;
  commands: ConnectionCommand[];
  stopped: boolean;
}

/**
 * A live member under a recording parent, with recording connections (one per
 * entry into `live`) and a simulated clock.
 */
function startMember(input: ServerMemberInput, options: { delays?: boolean; inspect?: (event: InspectionEvent) => void } = {}) {
  const clock = new SimulatedClock();
  const reports: MemberStateReport[] = [];
  const connections: Connection[] = [];
  const parent = createActor(
    fromCallback<AnyEventObject>(({ receive }) =>
      receive((event) => {
        if (event.type === 'member.state') reports.push(event as MemberStateReport);
      }),
    ),
    { clock, ...(options.inspect ? { inspect: options.inspect } : {}) },
  ).start();
  const connection = fromCallback<ConnectionCommand, ServerMemberInput, ConnectionEvent>(({ input: connectionInput, receive }) => {
    const entry: Connection = { input: connectionInput, commands: [], stopped: false };
    connections.push(entry);
    receive((command) => entry.commands.push(command));
    return () => {
      entry.stopped = true;
    };
  });
  const machine = serverMachine.provide({ actors: { connection }, ...(options.delays === false ? {} : { delays: DELAYS }) });
  const actor = createActor(machine, { input, parent: parent as AnyActorRef });
  actor.start();
  /** Sends an event; a delayed event is replayed by letting its delay pass on the clock (and not a millisecond less). */
  const send = (event: ServerMemberEvent) => {
    const delay = delayOf(event.type);
    if (delay === undefined) return actor.send(event);
    const before = actor.getSnapshot().value;
    clock.increment(DELAYS[delay] - 1);
    expect(actor.getSnapshot().value, `${event.type} fired early`).toEqual(before);
    clock.increment(1);
  };
  // Only a root actor can be stopped; the member's timers live on the simulated clock and never fire again.
  const stop = () => parent.stop();
  return { actor, clock, reports, connections, send, stop };
}

/** What the model must agree on with the live member, besides the state value. */
const relevant = (context: ServerMemberContext) => ({ attempt: context.attempt, missedPings: context.missedPings, error: context.error, tools: context.tools, pid: context.pid });

describe('server member machine, model-based', () => {
  afterAll(() => {
    // Runs after every path: the generated paths must cover the whole definition.
    expect(coverage.missingStates(), 'states no path reached').toEqual([]);
    expect(coverage.missingTransitions(), 'transitions no path took').toEqual([]);
  });

  it('generates paths for every member, quickly, with delays as XState names them', () => {
    expect(HEALTH_TICK).toBe('xstate.after.healthInterval.server.live.serving.health.waiting');
    expect(BACKOFF_TICK).toBe('xstate.after.backoff.server.unavailable.backingOff');
    for (const entry of cases) expect(paths.filter((path) => path.entry === entry).length, entry.label).toBeGreaterThan(10);
    expect(generationMs).toBeLessThan(5000);
  });

  paths.forEach(({ entry, path }, index) => {
    it(`${entry.label} #${index}: ${path.description}`, () => {
      const member = startMember(entry.input, { inspect: inspectCoverage });
      // The pure model, stepped alongside: the live member (timers, children) must agree with it.
      let [expected] = initialTransition(modelMachine, entry.input);
      checkInvariants(entry, member.actor.getSnapshot(), member.reports, member.connections);
      for (const event of path.events) {
        const before = member.actor.getSnapshot();
        const reportsBefore = member.reports.length;
        member.send(event);
        [expected] = transition(modelMachine, expected, event);
        const snapshot = member.actor.getSnapshot();
        expect(snapshot.value, `after ${event.type}`).toEqual(expected.value);
        expect(relevant(snapshot.context)).toEqual(relevant(expected.context));
        checkStep(before, event, snapshot, member.reports.slice(reportsBefore));
        checkInvariants(entry, snapshot, member.reports, member.connections);
      }
      if (path.expected) expect(serializeState(member.actor.getSnapshot())).toBe(serializeState(path.expected));
      member.stop();
    });
  });
});

/** Which report may follow which: the member never skips the half-open probe, and never reports twice where once is news. */
const NEXT_REPORT: Record<ServerLifecycle, readonly ServerLifecycle[]> = {
  connecting: ['serving', 'unavailable'],
  recovering: ['probing', 'unavailable'],
  probing: ['serving', 'unavailable'],
  serving: ['serving', 'unavailable'],
  unavailable: ['recovering'],
  closed: [],
};

/** What one event may add to the reports. */
function checkStep(before: Snapshot, event: ServerMemberEvent, after: Snapshot, added: MemberStateReport[]): void {
  if (event.type === 'server.close') {
    // The directory publishes `closed` itself, once the process is gone.
    expect(added).toEqual([]);
    expect(after.status).toBe('done');
  } else if (before.matches({ live: 'serving' }) && after.matches({ live: 'serving' })) {
    // Health pings answered or missed below the limit are no news; a new tool list is.
    expect(added).toEqual(event.type === 'conn.tools' ? [expect.objectContaining({ state: 'serving', tools: event.tools })] : []);
  } else if (JSON.stringify(before.value) !== JSON.stringify(after.value)) {
    expect(added).toHaveLength(1);
  }
}

/** What must hold in whichever state a step ends. */
function checkInvariants(entry: Case, snapshot: Snapshot, reports: MemberStateReport[], connections: Connection[]): void {
  const { context } = snapshot;
  const { input } = entry;
  const { spec } = input;
  // Every report names the member; the first says it is connecting; each follows the one before.
  for (const report of reports) expect(report).toMatchObject({ type: 'member.state', member: `${input.name}#${input.replica}`, server: input.name, replica: input.replica });
  expect(reports[0]?.state).toBe('connecting');
  reports.slice(1).forEach((report, index) => expect(NEXT_REPORT[reports[index]!.state], `${reports[index]!.state} → ${report.state}`).toContain(report.state));
  for (const report of reports) if (report.final) expect(report.state).toBe('unavailable');
  // Every entry into `live` starts a new connection, and leaving it stops that connection.
  expect(connections).toHaveLength(reports.filter((report) => report.state === 'connecting' || report.state === 'recovering').length);
  for (const connection of connections) expect(connection.input).toEqual({ name: input.name, replica: input.replica, spec, timeoutMs: input.timeoutMs });
  const running = connections.filter((connection) => !connection.stopped);
  const current = connections.at(-1)!;
  for (const command of connections.flatMap((connection) => connection.commands)) expect(command.type).toBe('conn.ping');
  const last = reports.at(-1)!;

  if (snapshot.matches('live')) {
    expect(running).toEqual([current]);
  } else {
    expect(running, 'connections left running outside live').toEqual([]);
  }

  if (snapshot.matches({ live: 'connecting' })) {
    expect(reports).toHaveLength(1);
    expect(current.commands).toEqual([]);
  }
  if (snapshot.matches({ live: 'recovering' })) {
    expect(context.attempt).toBeGreaterThanOrEqual(1);
    expect(last).toEqual(expect.objectContaining({ state: 'recovering', attempt: context.attempt, error: context.error }));
    expect(current.commands).toEqual([]);
  }
  if (snapshot.matches({ live: 'probing' })) {
    expect(last.state).toBe('probing');
    // One ping on the new connection before calls go to it again.
    expect(current.commands).toEqual([{ type: 'conn.ping', timeoutMs: entry.probeTimeoutMs }]);
  }
  if (snapshot.matches({ live: 'serving' })) {
    // A closed circuit: fresh counters, and the directory knows the tools.
    expect(context).toMatchObject({ attempt: 0, error: undefined });
    expect(last).toEqual(expect.objectContaining({ state: 'serving', tools: context.tools }));
    if (last.pid !== undefined) expect(last.pid).toBe(context.pid);
    expect(context.missedPings).toBeLessThan(spec.healthCheck?.failures ?? 1);
    // A connection started by a recovery attempt carried the probe's ping first.
    const startedBy = reports.filter((report) => report.state === 'connecting' || report.state === 'recovering').at(-1)!.state;
    const healthPings = current.commands.length - (startedBy === 'recovering' ? 1 : 0);
    if (snapshot.matches({ live: { serving: { health: 'off' } } })) {
      expect(spec.healthCheck).toBeUndefined();
      expect(healthPings).toBe(0);
    } else {
      expect(spec.healthCheck).toBeDefined();
    }
    if (snapshot.matches({ live: { serving: { health: 'pinging' } } })) {
      expect(current.commands.at(-1)).toEqual({ type: 'conn.ping', timeoutMs: spec.healthCheck!.timeoutMs });
      expect(healthPings).toBeGreaterThan(0);
    }
  }
  if (snapshot.matches('unavailable')) {
    expect(context.error).toBeDefined();
    expect(last).toEqual({ ...last, state: 'unavailable', error: context.error });
    if (context.error!.code === 'HEALTH_CHECK_FAILED') expect(context.error!.message).toMatch(/missed \d pings? in a row|did not answer the probe ping/);
  }
  if (snapshot.matches({ unavailable: 'backingOff' })) {
    expect(last.final).toBeUndefined();
    expect(spec.recovery).toBeDefined();
    expect(context.attempt).toBeLessThan(spec.recovery!.maxAttempts ?? Infinity);
  }
  if (snapshot.matches({ unavailable: 'gaveUp' })) {
    expect(last.final).toBe(true);
    expect(context.attempt).toBeGreaterThanOrEqual(spec.recovery!.maxAttempts!);
  }
  if (snapshot.matches({ unavailable: 'down' })) {
    expect(last.final).toBe(true);
    expect(spec.recovery).toBeUndefined();
  }
  if (snapshot.matches('closed')) {
    expect(snapshot.status).toBe('done');
    expect(running).toEqual([]);
  }
}

describe('server member machine', () => {
  const [plain, guarded, stubborn] = cases.map((entry) => entry.input) as [ServerMemberInput, ServerMemberInput, ServerMemberInput];
  const members: { stop(): void }[] = [];
  const start = (input: ServerMemberInput, options?: { delays?: boolean }) => {
    const member = startMember(input, options);
    members.push(member);
    return member;
  };
  afterEach(() => {
    for (const member of members.splice(0)) member.stop();
    vi.restoreAllMocks();
  });

  it('a probe that fails keeps the member unavailable and reports the probe error', () => {
    const member = start(stubborn);
    member.send({ type: 'conn.failed', error: fail('SERVER_START_FAILED', 'spawn node ENOENT', 'stubborn') });
    member.send(tick(BACKOFF_TICK));
    member.send({ type: 'conn.open', tools });
    member.send({ type: 'conn.ping.failed', error: fail('CALL_TIMEOUT', 'ping timed out after 700 ms', 'stubborn') });

    expect(member.actor.getSnapshot().value).toEqual({ unavailable: 'backingOff' });
    const probeError = {
      code: 'HEALTH_CHECK_FAILED',
      message: 'server "stubborn" restarted but did not answer the probe ping: ping timed out after 700 ms',
      server: 'stubborn',
      cause: 'ping timed out after 700 ms',
    };
    expect(member.reports.map((report) => report.state)).toEqual(['connecting', 'unavailable', 'recovering', 'probing', 'unavailable']);
    expect(member.reports.at(-1)).toEqual({ type: 'member.state', member: 'stubborn#1', server: 'stubborn', replica: 1, state: 'unavailable', error: probeError });
    // The probed process is killed: the next attempt starts a new one.
    expect(member.connections.map((connection) => connection.stopped)).toEqual([true, true]);
    expect(member.connections[1]!.commands).toEqual([{ type: 'conn.ping', timeoutMs: 700 }]);
  });

  it('the backoff grows with each attempt and an open circuit waits at least resetTimeoutMs', () => {
    const context = (input: ServerMemberInput, attempt: number, code?: ErrorCode): ServerMemberContext => ({
      ...input,
      tools: [],
      attempt,
      missedPings: 0,
      ...(code ? { error: fail(code, 'x', input.name) } : {}),
    });
    // initialDelayMs 100, factor 3, capped at 400; equal jitter: between half and all of it.
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(context(stubborn, attempt), 0))).toEqual([50, 150, 200, 200]);
    expect([0, 1, 2, 3].map((attempt) => backoffDelay(context(stubborn, attempt), 1))).toEqual([100, 300, 400, 400]);
    expect(backoffDelay(context(stubborn, 1), 0.5)).toBe(225);
    // An open circuit (resetTimeoutMs 500) waits at least that long; other causes do not.
    expect(backoffDelay(context(guarded, 0, 'CIRCUIT_OPEN'), 0.5)).toBe(500);
    expect(backoffDelay(context(guarded, 3, 'CIRCUIT_OPEN'), 1)).toBe(800);
    expect(backoffDelay(context(guarded, 0, 'SERVER_UNAVAILABLE'), 0.5)).toBe(75);
    // No breaker configured: an open circuit is an ordinary cause.
    expect(backoffDelay(context(stubborn, 0, 'CIRCUIT_OPEN'), 0.5)).toBe(75);
    expect(backoffDelay(context(plain, 2), 1)).toBe(0);

    // The machine's own delay uses it, for the attempt being waited for.
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    const member = start(guarded, { delays: false });
    member.send({ type: 'conn.open', tools });
    member.send({ type: 'calls.tripped', error: fail('CIRCUIT_OPEN', '3 calls failed in a row', 'guarded') });
    member.clock.increment(499);
    expect(member.actor.getSnapshot().value).toEqual({ unavailable: 'backingOff' });
    member.clock.increment(1);
    expect(member.actor.getSnapshot().value).toEqual({ live: 'recovering' });

    const unlimited = start(stubborn, { delays: false });
    const waits: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      unlimited.send({ type: 'conn.failed', error: fail('SERVER_START_FAILED', 'spawn node ENOENT', 'stubborn') });
      const startedAt = unlimited.clock.now();
      while (!unlimited.actor.getSnapshot().matches({ live: 'recovering' })) unlimited.clock.increment(1);
      waits.push(unlimited.clock.now() - startedAt);
    }
    expect(waits).toEqual([75, 225, 300]);
  });

  it('server.restart after giving up starts a recovery attempt at once', () => {
    const member = start(guarded);
    member.send({ type: 'conn.failed', error: fail('SERVER_START_FAILED', 'spawn node ENOENT', 'guarded') });
    member.send(tick(BACKOFF_TICK));
    member.send({ type: 'conn.failed', error: fail('SERVER_START_FAILED', 'still broken', 'guarded') });
    expect(member.actor.getSnapshot().value).toEqual({ unavailable: 'gaveUp' });
    expect(member.reports.at(-1)).toMatchObject({ state: 'unavailable', final: true, error: { message: 'still broken' } });

    member.send({ type: 'server.restart' });
    expect(member.actor.getSnapshot().value).toEqual({ live: 'recovering' });
    expect(member.reports.at(-1)).toMatchObject({ state: 'recovering', attempt: 2 });
    expect(member.connections).toHaveLength(3);
    expect(member.connections.at(-1)!.stopped).toBe(false);

    member.send({ type: 'conn.open', tools, pid: 7 });
    member.send({ type: 'conn.pong' });
    expect(member.actor.getSnapshot().matches({ live: 'serving' })).toBe(true);
    expect(member.actor.getSnapshot().context).toMatchObject({ attempt: 0, missedPings: 0, error: undefined });
    expect(member.reports.at(-1)).toEqual({ type: 'member.state', member: 'guarded#2', server: 'guarded', replica: 2, state: 'serving', tools, pid: 7 });
  });

  it('only the configured number of missed pings in a row makes a serving member unavailable', () => {
    const member = start(guarded);
    member.send({ type: 'conn.open', tools });
    const timedOut = { type: 'conn.ping.failed', error: fail('CALL_TIMEOUT', 'no pong in 20 ms', 'guarded') } as const;
    for (const answer of [timedOut, { type: 'conn.pong' } as const, timedOut]) {
      member.send(tick(HEALTH_TICK));
      member.send(answer);
      expect(member.actor.getSnapshot().value).toEqual({ live: { serving: { health: 'waiting' } } });
    }
    expect(member.reports.map((report) => report.state)).toEqual(['connecting', 'serving']);
    member.send(tick(HEALTH_TICK));
    member.send(timedOut);
    expect(member.actor.getSnapshot().value).toEqual({ unavailable: 'backingOff' });
    expect(member.reports.at(-1)!.error).toEqual({
      code: 'HEALTH_CHECK_FAILED',
      message: 'server "guarded" missed 2 pings in a row (every 50 ms, 20 ms to answer); last: no pong in 20 ms',
      server: 'guarded',
      cause: 'no pong in 20 ms',
    });
    expect(member.connections[0]!.commands).toEqual(Array.from({ length: 4 }, () => ({ type: 'conn.ping', timeoutMs: 20 })));
    expect(member.connections[0]!.stopped).toBe(true);
  });

  it('server.close while backing off stops for good: no recovery attempt, no report', () => {
    const member = start(guarded);
    member.send({ type: 'conn.lost', error: fail('SERVER_UNAVAILABLE', 'process exited with code 1', 'guarded') });
    expect(member.actor.getSnapshot().value).toEqual({ unavailable: 'backingOff' });
    member.send({ type: 'server.close' });
    member.clock.increment(10_000);
    expect(member.actor.getSnapshot().status).toBe('done');
    expect(member.actor.getSnapshot().value).toBe('closed');
    expect(member.connections).toHaveLength(1);
    expect(member.reports.map((report) => report.state)).toEqual(['connecting', 'unavailable']);
  });
});
