/**
 * Parallel groups (seed: "Parallel Execution Pattern": Identify Independent
 * Tasks ─► Create Parallel Groups): the tasks sorted into layers, so that
 * every task in a group can run at the same time and each group's end is a
 * synchronization point.
 */
import { EnsembleError } from '../core/errors.js';
import { getOwn } from '../core/own.js';
import type { TaskSpec } from '../core/workflow.js';
import { findCycle, type TaskNeeds } from './dependencies.js';

/**
 * Sorts tasks into ordered groups: group k holds the tasks whose dependencies
 * all sit in groups before k (topological layers), in declared order. No
 * task in a group depends on another task of the same group. Dependencies on
 * ids outside `tasks` count as already met.
 *
 * Throws `EnsembleError('INVALID_WORKFLOW')` naming the tasks when they wait
 * for each other in a cycle (`parseWorkflow` rejects such files first).
 *
 * @example
 * // diamond: b and c need a, d needs b and c
 * createParallelGroups([a, b, c, d], { a: [], b: ['a'], c: ['a'], d: ['b', 'c'] })
 * // [['a'], ['b', 'c'], ['d']]
 */
export function createParallelGroups(tasks: readonly Pick<TaskSpec, 'id'>[], needs: TaskNeeds): string[][] {
  // Kahn's algorithm, keeping each task's layer: linear in tasks plus dependencies
  // (a plain list of 1,000 tasks is 1,000 layers; scanning per layer would be quadratic).
  const ids = [...new Set(tasks.map((task) => task.id))];
  const known = new Set(ids);
  const waitingOn = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const id of ids) {
    const inside = [...new Set(getOwn(needs, id) ?? [])].filter((dependency) => known.has(dependency));
    waitingOn.set(id, inside.length);
    for (const dependency of inside) {
      const list = dependents.get(dependency);
      if (list) list.push(id);
      else dependents.set(dependency, [id]);
    }
  }
  const layer = new Map<string, number>();
  const queue = ids.filter((id) => waitingOn.get(id) === 0);
  for (const id of queue) layer.set(id, 0);
  for (let head = 0; head < queue.length; head++) {
    const id = queue[head]!;
    const next = layer.get(id)! + 1;
    for (const dependent of dependents.get(id) ?? []) {
      layer.set(dependent, Math.max(layer.get(dependent) ?? 0, next));
      const left = waitingOn.get(dependent)! - 1;
      waitingOn.set(dependent, left);
      if (left === 0) queue.push(dependent);
    }
  }
  if (queue.length < ids.length) throw toCycleError(tasks, needs);

  const groups: string[][] = [];
  for (const id of ids) (groups[layer.get(id)!] ??= []).push(id);
  return groups;
}

/**
 * The order a one-at-a-time run takes: group by group, declared order within
 * a group. For a plain list that is the list itself.
 *
 * @example
 * toTopologicalOrder([save, read], { save: ['read'], read: [] }) // [read, save]
 */
export function toTopologicalOrder<T extends Pick<TaskSpec, 'id'>>(tasks: readonly T[], needs: TaskNeeds): T[] {
  const byId = new Map<string, T>();
  for (const task of tasks) if (!byId.has(task.id)) byId.set(task.id, task);
  return createParallelGroups(tasks, needs).flatMap((group) => group.map((id) => byId.get(id)!));
}

function toCycleError(tasks: readonly Pick<TaskSpec, 'id'>[], needs: TaskNeeds): EnsembleError {
  const cycle = findCycle(tasks, needs) ?? [];
  return new EnsembleError('INVALID_WORKFLOW', `tasks wait for each other in a cycle: ${cycle.join(' → ')}; none of them can start`, {
    ...(cycle[0] !== undefined ? { task: cycle[0] } : {}),
  });
}
