/**
 * Graceful degradation (seed: "Graceful Degradation Pattern") for one server
 * that declares a fallback chain: the mode the server is in, and the clear
 * notification a person gets at every change. A child of the server
 * directory, fed the membership of the server's pool and of each fallback.
 *
 *   starting ─► normal ─► unavailable ─► fallback ─► recovery ─► normal
 *                  ▲                        ▲            │
 *                  └──── primary serves ────┴── failed ──┘
 *   unavailable with no fallback serving ─► down (the primary may still recover)
 *
 * Calls never pass through here: the directory's call router sends each call
 * to the primary while it serves, else along the chain (other directory
 * members, one process each, or the built-in files). This machine says so.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { ErrorInfo } from '../src/core/errors.js';
import type { Notification, ToolInfo } from '../src/core/results.js';
import type { FallbackSpec } from '../src/core/workflow.js';
import { describeStep, listUnservedTools } from './fallback-routing.js';

export interface DegradationInput {
  /** The primary server's name. */
  name: string;
  chain: FallbackSpec[];
}

export type DegradationEvent =
  /** Some member of the primary's pool serves (for the first time, or again). */
  | { type: 'primary.serving'; tools: ToolInfo[] }
  /** No member of the primary's pool serves any more. */
  | { type: 'primary.unavailable'; error: ErrorInfo }
  /** A recovery attempt of the primary started. */
  | { type: 'primary.recovering'; attempt: number }
  /** A fallback step's server settled: it serves, or it cannot. */
  | { type: 'fallback.changed'; step: number; serving: boolean };

/** What the degradation machine tells the directory. */
export interface DegradationNotice {
  type: 'degradation.notify';
  notification: Omit<Notification, 'at'>;
}

export interface DegradationContext {
  name: string;
  chain: FallbackSpec[];
  fallbackReady: boolean[];
  /** Which fallbacks have said whether they started. */
  fallbackSettled: boolean[];
  primaryTools: ToolInfo[];
  cause?: ErrorInfo;
}

function describeFallbacks(context: DegradationContext): string {
  const ready = context.chain.filter((_, index) => context.fallbackReady[index]).map(describeStep);
  return ready.length > 0 ? ready.join(', then ') : 'nothing (no fallback is ready)';
}

function toNotice(context: DegradationContext, level: 'info' | 'warning' | 'error', what: string): DegradationNotice {
  return { type: 'degradation.notify', notification: { level, server: context.name, message: `server "${context.name}" ${what}` } };
}

/** Which server, why, what now serves its calls, and what is reduced. */
function toFallbackNotice(context: DegradationContext): DegradationNotice {
  const reduced = listUnservedTools(context.chain, context.fallbackReady, context.primaryTools);
  const why = context.cause?.message ?? 'unavailable';
  const lost = reduced.length > 0 ? `; reduced functionality, no fallback for: ${reduced.join(', ')}` : '';
  return toNotice(context, 'warning', `is unavailable (${why}); its calls now go to ${describeFallbacks(context)}${lost}`);
}

export const degradationMachine = setup({
  types: {
    input: {} as DegradationInput,
    context: {} as DegradationContext,
    events: {} as DegradationEvent,
  },
  guards: {
    hasReadyFallback: ({ context }) => context.fallbackReady.some(Boolean),
    // Nothing can serve: the primary is down and every fallback failed to start.
    nothingCanServe: ({ context }) => context.fallbackSettled.every(Boolean) && !context.fallbackReady.some(Boolean),
    fallbackStarts: ({ event }) => event.type === 'fallback.changed' && event.serving,
  },
  actions: {
    markFallback: assign(({ context, event }) => {
      if (event.type !== 'fallback.changed') return {};
      const fallbackReady = [...context.fallbackReady];
      const fallbackSettled = [...context.fallbackSettled];
      fallbackReady[event.step] = event.serving;
      fallbackSettled[event.step] = true;
      return { fallbackReady, fallbackSettled };
    }),
    keepPrimaryTools: assign({ primaryTools: ({ context, event }) => (event.type === 'primary.serving' ? event.tools : context.primaryTools) }),
    keepCause: assign({ cause: ({ context, event }) => (event.type === 'primary.unavailable' ? event.error : context.cause) }),
    // Path generation runs this machine with no parent: notices are skipped there.
    notifyFallback: enqueueActions(({ context, enqueue, self }) => {
      if (self._parent) enqueue.sendParent(toFallbackNotice(context));
    }),
    notifyDown: enqueueActions(({ context, enqueue, self }) => {
      const why = context.cause?.message ?? 'unavailable';
      if (self._parent) enqueue.sendParent(toNotice(context, 'error', `is unavailable (${why}) and no fallback can serve its calls`));
    }),
    notifyRecovering: enqueueActions(({ context, event, enqueue, self }) => {
      if (self._parent && event.type === 'primary.recovering') enqueue.sendParent(toNotice(context, 'info', `recovery attempt ${event.attempt} started`));
    }),
    notifyRecovered: enqueueActions(({ context, enqueue, self }) => {
      if (self._parent) enqueue.sendParent(toNotice(context, 'info', 'recovered: calls go to it again'));
    }),
  },
}).createMachine({
  id: 'degradation',
  context: ({ input }) => ({
    name: input.name,
    chain: input.chain,
    // The built-in files have no process: they serve from the start.
    fallbackReady: input.chain.map((step) => step.kind === 'builtin'),
    fallbackSettled: input.chain.map((step) => step.kind === 'builtin'),
    primaryTools: [],
  }),
  initial: 'starting',
  on: {
    'fallback.changed': { actions: 'markFallback' },
  },
  states: {
    starting: {
      on: {
        'primary.serving': { target: 'normal', actions: 'keepPrimaryTools' },
        'primary.unavailable': { target: 'unavailable', actions: 'keepCause' },
      },
    },
    normal: {
      on: {
        'primary.serving': { actions: 'keepPrimaryTools' },
        'primary.unavailable': { target: 'unavailable', actions: 'keepCause' },
      },
    },
    // The primary went away. Fallbacks may still be starting: wait for one, or for the primary.
    unavailable: {
      always: [
        { guard: 'hasReadyFallback', target: 'fallback', actions: 'notifyFallback' },
        { guard: 'nothingCanServe', target: 'down', actions: 'notifyDown' },
      ],
      on: {
        'primary.serving': { target: 'normal', actions: ['keepPrimaryTools', 'notifyRecovered'] },
        // The primary's backoff can be shorter than a fallback's start: announce the attempt all the same.
        'primary.recovering': { actions: 'notifyRecovering' },
      },
    },
    fallback: {
      on: {
        'primary.recovering': { target: 'recovery', actions: 'notifyRecovering' },
        'primary.serving': { target: 'normal', actions: ['keepPrimaryTools', 'notifyRecovered'] },
      },
    },
    // Neither the primary nor any fallback can serve; the primary's own recovery may still bring it back.
    down: {
      on: {
        'primary.recovering': { actions: 'notifyRecovering' },
        'primary.serving': { target: 'normal', actions: ['keepPrimaryTools', 'notifyRecovered'] },
        'fallback.changed': { guard: 'fallbackStarts', target: 'fallback', actions: ['markFallback', 'notifyFallback'] },
      },
    },
    // The primary is being restarted; its calls still go to the fallbacks until it serves again.
    recovery: {
      on: {
        'primary.serving': { target: 'normal', actions: ['keepPrimaryTools', 'notifyRecovered'] },
        'primary.unavailable': { target: 'fallback', actions: 'keepCause' },
      },
    },
  },
});
