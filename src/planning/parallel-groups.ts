/**
 * Parallel groups (seed: "Parallel Execution Pattern": Identify Independent
 * Tasks ─► Create Parallel Groups): the tasks sorted into layers, so that
 * every task in a group can run at the same time and each group's end is a
 * synchronization point.
 */
import { EnsembleError } from '../core/errors.js';
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
  const ids = new Set(tasks.map((task) => task.id));
  const layer = new Map<string, number>();
  // Each pass places the tasks whose dependencies are all placed: at most one pass per layer.
  while (layer.size < ids.size) {
    const placed: [string, number][] = [];
    for (const id of ids) {
      if (layer.has(id)) continue;
      let deepest = -1;
      let ready = true;
      for (const dependency of needs[id] ?? []) {
        if (!ids.has(dependency)) continue;
        const at = layer.get(dependency);
        if (at === undefined) {
          ready = false;
          break;
        }
        deepest = Math.max(deepest, at);
      }
      if (ready) placed.push([id, deepest + 1]);
    }
    if (placed.length === 0) throw toCycleError(tasks, needs);
    for (const [id, at] of placed) layer.set(id, at);
  }

  const groups: string[][] = [];
  for (const id of ids) {
    const at = layer.get(id)!;
    (groups[at] ??= []).push(id);
  }
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
