/**
 * The server actor: one per configured server (or pool replica), spawned by a
 * coordinating machine. It wraps one MCP connection at a time and shows its
 * lifecycle as states:
 *
 *   open ─┬─ live (owns the connection: one process or HTTP session)
 *         │   ├─ connecting ─────────────┐
 *         │   ├─ recovering ─► probing ──┼─► serving ═╦═ calls:  ready ⇄ busy
 *         │   │                          │            ╚═ health: off | waiting ⇄ pinging
 *         │   └──────────────┬───────────┘
 *         │                  ▼  exit, lost, start failure, missed pings, circuit open, timeout with a fallback
 *         └─ unavailable ─┬─ backingOff ──(backoff delay, or server.restart)──► live.recovering
 *                         ├─ gaveUp   (recovery.maxAttempts reached)
 *                         └─ down     (no recovery configured)
 *   closed (final; reached on `server.close`, or the actor is stopped)
 *
 * `unavailable` sits outside `live` on purpose: leaving `live` stops the
 * connection actor, whose cleanup closes the session and kills the process
 * group, so a server that is down never leaves a process behind, and every
 * recovery attempt starts a new one.
 *
 * The circuit breaker reads off the same states: `serving` is closed,
 * `unavailable` is open, `recovering`/`probing` is half-open (one probe:
 * initialize, the tool list and a ping; success closes the circuit).
 *
 * Replies go to `replyTo` or the parent as `ServerReport` events; every
 * call's result or error, and every lifecycle change, is also published on
 * the bus (`server.state` uses the `ServerLifecycle` names).
 */
import { assign, enqueueActions, fromCallback, not, sendParent, sendTo, setup, type ActorRefFrom, type AnyActorRef } from 'xstate';
import type { BusPayload } from '../src/core/bus-events.js';
import type { ErrorCode, ErrorInfo } from '../src/core/errors.js';
import type { ToolInfo } from '../src/core/results.js';
import type { ReplyTarget, ServerActorInput, ServerCommand, ServerLifecycle, ServerReport } from '../src/core/server-port.js';
import { McpConnection } from './mcp-connection.js';

export interface ServerActorDeps {
  publish(event: BusPayload): void;
  /** Receives every close in progress, so the engine can wait until no server process is left. */
  trackClose(closing: Promise<void>): void;
  /** Source of the backoff jitter, in [0, 1); `Math.random` unless a test pins it. */
  random?: () => number;
}

/** What the server actor asks of its connection besides the port's own commands. */
type ConnectionCommand = ServerCommand | { type: 'conn.ping'; timeoutMs: number };

/** What the connection answers a call or read with. */
type Reply = Extract<ServerReport, { type: 'server.result' | 'server.resource' | 'server.failed' }>;

type ConnectionEvent =
  | { type: 'conn.open'; tools: ToolInfo[]; pid?: number }
  | { type: 'conn.failed'; error: ErrorInfo }
  | { type: 'conn.lost'; error: ErrorInfo }
  | { type: 'conn.reply'; reply: Reply; replyTo?: ReplyTarget }
  | { type: 'conn.pong' }
  | { type: 'conn.ping.failed'; error: ErrorInfo };

type ServerActorEvent = ServerCommand | ConnectionEvent | { type: 'server.close' };

/** A call the connection is serving: enough to answer it if the connection goes away first. */
interface PendingCall {
  /** The tool, or `resources/read <uri>`, as the bus names it. */
  what: string;
  task?: string;
  replyTo?: ReplyTarget;
  startedAt: number;
}

interface ServerActorContext extends ServerActorInput {
  pending: Record<string, PendingCall>;
  tools: ToolInfo[];
  pid?: number;
  /** Why the server is (or last was) unavailable; calls refused meanwhile carry it. */
  error?: ErrorInfo;
  /** Recovery attempts since the server was last ready. */
  attempt: number;
  /** Failed calls in a row, for the circuit breaker. */
  failedCalls: number;
  /** Health-check pings missed in a row. */
  missedPings: number;
}

interface ConnectionInput extends ServerActorInput {
  /** The server actor's session id: connections of one actor share its close ledger. */
  owner: string;
}

/** Call failures that say something is wrong with the server (a tool's `isError` result or a cancel does not). */
const BREAKER_CODES: ReadonlySet<ErrorCode> = new Set(['CALL_FAILED', 'CALL_TIMEOUT', 'SERVER_UNAVAILABLE']);

/**
 * Which processes one server actor has started. Connections come and go with
 * `live`, but `closed` is published once, when the actor ends and its last
 * process is gone. The connection's cleanup and the actor's `lifetime`
 * cleanup can run in either order; whichever runs last publishes.
 */
interface CloseLedger {
  closes: Promise<void>[];
  connected: boolean;
  /** Set when the actor has ended; called once no connection is left. */
  finish?: () => void;
}

/** Builds the connection actor: it owns one McpConnection (one process or session) and does the I/O. */
function createConnectionLogic(deps: ServerActorDeps, ledgerOf: (owner: string) => CloseLedger) {
  return fromCallback<ConnectionCommand, ConnectionInput, ConnectionEvent>(({ input, receive, sendBack }) => {
    const { name } = input;
    const ledger = ledgerOf(input.owner);
    ledger.connected = true;
    const inFlight = new Map<string, AbortController>();
    // After cleanup the server actor has answered every pending call itself: say nothing more about them.
    let ended = false;
    const connection = new McpConnection(name, input.spec, {
      onLost: (error) => sendBack({ type: 'conn.lost', error }),
      onGarbage: (message) => deps.publish({ type: 'server.log', server: name, line: `not JSON-RPC on stdout: ${message}` }),
    });
    connection.open(input.spec.timeoutMs ?? input.timeoutMs).then(
      (tools) => sendBack(connection.pid === undefined ? { type: 'conn.open', tools } : { type: 'conn.open', tools, pid: connection.pid }),
      (error: ErrorInfo) => sendBack({ type: 'conn.failed', error }),
    );

    receive((command) => {
      if (command.type === 'server.restart') return; // the server actor itself restarts the session
      if (command.type === 'server.cancel') {
        inFlight.get(command.callId)?.abort(command.reason);
        return;
      }
      if (command.type === 'conn.ping') {
        connection.ping(command.timeoutMs).then(
          () => sendBack({ type: 'conn.pong' }),
          (error: ErrorInfo) => sendBack({ type: 'conn.ping.failed', error }),
        );
        return;
      }
      const controller = new AbortController();
      inFlight.set(command.callId, controller);
      const options = { timeoutMs: command.timeoutMs ?? input.spec.timeoutMs ?? input.timeoutMs, signal: controller.signal };
      const started = performance.now();
      const task = command.task;
      const reply = (report: Reply) => sendBack(command.replyTo ? { type: 'conn.reply', reply: report, replyTo: command.replyTo } : { type: 'conn.reply', reply: report });
      if (command.type === 'server.call') {
        connection.callTool(command.tool, command.args, options).then(
          (result) => {
            inFlight.delete(command.callId);
            const durationMs = performance.now() - started;
            deps.publish({ type: 'server.call.result', server: name, callId: command.callId, tool: command.tool, result, durationMs, ...(task ? { task } : {}) });
            reply({ type: 'server.result', server: name, callId: command.callId, result, durationMs });
          },
          (error: ErrorInfo) => {
            inFlight.delete(command.callId);
            if (ended) return;
            const durationMs = performance.now() - started;
            deps.publish({ type: 'server.call.error', server: name, callId: command.callId, tool: command.tool, error, durationMs, ...(task ? { task } : {}) });
            reply({ type: 'server.failed', server: name, callId: command.callId, error, durationMs });
          },
        );
      } else {
        const what = `resources/read ${command.uri}`;
        connection.readResource(command.uri, options).then(
          (resource) => {
            inFlight.delete(command.callId);
            const durationMs = performance.now() - started;
            deps.publish({ type: 'server.call.result', server: name, callId: command.callId, tool: what, result: { text: resource.text, json: resource.json, isError: false, content: [] }, durationMs, ...(task ? { task } : {}) });
            reply({ type: 'server.resource', server: name, callId: command.callId, resource, durationMs });
          },
          (error: ErrorInfo) => {
            inFlight.delete(command.callId);
            if (ended) return;
            const durationMs = performance.now() - started;
            deps.publish({ type: 'server.call.error', server: name, callId: command.callId, tool: what, error, durationMs, ...(task ? { task } : {}) });
            reply({ type: 'server.failed', server: name, callId: command.callId, error, durationMs });
          },
        );
      }
    });

    // Runs whenever `live` is left: for `unavailable` (the process is dead or sick), for `closed`, or on stop.
    // Replies still owed are sent by the server actor itself; anything sent back from here on is dropped.
    return () => {
      ended = true;
      for (const controller of inFlight.values()) controller.abort('server closed');
      const closing = connection.close();
      deps.trackClose(closing);
      ledger.closes.push(closing);
      ledger.connected = false;
      ledger.finish?.();
    };
  });
}

/** Outlives the connections: when the actor ends, publishes `closed` once the last process is gone. */
function createLifetimeLogic(deps: ServerActorDeps, ledgers: Map<string, CloseLedger>, ledgerOf: (owner: string) => CloseLedger) {
  return fromCallback<{ type: 'lifetime.none' }, ConnectionInput>(({ input }) => () => {
    const ledger = ledgerOf(input.owner);
    let finished = false;
    ledger.finish = () => {
      if (finished || ledger.connected) return;
      finished = true;
      ledgers.delete(input.owner);
      const closed = Promise.allSettled(ledger.closes).then(() => deps.publish({ type: 'server.state', server: input.name, replica: input.replica ?? 1, state: 'closed' }));
      deps.trackClose(closed);
    };
    ledger.finish();
  });
}

/**
 * The next recovery delay: exponential (`initialDelayMs · factor^attempt`,
 * capped at `maxDelayMs`) with "equal jitter" (between half and all of it),
 * so replicas that failed together do not restart in lockstep.
 */
function backoffDelay(context: ServerActorContext, random: () => number): number {
  const recovery = context.spec.recovery;
  if (!recovery) return 0;
  const base = Math.min(recovery.maxDelayMs, recovery.initialDelayMs * recovery.factor ** context.attempt);
  const delay = base / 2 + (random() * base) / 2;
  // An open circuit stays open for at least resetTimeoutMs before the half-open probe.
  const breaker = context.spec.circuitBreaker;
  return context.error?.code === 'CIRCUIT_OPEN' && breaker ? Math.max(delay, breaker.resetTimeoutMs) : delay;
}

function isBreakerFailure(reply: Reply): boolean {
  return reply.type === 'server.failed' && BREAKER_CODES.has(reply.error.code);
}

function isReplyEvent(event: ServerActorEvent): event is Extract<ServerActorEvent, { type: 'conn.reply' }> {
  return event.type === 'conn.reply';
}

/** The failure a reply event carries, if it is one. */
function failureOf(event: ServerActorEvent): Extract<ServerReport, { type: 'server.failed' }> | undefined {
  return isReplyEvent(event) && event.reply.type === 'server.failed' ? event.reply : undefined;
}

/**
 * Creates the server actor logic with its side effects bound to a run's bus.
 *
 * @example
 * const server = createServerActor({ publish: bus.publish, trackClose: closes.add });
 * machine.provide({ actors: { server } });
 */
export function createServerActor(deps: ServerActorDeps) {
  const random = deps.random ?? Math.random;
  const ledgers = new Map<string, CloseLedger>();
  const ledgerOf = (owner: string): CloseLedger => {
    let ledger = ledgers.get(owner);
    if (!ledger) ledgers.set(owner, (ledger = { closes: [], connected: false }));
    return ledger;
  };
  const publishState = (context: ServerActorContext, state: ServerLifecycle, extra: { tools?: ToolInfo[]; error?: ErrorInfo; pid?: number } = {}) =>
    deps.publish({ type: 'server.state', server: context.name, replica: context.replica ?? 1, state, ...extra });

  return setup({
    types: {
      context: {} as ServerActorContext,
      input: {} as ServerActorInput,
      events: {} as ServerActorEvent,
    },
    actors: {
      connection: createConnectionLogic(deps, ledgerOf),
      lifetime: createLifetimeLogic(deps, ledgers, ledgerOf),
    },
    delays: {
      healthInterval: ({ context }) => context.spec.healthCheck?.intervalMs ?? 0,
      backoff: ({ context }) => backoffDelay(context, random),
    },
    guards: {
      isLastCall: ({ context }) => Object.keys(context.pending).length <= 1,
      watchesHealth: ({ context }) => context.spec.healthCheck !== undefined,
      missedTooManyPings: ({ context }) => context.missedPings + 1 >= (context.spec.healthCheck?.failures ?? 1),
      // This failure would be the breaker's failureThreshold-th in a row.
      tripsBreaker: ({ context, event }) => {
        const breaker = context.spec.circuitBreaker;
        return breaker !== undefined && isReplyEvent(event) && isBreakerFailure(event.reply) && context.failedCalls + 1 >= breaker.failureThreshold;
      },
      // A hung server is as good as dead when a fallback can take over its calls.
      timedOutWithFallback: ({ context, event }) => (context.spec.fallback?.length ?? 0) > 0 && failureOf(event)?.error.code === 'CALL_TIMEOUT',
      recovers: ({ context }) => context.spec.recovery !== undefined,
      hasAttemptsLeft: ({ context }) => context.spec.recovery?.maxAttempts === undefined || context.attempt < context.spec.recovery.maxAttempts,
    },
    actions: {
      keepCause: assign({
        error: ({ event }) => (event.type === 'conn.failed' || event.type === 'conn.lost' ? event.error : undefined),
      }),
      keepConnection: assign(({ event }) => (event.type === 'conn.open' ? { tools: event.tools, pid: event.pid } : {})),
      /** Closed circuit, fresh counters: the server takes calls (again). The parent reads a second `server.ready` as "recovered". */
      declareReady: enqueueActions(({ context, enqueue }) => {
        enqueue.assign({ attempt: 0, failedCalls: 0, missedPings: 0, error: undefined });
        enqueue(() => publishState(context, 'ready', context.pid === undefined ? { tools: context.tools } : { tools: context.tools, pid: context.pid }));
        enqueue.sendParent({ type: 'server.ready', server: context.name, replica: context.replica ?? 1, tools: context.tools } satisfies ServerReport);
      }),
      trackCall: assign({
        pending: ({ context, event }) => {
          if (event.type !== 'server.call' && event.type !== 'server.read') return context.pending;
          const call: PendingCall = { what: event.type === 'server.call' ? event.tool : `resources/read ${event.uri}`, startedAt: performance.now() };
          if (event.task) call.task = event.task;
          if (event.replyTo) call.replyTo = event.replyTo;
          return { ...context.pending, [event.callId]: call };
        },
      }),
      forwardCall: sendTo('connection', ({ event }) => event as ServerCommand),
      /** A reply from the connection: no longer pending, and counted for (or against) the circuit breaker. */
      settleCall: assign(({ context, event }) => {
        if (!isReplyEvent(event)) return {};
        const { [event.reply.callId]: _settled, ...pending } = context.pending;
        const reply = event.reply;
        // A tool's isError result is an answer, so it resets the run; a cancel says nothing about the server.
        const cancelled = reply.type === 'server.failed' && reply.error.code === 'CANCELLED';
        const failedCalls = isBreakerFailure(reply) ? context.failedCalls + 1 : cancelled ? context.failedCalls : 0;
        return { pending, failedCalls };
      }),
      // sendTo defers delivery until this transition is done: a reply never runs another actor mid-transition.
      deliverReply: sendTo(
        ({ event, self }) => ((isReplyEvent(event) && event.replyTo) || self._parent) as AnyActorRef,
        ({ event }) => (event as Extract<ServerActorEvent, { type: 'conn.reply' }>).reply,
      ),
      openCircuit: assign({
        error: ({ context, event }) => {
          const last = failureOf(event)?.error.message ?? 'unknown';
          const count = context.failedCalls + 1;
          return {
            code: 'CIRCUIT_OPEN',
            message: `server "${context.name}": circuit opened after ${count} failed calls in a row; last: ${last}`,
            server: context.name,
            cause: last,
          } satisfies ErrorInfo;
        },
      }),
      // The timeout itself is the cause: the call that hung says which tool and how long.
      keepTimeout: assign({ error: ({ event }) => failureOf(event)?.error }),
      pingForHealth: sendTo('connection', ({ context }) => ({ type: 'conn.ping', timeoutMs: context.spec.healthCheck!.timeoutMs }) satisfies ConnectionCommand),
      // The probe's ping uses the health check's timeout when there is one, else the call timeout.
      pingForProbe: sendTo('connection', ({ context }) => ({ type: 'conn.ping', timeoutMs: context.spec.healthCheck?.timeoutMs ?? context.spec.timeoutMs ?? context.timeoutMs }) satisfies ConnectionCommand),
      failHealthCheck: assign({
        error: ({ context, event }) => {
          const check = context.spec.healthCheck!;
          const count = context.missedPings + 1;
          const last = event.type === 'conn.ping.failed' ? event.error.message : 'no answer';
          return {
            code: 'HEALTH_CHECK_FAILED',
            message: `server "${context.name}" missed ${count} ping${count === 1 ? '' : 's'} in a row (every ${check.intervalMs} ms, ${check.timeoutMs} ms to answer); last: ${last}`,
            server: context.name,
            cause: last,
          } satisfies ErrorInfo;
        },
      }),
      failProbe: assign({
        error: ({ context, event }) => {
          const last = event.type === 'conn.ping.failed' ? event.error.message : 'no answer';
          return { code: 'HEALTH_CHECK_FAILED', message: `server "${context.name}" restarted but did not answer the probe ping: ${last}`, server: context.name, cause: last } satisfies ErrorInfo;
        },
      }),
      /** The connection is gone with calls in flight: answer each with the cause, as the port promises one reply per call. */
      failPendingCalls: enqueueActions(({ context, enqueue, self }) => {
        const now = performance.now();
        const error: ErrorInfo = context.error ?? { code: 'SERVER_UNAVAILABLE', message: `server "${context.name}" is unavailable`, server: context.name };
        for (const [callId, call] of Object.entries(context.pending)) {
          const durationMs = now - call.startedAt;
          enqueue(() => deps.publish({ type: 'server.call.error', server: context.name, callId, tool: call.what, error, durationMs, ...(call.task ? { task: call.task } : {}) }));
          const target = (call.replyTo ?? self._parent) as AnyActorRef | undefined;
          if (target) enqueue.sendTo(target, { type: 'server.failed', server: context.name, callId, error, durationMs } satisfies ServerReport);
        }
        enqueue.assign({ pending: {} });
      }),
      // The server cannot take calls now: answer at once so no caller waits forever.
      refuseCall: enqueueActions(({ context, event, enqueue, self }) => {
        if (event.type !== 'server.call' && event.type !== 'server.read') return;
        const error: ErrorInfo = context.error ?? {
          code: 'SERVER_UNAVAILABLE',
          message: `server "${context.name}" is not connected yet`,
          server: context.name,
        };
        const tool = event.type === 'server.call' ? event.tool : `resources/read ${event.uri}`;
        enqueue(() => deps.publish({ type: 'server.call.error', server: context.name, callId: event.callId, tool, error, durationMs: 0, ...(event.task ? { task: event.task } : {}) }));
        const target = (event.replyTo ?? self._parent) as AnyActorRef | undefined;
        // `refused`: it never reached the server, so a fallback may serve it even if it is not idempotent.
        if (target) enqueue.sendTo(target, { type: 'server.failed', server: context.name, callId: event.callId, error, durationMs: 0, refused: true } satisfies ServerReport);
      }),
    },
  }).createMachine({
    id: 'server',
    context: ({ input }) => ({ ...input, pending: {}, tools: [], attempt: 0, failedCalls: 0, missedPings: 0 }),
    initial: 'open',
    states: {
      open: {
        invoke: { id: 'lifetime', src: 'lifetime', input: ({ context, self }) => ({ ...inputOf(context), owner: self.sessionId }) },
        initial: 'live',
        on: {
          'server.close': { target: 'closed' },
        },
        states: {
          live: {
            invoke: { id: 'connection', src: 'connection', input: ({ context, self }) => ({ ...inputOf(context), owner: self.sessionId }) },
            initial: 'connecting',
            on: {
              // Process exit or transport close, in any live state.
              'conn.lost': { target: 'unavailable', actions: 'keepCause' },
              'server.cancel': { actions: 'forwardCall' },
            },
            states: {
              connecting: {
                entry: ({ context }) => publishState(context, 'connecting'),
                on: {
                  'conn.open': { target: 'serving', actions: ['keepConnection', 'declareReady'] },
                  // A primary that never starts is unavailable like any other; recovery applies.
                  'conn.failed': { target: '#server.open.unavailable', actions: 'keepCause' },
                  'server.call': { actions: 'refuseCall' },
                  'server.read': { actions: 'refuseCall' },
                },
              },
              // Half-open: a new process or session, started after a backoff delay or on `server.restart`.
              recovering: {
                entry: [
                  assign({ attempt: ({ context }) => context.attempt + 1 }),
                  sendParent(({ context }) => ({ type: 'server.recovering', server: context.name, replica: context.replica ?? 1, attempt: context.attempt }) satisfies ServerReport),
                  ({ context }) => publishState(context, 'recovering', context.error ? { error: context.error } : {}),
                ],
                on: {
                  'conn.open': { target: 'probing', actions: 'keepConnection' },
                  'conn.failed': { target: '#server.open.unavailable', actions: 'keepCause' },
                  'server.call': { actions: 'refuseCall' },
                  'server.read': { actions: 'refuseCall' },
                },
              },
              // initialize and tools/list went through; one ping more before calls go to it again.
              probing: {
                entry: 'pingForProbe',
                on: {
                  'conn.pong': { target: 'serving', actions: 'declareReady' },
                  'conn.ping.failed': { target: '#server.open.unavailable', actions: 'failProbe' },
                  'server.call': { actions: 'refuseCall' },
                  'server.read': { actions: 'refuseCall' },
                },
              },
              // Calls and health checks run side by side: a ping goes out whether or not calls are in flight.
              serving: {
                type: 'parallel',
                states: {
                  calls: {
                    initial: 'ready',
                    states: {
                      ready: {
                        on: {
                          'server.call': { target: 'busy', actions: ['trackCall', 'forwardCall'] },
                          'server.read': { target: 'busy', actions: ['trackCall', 'forwardCall'] },
                        },
                      },
                      busy: {
                        entry: ({ context }) => publishState(context, 'busy'),
                        on: {
                          'server.call': { actions: ['trackCall', 'forwardCall'] },
                          'server.read': { actions: ['trackCall', 'forwardCall'] },
                          'conn.reply': [
                            { guard: 'tripsBreaker', target: '#server.open.unavailable', actions: ['openCircuit', 'settleCall', 'deliverReply'] },
                            { guard: 'timedOutWithFallback', target: '#server.open.unavailable', actions: ['keepTimeout', 'settleCall', 'deliverReply'] },
                            { guard: 'isLastCall', target: 'ready', actions: ['settleCall', 'deliverReply', ({ context }) => publishState(context, 'ready')] },
                            { actions: ['settleCall', 'deliverReply'] },
                          ],
                        },
                      },
                    },
                  },
                  health: {
                    initial: 'off',
                    states: {
                      // No health check configured: stays here.
                      off: { always: { guard: 'watchesHealth', target: 'waiting' } },
                      waiting: { after: { healthInterval: 'pinging' } },
                      pinging: {
                        entry: 'pingForHealth',
                        on: {
                          'conn.pong': { target: 'waiting', actions: assign({ missedPings: 0 }) },
                          'conn.ping.failed': [
                            { guard: 'missedTooManyPings', target: '#server.open.unavailable', actions: 'failHealthCheck' },
                            { target: 'waiting', actions: assign({ missedPings: ({ context }) => context.missedPings + 1 }) },
                          ],
                        },
                      },
                    },
                  },
                },
              },
            },
          },
          // The circuit is open. The connection is gone (its process killed); calls are refused with the cause.
          unavailable: {
            // The parent hears first, then each call that was in flight: a parent that ends on that call's failure is not sent more.
            entry: [
              ({ context }) => publishState(context, 'unavailable', context.error ? { error: context.error } : {}),
              sendParent(({ context }) => ({ type: 'server.unavailable', server: context.name, replica: context.replica ?? 1, error: context.error! }) satisfies ServerReport),
              'failPendingCalls',
            ],
            initial: 'deciding',
            on: {
              'server.call': { actions: 'refuseCall' },
              'server.read': { actions: 'refuseCall' },
              // Explicit restart: now, without the backoff delay (and even after recovery gave up).
              'server.restart': { target: 'live.recovering' },
            },
            states: {
              deciding: {
                always: [
                  { guard: not('recovers'), target: 'down' },
                  { guard: 'hasAttemptsLeft', target: 'backingOff' },
                  { target: 'gaveUp' },
                ],
              },
              backingOff: { after: { backoff: '#server.open.live.recovering' } },
              gaveUp: {
                entry: ({ context }) =>
                  deps.publish({ type: 'server.log', server: context.name, line: `recovery gave up after ${context.attempt} attempt${context.attempt === 1 ? '' : 's'}; last error: ${context.error?.message ?? 'unknown'}` }),
              },
              down: {},
            },
          },
        },
      },
      // The lifetime actor's cleanup publishes `closed` once the last process has ended.
      closed: { type: 'final' },
    },
  });
}

/** The port's input, as each connection is started with it (the context also holds counters). */
function inputOf(context: ServerActorContext): ServerActorInput {
  const input: ServerActorInput = { name: context.name, spec: context.spec, runId: context.runId, timeoutMs: context.timeoutMs };
  if (context.replica !== undefined) input.replica = context.replica;
  return input;
}

export type ServerActorLogic = ReturnType<typeof createServerActor>;
export type ServerActorRef = ActorRefFrom<ServerActorLogic>;
