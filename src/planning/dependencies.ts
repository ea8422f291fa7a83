/**
 * What each task waits for. Two readings of a task list, chosen by the file
 * itself:
 *
 * - a *plain list* (no task declares `needs`) is what a person means by a
 *   list: each task runs after the one before it;
 * - a *graph* (some task declares `needs`): each task waits only for the
 *   tasks it names in `needs` and the tasks whose results its args read.
 *
 * Pure functions, no validation: `parseWorkflow` checks that every id exists
 * and that nothing waits for itself before anything here matters.
 */
import { listPlaceholders } from '../core/template.js';
import { getOwn } from '../core/own.js';
import type { TaskSpec } from '../core/workflow.js';

export type DependencyMode = 'list' | 'graph';

/** Each task's dependencies, by task id. */
export type TaskNeeds = Readonly<Record<string, readonly string[]>>;

export interface TaskDependencies {
  mode: DependencyMode;
  /**
   * Every task's full dependency set: declared, read and (in a plain list)
   * the task before it. De-duplicated; ids in the list come in declared
   * order, after any ids from outside it (for planned tasks: the workflow's
   * own tasks, which have all completed by then).
   */
  needs: Record<string, string[]>;
  /** The rule that applied, as a sentence for `ensemble explain`. */
  reason: string;
}

/**
 * True when a task declares `needs`, which turns its whole list into a graph;
 * `needs: []` counts too: it says "this task waits for nothing".
 */
function declaresNeeds(task: TaskSpec): boolean {
  return task.needs !== undefined;
}

/**
 * Ids of the tasks whose results a task's args read (`{{ tasks.<id>.… }}`),
 * in order of first appearance. `context.N` reads a resource, not a task.
 *
 * @example
 * listReadTasks({ ...task, args: { a: '{{ tasks.read.text }}', b: '{{ context.0.text }} {{ tasks.list.json.items }}' } })
 * // ['read', 'list']
 */
export function listReadTasks(task: TaskSpec): string[] {
  const ids = new Set<string>();
  for (const placeholder of listPlaceholders(task.args)) {
    // Same splitting as the renderer and `parseReference`; bad shapes are the reference checks' to report.
    const [source, id] = placeholder.split('.').map((segment) => segment.trim());
    if (source === 'tasks' && id !== undefined && id !== '') ids.add(id);
  }
  return [...ids];
}

/**
 * Works out what each task waits for, and which reading of the list applies.
 *
 * @example
 * listDependencies([a, b, c]) // no needs anywhere
 * // { mode: 'list', needs: { a: [], b: ['a'], c: ['b'] }, reason: 'plain list (no task declares needs): each task runs after the one before it' }
 *
 * listDependencies([a, { ...b, needs: ['a'] }, c])
 * // { mode: 'graph', needs: { a: [], b: ['a'], c: [] }, reason: 'graph (needs declared on b): …' }
 */
export function listDependencies(tasks: readonly TaskSpec[]): TaskDependencies {
  const declaring = tasks.filter(declaresNeeds).map((task) => task.id);
  const mode: DependencyMode = declaring.length > 0 ? 'graph' : 'list';
  const position = new Map<string, number>();
  tasks.forEach((task, index) => {
    if (!position.has(task.id)) position.set(task.id, index);
  });

  const needs: Record<string, string[]> = {};
  tasks.forEach((task, index) => {
    const previous = mode === 'list' && index > 0 ? [tasks[index - 1]!.id] : [];
    needs[task.id] = orderIds([...previous, ...(task.needs ?? []), ...listReadTasks(task)], position);
  });
  return { mode, needs, reason: describeMode(mode, tasks.length, declaring) };
}

/**
 * Dependencies of a whole breakdown: the workflow's own tasks followed by a
 * planner's. Each list is read by its own rule (a planner's plain list stays
 * a list even when the file is a graph, and the other way round), as
 * `parsePlannedTasks` validated them; and planned tasks run after the
 * workflow's own, so each planned task that waits for no other planned task
 * waits for the workflow tasks that nothing else waits for. Two plain lists
 * thus make one longer list.
 *
 * Do not call `listDependencies` on the two lists joined: one `needs` in
 * either would turn the other into a graph too.
 *
 * @example
 * // file: a plain list a, b; planner: p needs a, q
 * listBreakdownDependencies([a, b], [{ ...p, needs: ['a'] }, q]).needs
 * // { a: [], b: ['a'], p: ['a', 'b'], q: ['b'] }
 */
export function listBreakdownDependencies(workflowTasks: readonly TaskSpec[], plannedTasks: readonly TaskSpec[]): TaskDependencies {
  const own = listDependencies(workflowTasks);
  if (plannedTasks.length === 0) return own;
  const planned = listDependencies(plannedTasks);
  const plannedIds = new Set(plannedTasks.map((task) => task.id));
  const waitedFor = new Set(Object.values(own.needs).flat());
  const last = workflowTasks.map((task) => task.id).filter((id) => !waitedFor.has(id));

  const position = new Map<string, number>();
  [...workflowTasks, ...plannedTasks].forEach((task, index) => {
    if (!position.has(task.id)) position.set(task.id, index);
  });
  const needs: Record<string, string[]> = { ...own.needs };
  for (const task of plannedTasks) {
    const dependencies = getOwn(planned.needs, task.id) ?? [];
    const isFirst = !dependencies.some((id) => plannedIds.has(id));
    needs[task.id] = orderIds([...dependencies, ...(isFirst ? last : [])], position);
  }
  const mode: DependencyMode = own.mode === 'list' && planned.mode === 'list' ? 'list' : 'graph';
  const reason = workflowTasks.length === 0 ? planned.reason : `${own.reason}; then the planned tasks, after them: ${planned.reason}`;
  return { mode, needs, reason };
}

/** De-duplicated; ids outside the list first (as met), then list ids in declared order. */
function orderIds(ids: readonly string[], position: ReadonlyMap<string, number>): string[] {
  const unique = [...new Set(ids)];
  const outside = unique.filter((id) => !position.has(id));
  const inside = unique.filter((id) => position.has(id)).sort((a, b) => position.get(a)! - position.get(b)!);
  return [...outside, ...inside];
}

function describeMode(mode: DependencyMode, count: number, declaring: readonly string[]): string {
  if (count === 0) return 'no tasks';
  if (mode === 'list') {
    return count === 1 ? 'a single task' : 'plain list (no task declares needs): each task runs after the one before it';
  }
  return `graph (needs declared on ${declaring.join(', ')}): each task waits only for the tasks it needs and those whose results it reads`;
}

/**
 * A cycle among the tasks, if there is one, as a closed path in run order:
 * each task waits for the one before it, and the path starts and ends with
 * the cycle's earliest-declared task. Dependencies on ids outside `tasks` are
 * ignored (they are met, or reported missing, elsewhere). `undefined` when
 * there is no cycle.
 *
 * @example
 * // a needs c, b needs a, c needs b
 * findCycle([a, b, c], { a: ['c'], b: ['a'], c: ['b'] }) // ['a', 'b', 'c', 'a']
 * findCycle([a], { a: ['a'] })                           // ['a', 'a']
 */
export function findCycle(tasks: readonly Pick<TaskSpec, 'id'>[], needs: TaskNeeds): string[] | undefined {
  const order = new Map<string, number>();
  tasks.forEach((task, index) => {
    if (!order.has(task.id)) order.set(task.id, index);
  });
  const done = new Set<string>();
  const onPath = new Set<string>();
  /** Ids from the start of the search, each needing the next. */
  const path: string[] = [];

  const visit = (id: string): string[] | undefined => {
    onPath.add(id);
    path.push(id);
    for (const dependency of getOwn(needs, id) ?? []) {
      if (!order.has(dependency) || done.has(dependency)) continue;
      if (onPath.has(dependency)) return toRunOrder(path.slice(path.indexOf(dependency)), order);
      const found = visit(dependency);
      if (found) return found;
    }
    onPath.delete(id);
    path.pop();
    done.add(id);
    return undefined;
  };

  for (const id of order.keys()) {
    if (done.has(id)) continue;
    const found = visit(id);
    if (found) return found;
  }
  return undefined;
}

/** From "each needs the next" to "each runs before the next", starting at the earliest-declared task, closed. */
function toRunOrder(needing: readonly string[], order: ReadonlyMap<string, number>): string[] {
  const running = [...needing].reverse();
  let start = 0;
  running.forEach((id, index) => {
    if (order.get(id)! < order.get(running[start]!)!) start = index;
  });
  const rotated = [...running.slice(start), ...running.slice(0, start)];
  return [...rotated, rotated[0]!];
}
