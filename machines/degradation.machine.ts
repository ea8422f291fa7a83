/**
 * Graceful degradation (seed: "Graceful Degradation Pattern") for one server
 * that declares a fallback chain. It stands where the server actor would:
 * coordinating machines send it calls and get replies as from any server.
 *
 *   starting ─► normal ─► unavailable ─► fallback ─► recovery ─► normal
 *                  ▲                        ▲            │
 *                  └──── primary ready ─────┴── failed ──┘
 *
 * normal: calls go to the primary. unavailable: the primary went away; say
 * so, then serve from the fallback chain. recovery: the primary is being
 * restarted (its own actor backs off and probes); calls still go to the
 * fallbacks until it is ready again.
 */
import { assign, enqueueActions, setup, type AnyActorRef } from 'xstate';
import type { ErrorInfo } from '../src/core/errors.js';
import type { ToolInfo } from '../src/core/results.js';
import type { ReplyTarget, ServerActorInput, ServerCommand, ServerReport } from '../src/core/server-port.js';
import type { FallbackSpec, ServerSpec } from '../src/core/workflow.js';
import { describeStep, isUnavailability, listServedTools, listUnservedTools, routeCall } from './fallback-routing.js';
import { serverPlaceholder } from './server-placeholder.js';

export interface DegradationInput extends ServerActorInput {
  /** Every server of the workflow, for the fallback steps that name one. */
  servers: Record<string, ServerSpec>;
  /** Root the built-in file operations are confined to. */
  workspace: string;
}

type Call = Extract<ServerCommand, { type: 'server.call' }>;

interface PendingCall {
  command: Call;
  /** Which actor is serving it now: the primary, or a fallback step's index. */
  route: 'primary' | number;
}

export interface DegradationContext {
  input: DegradationInput;
  chain: FallbackSpec[];
  primary?: AnyActorRef;
  fallbacks: AnyActorRef[];
  fallbackReady: boolean[];
  /** Which fallbacks have said whether they started. */
  fallbackSettled: boolean[];
  primaryTools: ToolInfo[];
  announcedReady: boolean;
  pending: Record<string, PendingCall>;
  cause?: ErrorInfo;
}

export type DegradationEvent = ServerCommand | ServerReport;

/**
 * Sends to the coordinating machine. Path generation runs this machine with no
 * parent, so the send is skipped there rather than failing.
 */
const primaryName = (context: DegradationContext) => context.input.name;
const isFromPrimary = (context: DegradationContext, event: { server: string }) => event.server === primaryName(context);

function describeFallbacks(context: DegradationContext): string {
  const ready = context.chain.filter((_, index) => context.fallbackReady[index]).map(describeStep);
  return ready.length > 0 ? ready.join(', then ') : 'nothing (no fallback is ready)';
}

// Parent sends check `self._parent`: path generation runs this machine with no parent.

function toUnavailableReport(context: DegradationContext): ServerReport {
  const server = primaryName(context);
  return {
    type: 'server.unavailable',
    server,
    replica: context.input.replica ?? 1,
    error: context.cause ?? { code: 'SERVER_UNAVAILABLE', message: `server "${server}" is unavailable and no fallback is ready`, server },
  };
}

/** Which server, why, what now serves its calls, and what is reduced. */
function toFallbackNotice(context: DegradationContext): ServerReport {
  const reduced = listUnservedTools(context.chain, context.fallbackReady, context.primaryTools);
  const why = context.cause?.message ?? 'unavailable';
  const lost = reduced.length > 0 ? `; reduced functionality, no fallback for: ${reduced.join(', ')}` : '';
  return toNotice(context, 'warning', `is unavailable (${why}); its calls now go to ${describeFallbacks(context)}${lost}`);
}

function toNotice(context: DegradationContext, level: 'info' | 'warning', what: string): ServerReport {
  const server = primaryName(context);
  return { type: 'run.notify', notification: { level, server, message: `server "${server}" ${what}` } };
}

export const degradationMachine = setup({
  types: {
    input: {} as DegradationInput,
    context: {} as DegradationContext,
    events: {} as DegradationEvent,
  },
  actors: {
    server: serverPlaceholder,
    builtinFiles: serverPlaceholder,
  },
  guards: {
    fromPrimary: ({ context, event }) => 'server' in event && isFromPrimary(context, event),
    hasReadyFallback: ({ context }) => context.fallbackReady.some(Boolean),
    // Nothing can serve: the primary is down and every fallback failed to start.
    nothingCanServe: ({ context }) => context.fallbackSettled.every(Boolean) && !context.fallbackReady.some(Boolean),
  },
  actions: {
    spawnServers: assign(({ context, spawn }) => {
      const { input } = context;
      const primary = spawn('server', { id: 'primary', input: { name: input.name, spec: input.spec, runId: input.runId, timeoutMs: input.timeoutMs, replica: input.replica ?? 1 } });
      const fallbacks = context.chain.map((step, index) => {
        if (step.kind === 'builtin') return spawn('builtinFiles', { id: `fallback-${index}`, input: { name: 'builtin:files', root: input.workspace, runId: input.runId } as never });
        const { fallback: _none, ...spec } = input.servers[step.server]!;
        return spawn('server', { id: `fallback-${index}`, input: { name: step.server, spec: spec as ServerSpec, runId: input.runId, timeoutMs: input.timeoutMs } });
      });
      return { primary, fallbacks, fallbackReady: context.chain.map(() => false), fallbackSettled: context.chain.map(() => false) };
    }),
    markFallback: assign(({ context, event }) => {
      if (event.type !== 'server.ready' && event.type !== 'server.unavailable') return {};
      const index = context.chain.findIndex((step) => describeStep(step) === event.server);
      if (index < 0) return {};
      const fallbackReady = [...context.fallbackReady];
      const fallbackSettled = [...context.fallbackSettled];
      fallbackReady[index] = event.type === 'server.ready';
      fallbackSettled[index] = true;
      return { fallbackReady, fallbackSettled };
    }),
    keepPrimaryTools: assign({ primaryTools: ({ event }) => (event.type === 'server.ready' ? event.tools : []) }),
    keepCause: assign({ cause: ({ event }) => (event.type === 'server.unavailable' ? event.error : undefined) }),
    /** Tells the coordinating machine this server can take calls (once: later recoveries are news, not readiness). */
    announceReady: enqueueActions(({ context, enqueue, self }) => {
      if (context.announcedReady) return;
      // With the primary up, wait until every fallback has said whether it started, so a primary
      // that dies early finds its fallbacks ready rather than still starting.
      if (!context.cause && !context.fallbackSettled.every(Boolean)) return;
      enqueue.assign({ announcedReady: true });
      const tools = context.primaryTools.length > 0 && !context.cause ? context.primaryTools : [...context.primaryTools, ...listServedTools(context.chain, context.fallbackReady, context.primaryTools)];
      const partial = context.primaryTools.length === 0;
      if (self._parent) enqueue.sendParent({ type: 'server.ready', server: primaryName(context), replica: context.input.replica ?? 1, tools, ...(partial ? { partial } : {}) } satisfies ServerReport);
    }),
    announceUnavailable: enqueueActions(({ context, enqueue, self }) => {
      if (self._parent) enqueue.sendParent(toUnavailableReport(context));
    }),
    notifyFallback: enqueueActions(({ context, enqueue, self }) => {
      if (self._parent) enqueue.sendParent(toFallbackNotice(context));
    }),
    notifyRecovering: enqueueActions(({ context, event, enqueue, self }) => {
      if (self._parent && event.type === 'server.recovering') enqueue.sendParent(toNotice(context, 'info', `recovery attempt ${event.attempt} started`));
    }),
    notifyRecovered: enqueueActions(({ context, enqueue, self }) => {
      if (self._parent) enqueue.sendParent(toNotice(context, 'info', 'recovered: calls go to it again'));
    }),
    callPrimary: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'server.call') return;
      enqueue.assign({ pending: { ...context.pending, [event.callId]: { command: event, route: 'primary' } } });
      enqueue.sendTo(context.primary!, { ...event, replyTo: self });
    }),
    callFallback: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'server.call') return;
      const route = routeCall(context.chain, context.fallbackReady, event.tool, event.args);
      if (!route || 'error' in route) {
        const error: ErrorInfo = route?.error ?? {
          code: 'SERVER_UNAVAILABLE',
          message: `server "${primaryName(context)}" is unavailable (${context.cause?.message ?? 'down'}) and no fallback serves its tool "${event.tool}"`,
          server: primaryName(context),
        };
        const failed: ServerReport = { type: 'server.failed', server: primaryName(context), callId: event.callId, error, durationMs: 0 };
        if (event.replyTo) enqueue.sendTo(event.replyTo as AnyActorRef, failed);
        else if (self._parent) enqueue.sendParent(failed);
        return;
      }
      enqueue.assign({ pending: { ...context.pending, [event.callId]: { command: event, route: route.step } } });
      enqueue.sendTo(context.fallbacks[route.step]!, { ...event, tool: route.tool, args: route.args, replyTo: self });
    }),
    // Resource reads are not mapped to fallbacks: the primary answers the requester itself (or refuses at once).
    readPrimary: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'server.read') return;
      const replyTo = (event.replyTo ?? self._parent) as ReplyTarget | undefined;
      enqueue.sendTo(context.primary!, replyTo ? { ...event, replyTo } : event);
    }),
    cancelCall: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.cancel') return;
      const pending = context.pending[event.callId];
      if (!pending) return;
      enqueue.sendTo(pending.route === 'primary' ? context.primary! : context.fallbacks[pending.route]!, event);
    }),
    /** A reply for a call we routed: pass it on, or (primary died with it in flight) try a fallback. */
    deliverReply: enqueueActions(({ context, event, enqueue, self }) => {
      if (event.type !== 'server.result' && event.type !== 'server.failed') return;
      const pending = context.pending[event.callId];
      if (!pending) return;
      const { command } = pending;
      const { [event.callId]: _done, ...rest } = context.pending;
      const requester = (command.replyTo ?? null) as ReplyTarget | null;
      const reply = (report: ServerReport) => {
        if (requester) enqueue.sendTo(requester as AnyActorRef, report);
        else if (self._parent) enqueue.sendParent(report);
      };

      if (event.type === 'server.failed' && pending.route === 'primary' && isUnavailability(event.error.code)) {
        const retryable = event.refused === true || command.idempotent === true || (context.input.spec.idempotentTools ?? []).includes(command.tool);
        const route = retryable ? routeCall(context.chain, context.fallbackReady, command.tool, command.args) : undefined;
        if (route && 'error' in route) {
          enqueue.assign({ pending: rest });
          reply({ ...event, server: primaryName(context), error: route.error });
          return;
        }
        if (route) {
          enqueue.assign({ pending: { ...context.pending, [event.callId]: { command, route: route.step } } });
          enqueue.sendTo(context.fallbacks[route.step]!, { ...command, tool: route.tool, args: route.args, replyTo: self });
          return;
        }
        const why = retryable ? 'no fallback serves this tool' : 'not retried on a fallback: the task is not marked idempotent';
        enqueue.assign({ pending: rest });
        reply({ ...event, server: primaryName(context), error: { ...event.error, message: `${event.error.message} (${why})` } });
        return;
      }
      enqueue.assign({ pending: rest });
      const servedBy = pending.route === 'primary' ? undefined : describeStep(context.chain[pending.route]!);
      if (event.type === 'server.result') reply({ ...event, server: primaryName(context), ...(servedBy ? { servedBy } : {}) });
      else reply({ ...event, server: primaryName(context) });
    }),
  },
}).createMachine({
  id: 'degradation',
  context: ({ input }) => ({
    input,
    chain: input.spec.fallback ?? [],
    fallbacks: [],
    fallbackReady: [],
    fallbackSettled: [],
    primaryTools: [],
    announcedReady: false,
    pending: {},
  }),
  entry: 'spawnServers',
  initial: 'starting',
  on: {
    // Replies from whoever serves a call, in any state.
    'server.result': { actions: 'deliverReply' },
    'server.failed': { actions: 'deliverReply' },
    'server.cancel': { actions: 'cancelCall' },
    'server.read': { actions: 'readPrimary' },
  },
  states: {
    starting: {
      on: {
        'server.ready': [
          { guard: 'fromPrimary', target: 'normal', actions: ['keepPrimaryTools', 'announceReady'] },
          { actions: 'markFallback' },
        ],
        'server.unavailable': [{ guard: 'fromPrimary', target: 'unavailable', actions: 'keepCause' }, { actions: 'markFallback' }],
        'server.call': { actions: 'callPrimary' },
      },
    },
    normal: {
      on: {
        'server.call': { actions: 'callPrimary' },
        'server.unavailable': [{ guard: 'fromPrimary', target: 'unavailable', actions: 'keepCause' }, { actions: ['markFallback', 'announceReady'] }],
        'server.ready': { actions: ['markFallback', 'announceReady'] },
      },
    },
    unavailable: {
      // Fallbacks may still be starting: wait for one, or for the primary to come back.
      always: [
        { guard: 'hasReadyFallback', target: 'fallback', actions: ['notifyFallback', 'announceReady'] },
        { guard: 'nothingCanServe', target: 'down', actions: 'announceUnavailable' },
      ],
      on: {
        'server.ready': [
          { guard: 'fromPrimary', target: 'normal', actions: ['keepPrimaryTools', 'announceReady', 'notifyRecovered'] },
          { actions: 'markFallback' },
        ],
        'server.unavailable': { actions: 'markFallback' },
        'server.call': { actions: 'callFallback' },
        // The primary's backoff can be shorter than a fallback's start: announce the attempt all the same.
        'server.recovering': { actions: 'notifyRecovering' },
      },
    },
    fallback: {
      on: {
        'server.call': { actions: 'callFallback' },
        'server.recovering': { guard: 'fromPrimary', target: 'recovery', actions: 'notifyRecovering' },
        'server.ready': [
          { guard: 'fromPrimary', target: 'normal', actions: ['keepPrimaryTools', 'notifyRecovered'] },
          { actions: 'markFallback' },
        ],
        'server.unavailable': { actions: 'markFallback' },
      },
    },
    // Neither the primary nor any fallback can serve; the primary's own recovery may still bring it back.
    down: {
      on: {
        'server.call': { actions: 'callFallback' },
        'server.recovering': { actions: 'notifyRecovering' },
        'server.ready': [
          { guard: 'fromPrimary', target: 'normal', actions: ['keepPrimaryTools', 'announceReady', 'notifyRecovered'] },
          { target: 'fallback', actions: ['markFallback', 'notifyFallback', 'announceReady'] },
        ],
      },
    },
    recovery: {
      on: {
        'server.call': { actions: 'callFallback' },
        'server.ready': [
          { guard: 'fromPrimary', target: 'normal', actions: ['keepPrimaryTools', 'notifyRecovered'] },
          { actions: 'markFallback' },
        ],
        'server.unavailable': [{ guard: 'fromPrimary', target: 'fallback', actions: 'keepCause' }, { actions: 'markFallback' }],
      },
    },
  },
});
