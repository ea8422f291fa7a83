/**
 * A planner tool's result, turned into tasks held to the same rules as the
 * workflow's own: same schema, same server, `needs` and placeholder checks,
 * same plain-list-or-graph reading (decided by the planned tasks alone).
 */
import { z } from 'zod';
import { EnsembleError } from '../core/errors.js';
import type { PlanAllow, TaskSpec, Workflow } from '../core/workflow.js';
import { checkDocumentShape } from './document-shape.js';
import { checkTaskReferences } from './references.js';
import { describeValue, formatFieldPath, listSchemaProblems, taskSchema, type Problem } from './workflow.schema.js';

export interface PlannedTasksContext {
  workflow: Workflow;
  /** How the planner is named in messages, e.g. `planner.make_plan` (server.tool). */
  planner: string;
  /** Ids of the tasks that run before the planned ones; planned tasks may need them and use their results. */
  earlierTaskIds: string[];
}

/**
 * Only `tasks` is read from a `{ tasks: [...] }` result: planners (often
 * model-backed) add notes or reasoning beside it, and those are harmless.
 * The tasks themselves are strict.
 */
const plannedSchema = z.object({ tasks: z.array(taskSchema) });

/**
 * Validates a planner's JSON result (an array of tasks, or `{ tasks: [...] }`)
 * into `TaskSpec`s. Planned tasks may need and read `earlierTaskIds`, and
 * each other as `checkTaskReferences` allows: in a plain list the tasks
 * before them, in a graph any planned task that is not waiting for them.
 * Tasks outside the workflow's `plan.allow` are refused too.
 * Throws `EnsembleError('INVALID_PLAN')` with `field` (e.g. `tasks[1].server`
 * or `tasks[2].needs` for a cycle) and the planner's `server`.
 *
 * @example
 * parsePlannedTasks({ tasks: [{ id: 'a', server: 'fs', tool: 'read_text_file', args: { path: 'x' } }] },
 *   { workflow, planner: 'planner.make_plan', earlierTaskIds: [] })
 * // [{ id: 'a', server: 'fs', tool: 'read_text_file', args: { path: 'x' }, context: [], needs: [] }]
 */
export function parsePlannedTasks(value: unknown, context: PlannedTasksContext): TaskSpec[] {
  const server = context.workflow.plan?.server ?? context.planner.split('.')[0] ?? context.planner;
  const fail = (problems: Problem[]): EnsembleError => toPlanError(problems, context.planner, server);

  const candidate = Array.isArray(value) ? { tasks: value } : value;
  if (candidate === null || typeof candidate !== 'object' || !('tasks' in candidate)) {
    throw fail([{ path: [], message: `expected a list of tasks or { "tasks": [...] }, got ${describeValue(value)}` }]);
  }
  const shape = checkDocumentShape(candidate);
  if (shape.length > 0) throw fail(shape);
  const parsed = plannedSchema.safeParse(candidate, { reportInput: true });
  if (!parsed.success) throw fail(listSchemaProblems(parsed.error));

  const tasks = parsed.data.tasks;
  if (tasks.length === 0 && context.earlierTaskIds.length === 0) {
    throw fail([{ path: ['tasks'], message: 'no tasks, and the workflow has none of its own: there is nothing to run' }]);
  }
  const problems = checkTaskReferences(tasks, {
    servers: Object.keys(context.workflow.servers),
    earlierTaskIds: context.earlierTaskIds,
  });
  const allow = context.workflow.plan?.allow;
  if (allow) problems.push(...checkAllowed(tasks, allow));
  if (problems.length > 0) throw fail(problems);
  return tasks;
}

/**
 * Planned tasks that call outside `plan.allow`: a model-backed planner
 * decides what runs, so the workflow's author bounds it. Each refusal names
 * the task, what it calls and what is allowed.
 */
function checkAllowed(tasks: readonly TaskSpec[], allow: PlanAllow): Problem[] {
  const problems: Problem[] = [];
  const servers = allow.servers === undefined ? undefined : new Set(allow.servers);
  const tools = allow.tools === undefined ? undefined : new Set(allow.tools);
  const listed = (names: readonly string[]) => (names.length === 0 ? 'none' : names.join(', '));
  tasks.forEach((task, index) => {
    if (servers && !servers.has(task.server)) {
      problems.push({ path: ['tasks', index, 'server'], message: `task "${task.id}" calls server "${task.server}", which plan.allow.servers does not list (allowed: ${listed(allow.servers ?? [])})` });
    } else if (tools && !tools.has(task.tool) && !tools.has(`${task.server}.${task.tool}`)) {
      problems.push({ path: ['tasks', index, 'tool'], message: `task "${task.id}" calls ${task.server}.${task.tool}, which plan.allow.tools does not list (allowed: ${listed(allow.tools ?? [])})` });
    }
    if (!servers) return;
    task.context.forEach((ref, refIndex) => {
      if (!servers.has(ref.server)) {
        problems.push({ path: ['tasks', index, 'context', refIndex, 'server'], message: `task "${task.id}" reads ${ref.uri} from server "${ref.server}", which plan.allow.servers does not list (allowed: ${listed(allow.servers ?? [])})` });
      }
    });
  });
  return problems;
}

function toPlanError(problems: Problem[], planner: string, server: string): EnsembleError {
  const lines = problems.map((problem) => {
    const field = formatFieldPath(problem.path);
    return `${field !== '' ? `${field}: ` : ''}${problem.message}`;
  });
  const head = `planner ${planner} returned an invalid plan:`;
  const message = lines.length === 1 ? `${head} ${lines[0]}` : [head, ...lines.map((line) => `  ${line}`)].join('\n');
  const field = problems[0] ? formatFieldPath(problems[0].path) : '';
  return new EnsembleError('INVALID_PLAN', message, { ...(field !== '' ? { field } : {}), server });
}
