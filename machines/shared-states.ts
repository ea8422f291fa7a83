/**
 * State configs the coordinating machines share, read like the seed diagram:
 * Initialize, Plan Task, and at the end Synthesize Results.
 */
import { fromCallback, fromPromise } from 'xstate';
import type { ServerPortMessage } from '../src/core/server-port.js';

/**
 * The server port as a machine sees it: an actor the engine provides (bound
 * to the server directory), invoked at the root of the run as `serverPort`.
 * Messages are plain data; replies come back to the sender named in `from`
 * (a system id), or to the run itself when there is none.
 */
export const serverPortPlaceholder = fromCallback<ServerPortMessage>(() => {
  throw new Error('no server port provided: use machine.provide({ actors: { serverPort } })');
});

/**
 * The synthesizer as a machine sees it: an actor the engine provides (it renders the output from
 * the run's bus), invoked by `SYNTHESIZING_STATE` as `synthesize`.
 */
export const synthesizePlaceholder = fromPromise<string, { runId: string }>(async () => {
  throw new Error('no synthesize actor provided: use machine.provide({ actors: { synthesize } })');
});

/**
 * Initialize (seed: Orchestrator ─► Initialize): acquire the servers the run
 * needs from the server directory (warm ones answer at once) and wait until
 * each is ready; a server that cannot serve fails the run. The machine
 * provides `acquire` (a `port.acquire` to `serverPort`), `markServerReady`, `allServersReady` and
 * `failWithEvent`, and has sibling states `planning` and `failed`.
 */
export const INITIALIZING_STATE = {
  entry: [{ type: 'phase', params: { phase: 'initializing' } }, 'acquire'],
  always: { guard: 'allServersReady', target: 'planning' },
  on: {
    'server.ready': { actions: 'markServerReady' },
    'server.unavailable': { target: 'failed', actions: 'failWithEvent' },
  },
} as const;

/**
 * The planning phase both coordinating machines share (seed: Plan Task ─►
 * Create Breakdown): ask the workflow's planner tool, if it names one, and
 * read its answer as a task list before the breakdown.
 *
 *   choosing ─► askingPlanner ─► readingPlan ─► (next)
 *       └────────────────────────────────────► (next)   no planner
 *   a planner error or an invalid plan ─► #<machine>.failed
 *
 * The machine provides the named guards and actions (`hasPlanner`,
 * `isPlanError`, `isPlanReply`, `askPlanner`, `failPlanner`, `acceptPlan`, and
 * the guard that says reading the plan failed).
 */
export function createPlanningState<const Next extends string, const PlanFailed extends string>(machineId: string, next: Next, planFailed: PlanFailed) {
  const failed = `#${machineId}.failed`;
  return {
    entry: { type: 'phase', params: { phase: 'planning' } },
    initial: 'choosing',
    states: {
      choosing: {
        always: [{ guard: 'hasPlanner', target: 'askingPlanner' }, { target: next }],
      },
      askingPlanner: {
        entry: 'askPlanner',
        on: {
          'server.result': [
            { guard: 'isPlanError', target: failed, actions: 'failPlanner' },
            { guard: 'isPlanReply', target: 'readingPlan', actions: 'acceptPlan' },
          ],
          'server.failed': { guard: 'isPlanReply', target: failed, actions: 'failPlanner' },
        },
      },
      readingPlan: {
        always: [{ guard: planFailed, target: failed }, { target: next }],
      },
    },
  } as const;
}

/**
 * Synthesize Results ─► Final Output: the `synthesize` actor (the synthesizer,
 * provided by the engine) renders the output from the bus; a template that
 * does not resolve fails the run. The machine provides `keepOutput` and
 * `failSynthesis` and has sibling states `finalOutput` and `failed`.
 */
export const SYNTHESIZING_STATE = {
  entry: { type: 'phase', params: { phase: 'synthesizing' } },
  invoke: {
    id: 'synthesize',
    src: 'synthesize',
    input: ({ context }: { context: { runId: string } }) => ({ runId: context.runId }),
    onDone: { target: 'finalOutput', actions: 'keepOutput' },
    onError: { target: 'failed', actions: 'failSynthesis' },
  },
} as const;
