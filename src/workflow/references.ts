/**
 * What workflow fields may refer to, checked before anything runs: servers
 * named by tasks, tasks named by `needs`, the `{{ … }}` placeholders in task
 * args and output, and that no tasks wait for each other in a cycle.
 *
 * The checks return problems instead of throwing so a caller can report
 * every mistake in a document at once, and so the same checks serve both the
 * workflow file and a planner's result (which are reported differently).
 */
import { listPlaceholders } from '../core/template.js';
import { ANY_SERVER, type TaskSpec } from '../core/workflow.js';
import { findCycle, listDependencies, type DependencyMode } from '../planning/dependencies.js';
import { formatFieldPath, type FieldPath, type Problem } from './workflow.schema.js';

/**
 * A placeholder path, understood.
 * `path` holds the segments after `json` (empty for `text` and for plain `json`).
 */
export type Reference =
  | { source: 'task'; task: string; part: 'text' | 'json'; path: string[] }
  | { source: 'context'; index: number; part: 'text' | 'json'; path: string[] }
  /** A declared input of the workflow (`inputs.<name>[.path]`), bound before the run. */
  | { source: 'input'; name: string; path: string[] };

// Declared inputs (`inputs.<name>[.path]`) are valid too; the messages name the forms most documents use.
const TASK_ARG_FORMS = 'tasks.<id>.text, tasks.<id>.json[.path], context.<n>.text or context.<n>.json[.path]';
const OUTPUT_FORMS = 'tasks.<id>.text or tasks.<id>.json[.path]';

/**
 * Reads a placeholder path (what is between `{{` and `}}`); `undefined` when
 * it has no allowed shape.
 *
 * @example
 * parseReference('tasks.read.json.items.0') // { source: 'task', task: 'read', part: 'json', path: ['items', '0'] }
 * parseReference('context.1.text')          // { source: 'context', index: 1, part: 'text', path: [] }
 * parseReference('inputs.city')             // { source: 'input', name: 'city', path: [] }
 * parseReference('tasks.read')              // undefined
 */
export function parseReference(placeholder: string): Reference | undefined {
  // Same splitting as the renderer, so what passes here resolves the same way at run time.
  const segments = placeholder.split('.').map((segment) => segment.trim());
  const [source, key, part, ...rest] = segments;
  if (key === undefined || key === '') return undefined;
  if (source === 'inputs') {
    const path = segments.slice(2);
    return path.some((segment) => segment === '') ? undefined : { source: 'input', name: key, path };
  }
  if (part !== 'text' && part !== 'json') return undefined;
  if (part === 'text' && rest.length > 0) return undefined;
  if (rest.some((segment) => segment === '')) return undefined;
  if (source === 'tasks') return { source: 'task', task: key, part, path: rest };
  if (source === 'context' && /^(0|[1-9][0-9]*)$/.test(key)) {
    return { source: 'context', index: Number(key), part, path: rest };
  }
  return undefined;
}

export interface TaskReferenceOptions {
  /** Names of the servers the workflow declares. */
  servers: readonly string[];
  /** Ids of tasks that run before the first of these tasks (for a planner's tasks: the workflow's own). */
  earlierTaskIds: readonly string[];
  /** Where the task list sits in the document, for messages; default `['tasks']`. */
  at?: FieldPath;
  /** Names of the inputs the workflow declares (none: `{{ inputs.x }}` is an error). */
  inputs?: readonly string[];
}

/**
 * Checks a task list's references: ids are unique (also against
 * `earlierTaskIds`), every `server` (of the task and of its context entries)
 * is declared, every `needs` entry names another task, and every placeholder
 * in `args` has an allowed shape and refers to an entry of the task's own
 * `context` or to a task it may read:
 *
 * - in a plain list (no task declares `needs`) tasks run in order, so a task
 *   reads only tasks listed before it;
 * - in a graph a task may read any other task, as long as no tasks end up
 *   waiting for each other in a cycle (reported once, naming them).
 *
 * `earlierTaskIds` have all completed before these tasks start, so `needs`
 * and placeholders may name them too.
 *
 * @example
 * const problems = checkTaskReferences(workflow.tasks, { servers: Object.keys(workflow.servers), earlierTaskIds: [] })
 * // [{ path: ['tasks', 2, 'server'], message: 'unknown server "fz" (servers: fs, api)' }]
 */
export function checkTaskReferences(tasks: readonly TaskSpec[], options: TaskReferenceOptions): Problem[] {
  const at = options.at ?? ['tasks'];
  const problems: Problem[] = [];
  const earlier = new Set(options.earlierTaskIds);
  const firstIndex = new Map<string, number>();
  tasks.forEach((task, index) => {
    if (!firstIndex.has(task.id)) firstIndex.set(task.id, index);
  });
  const { mode, needs } = listDependencies(tasks);

  tasks.forEach((task, index) => {
    const taskAt = [...at, index];
    const first = firstIndex.get(task.id);
    if (task.id === '__proto__') {
      // Task ids key results and schedules; this one would set an object's prototype instead.
      problems.push({ path: [...taskAt, 'id'], message: 'task id "__proto__" is reserved; pick another id' });
    } else if (earlier.has(task.id)) {
      problems.push({ path: [...taskAt, 'id'], message: `task id "${task.id}" is already used by an earlier task` });
    } else if (first !== undefined && first !== index) {
      problems.push({
        path: [...taskAt, 'id'],
        message: `duplicate task id "${task.id}" (also ${formatFieldPath([...at, first])})`,
      });
    }

    // `any` (or no server): routed by capability when the run starts, once tool lists are known.
    const serverProblem = task.server === ANY_SERVER ? undefined : checkServerName(task.server, options.servers, [...taskAt, 'server']);
    if (serverProblem) problems.push(serverProblem);
    if (task.compensate) problems.push(...checkCompensation(task, firstIndex, options, [...taskAt, 'compensate']));
    task.context.forEach((ref, refIndex) => {
      const refProblem = checkServerName(ref.server, options.servers, [...taskAt, 'context', refIndex, 'server']);
      if (refProblem) problems.push(refProblem);
    });

    const scope: ArgScope = { task, index, tasks, earlier, firstIndex, mode, inputs: options.inputs ?? [] };
    problems.push(...checkNeeds(scope, [...taskAt, 'needs']));
    for (const { path, placeholder } of listFieldPlaceholders(task.args, [...taskAt, 'args'])) {
      const message = checkArgPlaceholder(placeholder, scope);
      if (message !== undefined) problems.push({ path, message });
    }
  });

  // A plain list cannot have a cycle: it runs in order, and reading a later task is reported above.
  if (mode === 'graph') {
    const cycle = checkCycle(tasks, needs, { at, firstIndex });
    if (cycle) problems.push(cycle);
  }
  return problems;
}

/**
 * What is wrong with a task's `compensate`: its server must be declared, and
 * its placeholders read the task's own result (`{{ result.text }}`,
 * `{{ result.json.… }}`) or another task of the list (`{{ tasks.<id>.… }}`).
 */
function checkCompensation(task: TaskSpec, firstIndex: ReadonlyMap<string, number>, options: TaskReferenceOptions, at: FieldPath): Problem[] {
  const compensate = task.compensate!;
  const problems: Problem[] = [];
  const serverProblem = checkServerName(compensate.server, options.servers, [...at, 'server']);
  if (serverProblem) problems.push(serverProblem);
  const earlier = new Set(options.earlierTaskIds);
  for (const { path, placeholder } of listFieldPlaceholders(compensate.args, [...at, 'args'])) {
    const [root, second, third] = placeholder.split('.').map((segment) => segment.trim());
    if (root === 'result' && (second === 'text' || second === 'json') && (second === 'json' || third === undefined)) continue;
    if (root === 'tasks' && second !== undefined && (firstIndex.has(second) || earlier.has(second))) continue;
    problems.push({ path, message: `"{{ ${placeholder} }}": a compensation reads {{ result.text }}, {{ result.json.… }} (its task's own result) or {{ tasks.<id>.… }} of a task in this list` });
  }
  return problems;
}

/** What is wrong with a task's `needs`: itself, unknown ids, repeats. */
function checkNeeds(scope: ArgScope, path: FieldPath): Problem[] {
  const { task } = scope;
  const problems: Problem[] = [];
  const seen = new Set<string>();
  for (const id of task.needs ?? []) {
    if (seen.has(id)) {
      problems.push({ path, message: `"${id}" is listed twice` });
      continue;
    }
    seen.add(id);
    if (id === task.id) {
      problems.push({ path, message: `task "${id}" cannot need itself` });
    } else if (!scope.earlier.has(id) && !scope.firstIndex.has(id)) {
      problems.push({ path, message: `unknown task "${id}" (${listTasks(listOtherTasks(scope))})` });
    }
  }
  return problems;
}

/**
 * One cycle, if the tasks have any, reported at the dependency that closes
 * it: that of the cycle's earliest-declared task, usually the one that
 * should not be there. Needs on itself or on unknown ids are reported
 * separately, so they are left out here.
 */
function checkCycle(
  tasks: readonly TaskSpec[],
  needs: Readonly<Record<string, readonly string[]>>,
  { at, firstIndex }: { at: FieldPath; firstIndex: ReadonlyMap<string, number> },
): Problem | undefined {
  const known: Record<string, string[]> = {};
  for (const [id, dependencies] of Object.entries(needs)) {
    known[id] = dependencies.filter((dependency) => dependency !== id && firstIndex.has(dependency));
  }
  const cycle = findCycle(tasks, known);
  if (!cycle) return undefined;

  const [closer, ...rest] = cycle;
  const needed = rest.at(-2) ?? closer!;
  const index = firstIndex.get(closer!)!;
  const task = tasks[index]!;
  const taskAt = [...at, index];
  const read = listFieldPlaceholders(task.args, [...taskAt, 'args']).find(({ placeholder }) => {
    const reference = parseReference(placeholder);
    return reference?.source === 'task' && reference.task === needed;
  });
  const path = (task.needs ?? []).includes(needed) || !read ? [...taskAt, 'needs'] : read.path;
  return {
    path,
    message: `dependency cycle: ${cycle.join(' → ')} (each task waits for the one before it), so none of these tasks can start`,
  };
}

/**
 * Checks that a `server:` field names a declared server.
 *
 * @example
 * checkServerName('fz', ['fs', 'api'], ['plan', 'server'])
 * // { path: ['plan', 'server'], message: 'unknown server "fz" (servers: fs, api)' }
 */
export function checkServerName(name: string, servers: readonly string[], path: FieldPath): Problem | undefined {
  if (servers.includes(name)) return undefined;
  const known = servers.length > 0 ? `servers: ${servers.join(', ')}` : 'no servers are declared';
  return { path, message: `unknown server "${name}" (${known})` };
}

export interface OutputReferenceOptions {
  /** Every task id the output may use. */
  taskIds: readonly string[];
  /**
   * Accept ids not in `taskIds`: with a planner, the output may name tasks
   * that only exist once the plan is made. Shapes are still checked.
   */
  allowUnknownTasks?: boolean;
  /** Default `['output']`. */
  at?: FieldPath;
  /** Names of the inputs the workflow declares. */
  inputs?: readonly string[];
}

/**
 * Checks the output template: only `tasks.<id>.text|json…`, for tasks that
 * exist (in any position, since output renders after all of them).
 *
 * @example
 * checkOutputReferences('{{ tasks.sav.text }}', { taskIds: ['read', 'save'] })
 * // [{ path: ['output'], message: '{{ tasks.sav.text }} refers to unknown task "sav" (tasks: read, save)' }]
 */
export function checkOutputReferences(output: string, options: OutputReferenceOptions): Problem[] {
  const path = options.at ?? ['output'];
  const problems: Problem[] = [];
  for (const placeholder of listPlaceholders(output)) {
    const shown = showPlaceholder(placeholder);
    const reference = parseReference(placeholder);
    if (reference === undefined) {
      problems.push({ path, message: `${shown} is not a valid placeholder; the output can use ${OUTPUT_FORMS}` });
    } else if (reference.source === 'input') {
      const message = checkInputName(shown, reference.name, options.inputs ?? []);
      if (message !== undefined) problems.push({ path, message });
    } else if (reference.source === 'context') {
      problems.push({ path, message: `${shown}: the output cannot use context; it can use ${OUTPUT_FORMS}` });
    } else if (!options.allowUnknownTasks && !options.taskIds.includes(reference.task)) {
      problems.push({ path, message: `${shown} refers to unknown task "${reference.task}" (${listTasks(options.taskIds)})` });
    }
  }
  return problems;
}

/**
 * Plan args are sent before any task has run, so there is nothing a
 * placeholder could refer to: any placeholder is a mistake.
 *
 * @example
 * checkPlanArgs({ goal: '{{ tasks.a.text }}' })
 * // [{ path: ['plan', 'args', 'goal'], message: 'plan args cannot use placeholders ({{ tasks.a.text }}): the plan is made before any task runs' }]
 */
export function checkPlanArgs(args: Record<string, unknown>, at: FieldPath = ['plan', 'args']): Problem[] {
  return listFieldPlaceholders(args, at).map(({ path, placeholder }) => ({
    path,
    message: `plan args cannot use placeholders (${showPlaceholder(placeholder)}): the plan is made before any task runs`,
  }));
}

/**
 * Every placeholder in a value, with the path of the string holding it.
 *
 * @example
 * listFieldPlaceholders({ content: 'x {{ tasks.a.text }}' }, ['tasks', 1, 'args'])
 * // [{ path: ['tasks', 1, 'args', 'content'], placeholder: 'tasks.a.text' }]
 */
export function listFieldPlaceholders(value: unknown, at: FieldPath): { path: FieldPath; placeholder: string }[] {
  const found: { path: FieldPath; placeholder: string }[] = [];
  const visit = (item: unknown, path: FieldPath): void => {
    if (typeof item === 'string') {
      for (const placeholder of listPlaceholders(item)) found.push({ path, placeholder });
    } else if (Array.isArray(item)) {
      item.forEach((child, index) => visit(child, [...path, index]));
    } else if (item !== null && typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) visit(child, [...path, key]);
    }
  };
  visit(value, at);
  return found;
}

interface ArgScope {
  task: TaskSpec;
  index: number;
  tasks: readonly TaskSpec[];
  earlier: ReadonlySet<string>;
  firstIndex: ReadonlyMap<string, number>;
  mode: DependencyMode;
  inputs: readonly string[];
}

/** The tasks a task may name: in a plain list the ones before it, in a graph any other. */
function listOtherTasks(scope: ArgScope): string[] {
  const listed = scope.mode === 'list' ? scope.tasks.slice(0, scope.index) : scope.tasks.filter((task) => task.id !== scope.task.id);
  return [...scope.earlier, ...listed.map((task) => task.id)];
}

/** What is wrong with one placeholder in a task's args, or `undefined` when it is fine. */
function checkArgPlaceholder(placeholder: string, scope: ArgScope): string | undefined {
  const shown = showPlaceholder(placeholder);
  const reference = parseReference(placeholder);
  if (reference === undefined) return `${shown} is not a valid placeholder; use ${TASK_ARG_FORMS}`;
  if (reference.source === 'input') return checkInputName(shown, reference.name, scope.inputs);

  if (reference.source === 'context') {
    const count = scope.task.context.length;
    if (reference.index < count) return undefined;
    const has = count === 0 ? 'has no context entries' : `has ${count} context ${count === 1 ? 'entry' : 'entries'} (context.0${count > 1 ? `…context.${count - 1}` : ''})`;
    return `${shown}: task "${scope.task.id}" ${has}`;
  }

  const target = reference.task;
  if (scope.earlier.has(target)) return undefined;
  const position = scope.firstIndex.get(target);
  if (position === undefined) {
    const label = scope.mode === 'list' ? 'tasks before it' : 'tasks';
    return `${shown} refers to unknown task "${target}" (${listTasks(listOtherTasks(scope), label)})`;
  }
  if (position === scope.index) return `${shown}: task "${target}" cannot use its own result`;
  // In a graph, reading a later task is fine: the read makes it a dependency (a cycle is reported on its own).
  if (position > scope.index && scope.mode === 'list') {
    return `${shown}: task "${target}" runs after "${scope.task.id}" (a plain list runs in order); list it earlier, or declare "needs" to make the tasks a graph`;
  }
  return undefined;
}

function listTasks(ids: readonly string[], label = 'tasks'): string {
  const unique = [...new Set(ids)];
  return unique.length > 0 ? `${label}: ${unique.join(', ')}` : `no ${label}`;
}

function showPlaceholder(placeholder: string): string {
  return `{{ ${placeholder} }}`;
}

/** An `{{ inputs.<name> }}` must name a declared input: a typo would otherwise reach the run as a missing value. */
function checkInputName(shown: string, name: string, inputs: readonly string[]): string | undefined {
  if (inputs.includes(name)) return undefined;
  const known = inputs.length > 0 ? `inputs: ${inputs.join(', ')}` : 'the workflow declares no inputs';
  return `${shown} refers to unknown input "${name}" (${known})`;
}
