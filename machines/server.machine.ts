/**
 * The lifecycle of one server member (one process or HTTP session of a
 * server), a child of the server directory. It decides *whether* the member
 * serves; the calls themselves never pass through it (the directory's call
 * router sends them straight to the connection), so a call costs no
 * transition here. It hears only of what changes its state: the connection
 * opening or going away, pings, and the router's word that calls tripped the
 * circuit breaker or hung.
 *
 *   live (owns the connection: one process or session)
 *     connecting ─────────────────────┐
 *     recovering ─► probing ──────────┴─► serving ═╦═ health: off | waiting ⇄ pinging
 *   exit, lost, start failure, missed pings, breaker tripped ─► unavailable
 *   unavailable ─┬─ backingOff ──(backoff delay, or server.restart)──► live.recovering
 *                ├─ gaveUp   (recovery.maxAttempts reached)
 *                └─ down     (no recovery configured)
 *   closed (final; on `server.close`)
 *
 * `unavailable` sits outside `live` on purpose: leaving `live` stops the
 * connection actor, whose cleanup closes the session and kills the process
 * group, so a member that is down never leaves a process behind, and every
 * recovery attempt starts a new one.
 *
 * The circuit breaker reads off the same states: `serving` is closed,
 * `unavailable` is open, `recovering`/`probing` is half-open (one probe:
 * initialize, the tool list and a ping; success closes the circuit).
 *
 * Every change is reported to the parent (the directory) as `member.state`.
 */
import { assign, enqueueActions, fromCallback, not, sendTo, setup } from 'xstate';
import type { ErrorInfo } from '../src/core/errors.js';
import type { ToolInfo } from '../src/core/results.js';
import { toMemberId, type ConnectionCommand, type ConnectionEvent, type ServerLifecycle, type ServerMemberInput } from '../src/core/server-port.js';

/** The connection actor's contract: the engine provides one that does the I/O. */
export const connectionPlaceholder = fromCallback<ConnectionCommand, ServerMemberInput, ConnectionEvent>(() => {
  throw new Error('no connection actor provided: use serverMachine.provide({ actors: { connection } })');
});

export type ServerMemberEvent =
  | ConnectionEvent
  /** From the call router: the circuit breaker opened, or a call hung on a server that has a fallback. */
  | { type: 'calls.tripped'; error: ErrorInfo }
  /** Start over now, without the backoff delay (even after recovery gave up). */
  | { type: 'server.restart' }
  | { type: 'server.close' };

/** What the member tells the directory at every change. */
export interface MemberStateReport {
  type: 'member.state';
  member: string;
  server: string;
  replica: number;
  state: ServerLifecycle;
  tools?: ToolInfo[];
  error?: ErrorInfo;
  pid?: number;
  attempt?: number;
  /** Unavailable for good: no recovery configured, or it gave up. Calls waiting for it can fail now. */
  final?: boolean;
}

export interface ServerMemberContext extends ServerMemberInput {
  tools: ToolInfo[];
  pid?: number;
  /** Why the member is (or last was) unavailable. */
  error?: ErrorInfo;
  /** Recovery attempts since the member last served. */
  attempt: number;
  /** Health-check pings missed in a row. */
  missedPings: number;
}

/**
 * The next recovery delay: exponential (`initialDelayMs · factor^attempt`,
 * capped at `maxDelayMs`) with "equal jitter" (between half and all of it),
 * so replicas that failed together do not restart in lockstep.
 */
export function backoffDelay(context: ServerMemberContext, random: number): number {
  const recovery = context.spec.recovery;
  if (!recovery) return 0;
  const base = Math.min(recovery.maxDelayMs, recovery.initialDelayMs * recovery.factor ** context.attempt);
  const delay = base / 2 + (random * base) / 2;
  // An open circuit stays open for at least resetTimeoutMs before the half-open probe.
  const breaker = context.spec.circuitBreaker;
  return context.error?.code === 'CIRCUIT_OPEN' && breaker ? Math.max(delay, breaker.resetTimeoutMs) : delay;
}

function toReport(context: ServerMemberContext, state: ServerLifecycle, extra: Partial<MemberStateReport> = {}): MemberStateReport {
  return { type: 'member.state', member: toMemberId(context.name, context.replica), server: context.name, replica: context.replica, state, ...extra };
}

export const serverMachine = setup({
  types: {
    input: {} as ServerMemberInput,
    context: {} as ServerMemberContext,
    events: {} as ServerMemberEvent,
  },
  actors: {
    // The MCP connection: one process or HTTP session; `actors/connection.actor.ts` provides it.
    connection: connectionPlaceholder,
  },
  delays: {
    healthInterval: ({ context }) => context.spec.healthCheck?.intervalMs ?? 0,
    // Jitter from Math.random: tests that need a fixed delay provide their own `backoff`.
    backoff: ({ context }) => backoffDelay(context, Math.random()),
  },
  guards: {
    watchesHealth: ({ context }) => context.spec.healthCheck !== undefined,
    missedTooManyPings: ({ context }) => context.missedPings + 1 >= (context.spec.healthCheck?.failures ?? 1),
    recovers: ({ context }) => context.spec.recovery !== undefined,
    hasAttemptsLeft: ({ context }) => context.spec.recovery?.maxAttempts === undefined || context.attempt < context.spec.recovery.maxAttempts,
  },
  actions: {
    /** Path generation runs this machine with no parent: the report is skipped there. */
    report: enqueueActions(({ context, enqueue, self }, params: { state: ServerLifecycle; final?: boolean }) => {
      if (!self._parent) return;
      const extra: Partial<MemberStateReport> = {};
      if (params.state === 'serving') {
        extra.tools = context.tools;
        if (context.pid !== undefined) extra.pid = context.pid;
      }
      if (params.state === 'recovering') extra.attempt = context.attempt;
      if ((params.state === 'unavailable' || params.state === 'recovering') && context.error) extra.error = context.error;
      if (params.final) {
        extra.final = true;
        extra.attempt = context.attempt;
      }
      enqueue.sendParent(toReport(context, params.state, extra));
    }),
    reportTools: enqueueActions(({ context, enqueue, self }) => {
      if (self._parent) enqueue.sendParent(toReport(context, 'serving', { tools: context.tools }));
    }),
    keepCause: assign({
      error: ({ context, event }) => ('error' in event ? event.error : context.error),
    }),
    keepConnection: assign(({ event }) => (event.type === 'conn.open' ? { tools: event.tools, pid: event.pid } : {})),
    keepTools: assign({ tools: ({ context, event }) => (event.type === 'conn.tools' ? event.tools : context.tools) }),
    /** Closed circuit, fresh counters. */
    resetCounters: assign({ attempt: 0, missedPings: 0, error: undefined }),
    countAttempt: assign({ attempt: ({ context }) => context.attempt + 1 }),
    pingForHealth: sendTo('connection', ({ context }) => ({ type: 'conn.ping', timeoutMs: context.spec.healthCheck!.timeoutMs }) satisfies ConnectionCommand),
    // The probe's ping uses the health check's timeout when there is one, else the call timeout.
    pingForProbe: sendTo('connection', ({ context }) => ({ type: 'conn.ping', timeoutMs: context.spec.healthCheck?.timeoutMs ?? context.spec.timeoutMs ?? context.timeoutMs }) satisfies ConnectionCommand),
    countMissedPing: assign({ missedPings: ({ context }) => context.missedPings + 1 }),
    clearMissedPings: assign({ missedPings: 0 }),
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
  },
}).createMachine({
  id: 'server',
  context: ({ input }) => ({ ...input, tools: [], attempt: 0, missedPings: 0 }),
  initial: 'live',
  on: {
    'server.close': { target: '.closed' },
  },
  states: {
    live: {
      invoke: { id: 'connection', src: 'connection', input: ({ context }) => ({ name: context.name, replica: context.replica, spec: context.spec, timeoutMs: context.timeoutMs }) },
      initial: 'connecting',
      on: {
        // Process exit or transport close, in any live state.
        'conn.lost': { target: 'unavailable', actions: 'keepCause' },
      },
      states: {
        connecting: {
          entry: { type: 'report', params: { state: 'connecting' } },
          on: {
            'conn.open': { target: 'serving', actions: 'keepConnection' },
            // A server that never starts is unavailable like any other; recovery applies.
            'conn.failed': { target: '#server.unavailable', actions: 'keepCause' },
          },
        },
        // Half-open: a new process or session, started after a backoff delay or on `server.restart`.
        recovering: {
          entry: ['countAttempt', { type: 'report', params: { state: 'recovering' } }],
          on: {
            'conn.open': { target: 'probing', actions: 'keepConnection' },
            'conn.failed': { target: '#server.unavailable', actions: 'keepCause' },
          },
        },
        // initialize and tools/list went through; one ping more before calls go to it again.
        probing: {
          entry: ['pingForProbe', { type: 'report', params: { state: 'probing' } }],
          on: {
            'conn.pong': { target: 'serving' },
            'conn.ping.failed': { target: '#server.unavailable', actions: 'failProbe' },
          },
        },
        // The router sends calls to the connection while the member is here.
        serving: {
          entry: ['resetCounters', { type: 'report', params: { state: 'serving' } }],
          on: {
            'conn.tools': { actions: ['keepTools', 'reportTools'] },
            'calls.tripped': { target: '#server.unavailable', actions: 'keepCause' },
          },
          initial: 'health',
          states: {
            health: {
              initial: 'off',
              states: {
                // No health check configured: stays here.
                off: { always: { guard: 'watchesHealth', target: 'waiting' } },
                waiting: { after: { healthInterval: 'pinging' } },
                pinging: {
                  entry: 'pingForHealth',
                  on: {
                    'conn.pong': { target: 'waiting', actions: 'clearMissedPings' },
                    'conn.ping.failed': [
                      { guard: 'missedTooManyPings', target: '#server.unavailable', actions: 'failHealthCheck' },
                      { target: 'waiting', actions: 'countMissedPing' },
                    ],
                  },
                },
              },
            },
          },
        },
      },
    },
    // The circuit is open. The connection is gone (its process killed).
    unavailable: {
      initial: 'deciding',
      on: {
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
        backingOff: {
          entry: { type: 'report', params: { state: 'unavailable' } },
          after: { backoff: '#server.live.recovering' },
        },
        gaveUp: { entry: { type: 'report', params: { state: 'unavailable', final: true } } },
        down: { entry: { type: 'report', params: { state: 'unavailable', final: true } } },
      },
    },
    // The directory publishes `closed` once the member's process is gone.
    closed: { type: 'final' },
  },
});

export type ServerMachine = typeof serverMachine;
