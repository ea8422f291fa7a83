/**
 * The planner step every coordinating machine shares: ask the workflow's
 * planner tool for a task list, and read its answer like a workflow file.
 */
import { toErrorInfo, type ErrorInfo } from '../src/core/errors.js';
import type { ServerReport, ServerRequest } from '../src/core/server-port.js';
import type { TaskSpec, Workflow } from '../src/core/workflow.js';
import { parsePlannedTasks } from '../src/workflow/planned-tasks.js';

/** Call id of the planner's call; replies carry it back. */
export const PLAN_CALL = 'plan';

export function createPlanCommand(workflow: Workflow): ServerRequest {
  const plan = workflow.plan!;
  return { type: 'server.call', server: plan.server, callId: PLAN_CALL, tool: plan.tool, args: plan.args };
}

export type PlanReading = { plannedTasks: TaskSpec[] } | { error: ErrorInfo };

/** Validates the planner's answer as a task list; errors name the planner and the field. */
export function readPlan(workflow: Workflow, reply: Extract<ServerReport, { type: 'server.result' }>): PlanReading {
  const plan = workflow.plan!;
  try {
    const plannedTasks = parsePlannedTasks(reply.result.json ?? reply.result.text, {
      workflow,
      planner: `${plan.server}.${plan.tool}`,
      earlierTaskIds: workflow.tasks.map((task) => task.id),
    });
    return { plannedTasks };
  } catch (error) {
    return { error: toErrorInfo(error, { code: 'INVALID_PLAN', server: plan.server }) };
  }
}

/** The error of a planner that failed outright or answered `isError`. */
export function describePlannerFailure(workflow: Workflow, reply: ServerReport): ErrorInfo {
  const plan = workflow.plan!;
  const detail = reply.type === 'server.result' ? reply.result.text : 'error' in reply ? reply.error.message : '';
  return { code: 'INVALID_PLAN', message: `planner ${plan.server}.${plan.tool} failed: ${detail}`, server: plan.server };
}
