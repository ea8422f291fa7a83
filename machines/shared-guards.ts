/**
 * The guards every coordinating machine (sequential, parallel, coordinator) uses for the states
 * they share — Initialize and Plan Task (`shared-states.ts`) — written once and spread into each
 * machine's `setup({ guards })`. Each takes only the part of context or event it reads, so any
 * machine whose context has those fields can use it.
 */
import type { ToolInfo } from '../src/core/results.js';
import type { ServerReport } from '../src/core/server-port.js';
import type { Workflow } from '../src/core/workflow.js';
import { PLAN_CALL } from './planner-steps.js';

/** A reply to the planner call, read structurally: the machines' event unions all hold `ServerReport`. */
function isPlanReport(event: { type: string }): event is Extract<ServerReport, { callId: string }> {
  return 'callId' in event && event.callId === PLAN_CALL;
}

export const sharedGuards = {
  /** Initialize: every server the run acquired has answered ready. */
  allServersReady: ({ context }: { context: { tools: Record<string, ToolInfo[] | undefined>; required: readonly string[] } }) =>
    Object.keys(context.tools).length === context.required.length,
  /** Plan Task: the workflow names a planner tool. */
  hasPlanner: ({ context }: { context: { workflow: Pick<Workflow, 'plan'> } }) => context.workflow.plan !== undefined,
  isPlanReply: ({ event }: { event: { type: string } }) => isPlanReport(event),
  /** The planner answered with its own error (`isError`), not a plan. */
  isPlanError: ({ event }: { event: { type: string } }) => isPlanReport(event) && event.type === 'server.result' && event.result.isError,
};
