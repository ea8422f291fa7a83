/**
 * Which servers a run needs from the directory, and how a skipped optional
 * task reads. Pure: machines call these from actions.
 */
import type { Workflow } from '../src/core/workflow.js';

/**
 * The servers a run acquires: every server a task, the planner or a context
 * read names, and every declared server that no fallback chain names.
 * A server used only as a fallback is started with the server it stands in
 * for, but cannot fail the run. With a planner, planned tasks may name any
 * declared server, so all of those (except fallback-only ones) are acquired.
 */
export function listRequiredServers(workflow: Workflow): string[] {
  const used = new Set<string>();
  for (const task of workflow.tasks) {
    used.add(task.server);
    for (const ref of task.context) used.add(ref.server);
  }
  if (workflow.plan) used.add(workflow.plan.server);
  const fallbacks = new Set<string>();
  for (const spec of Object.values(workflow.servers)) for (const step of spec.fallback ?? []) if (step.kind === 'server') fallbacks.add(step.server);
  const shared = new Set(workflow.sharedServers ?? []);
  for (const name of Object.keys(workflow.servers)) {
    if (!fallbacks.has(name) && (workflow.plan !== undefined || !shared.has(name))) used.add(name);
  }
  return [...used].filter((name) => Object.hasOwn(workflow.servers, name));
}

/** The notification a skipped optional task gives: reduced functionality, said plainly. */
export function describeOptionalSkip(task: { id: string; server: string; tool: string }, reason: string): string {
  return `reduced functionality: optional task "${task.id}" (${task.server}.${task.tool}) skipped: ${reason}`;
}
