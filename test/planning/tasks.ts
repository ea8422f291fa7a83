/**
 * Small task lists for planning tests: `task('b', { needs: ['a'] })`.
 * `needs` is left out unless given, as in a file that does not declare it:
 * a list of such tasks is a plain list.
 */
import type { TaskSpec } from '../../src/core/workflow.js';

export function task(id: string, overrides: Partial<TaskSpec> = {}): TaskSpec {
  return { id, server: 'fs', tool: 't', args: {}, context: [], ...overrides };
}

/** A task whose args read the given tasks' results. */
export function reading(id: string, ...read: string[]): TaskSpec {
  return task(id, { args: Object.fromEntries(read.map((other, index) => [`in${index}`, `{{ tasks.${other}.text }}`])) });
}
