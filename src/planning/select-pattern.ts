/**
 * The pattern selection guide (seed: "Pattern Selection Guide"), as a pure
 * function of the workflow:
 *
 *   Independent Tasks  ──► Parallel Execution
 *   Complex Ecosystem  ──► Multi-Server Coordination
 *   Simple Task        ──► Sequential Coordination
 *   High Availability  ──► Graceful Degradation (alongside the primary)
 *   Unified Interface  ──► Aggregator Integration (never chosen for a run)
 */
import { EnsembleError } from '../core/errors.js';
import { getOwn } from '../core/own.js';
import type { PatternName } from '../core/results.js';
import { ANY_SERVER, type TaskSpec, type Workflow } from '../core/workflow.js';
import { listDependencies, listReadTasks, type DependencyMode } from './dependencies.js';
import { createParallelGroups } from './parallel-groups.js';

/** The patterns that drive a run; `Workflow.pattern` also takes `auto`. */
export type RunPattern = Exclude<Workflow['pattern'], 'auto'>;

export const RUN_PATTERNS: readonly RunPattern[] = ['sequential', 'parallel', 'multi-server'];

/**
 * True for a pattern that can drive a run, e.g. a `--pattern` value.
 *
 * @example
 * isRunPattern('parallel') // true
 * isRunPattern('auto')     // false: auto is the absence of a choice
 */
export function isRunPattern(value: unknown): value is RunPattern {
  return (RUN_PATTERNS as readonly unknown[]).includes(value);
}

export interface SelectPatternOptions {
  /** Force the primary pattern; wins over the workflow's own `pattern`. */
  force?: RunPattern;
}

export interface PatternChoice {
  /** The primary pattern: the one that drives the run. */
  pattern: RunPattern;
  /** Other patterns that apply alongside it: `multi-server`, `graceful-degradation`. */
  with: PatternName[];
  /** Why, as sentences for people: `ensemble explain` prints them. */
  reasons: string[];
  /** The static tasks' parallel groups, by id (see `createParallelGroups`). */
  groups: string[][];
  /** The servers the plan and the static tasks use (their own and their context's), in order of first use. */
  servers: string[];
  /** How the task list was read (see `listDependencies`). */
  dependencies: DependencyMode;
}

/**
 * Chooses how a workflow runs. The primary pattern is `multi-server` (the
 * coordinator machine) when a task names only a tool, declares `compensate`,
 * or reads the result of a task on another server (data flowing between
 * servers); else `parallel` when some group holds two or more independent
 * tasks; else `multi-server` when the run uses two or more servers; else
 * `sequential`. A workflow `pattern` other
 * than `auto`, or `options.force` (which wins), forces the primary; the
 * reasons then say so and what the guide would have chosen.
 *
 * `with` adds `multi-server` when several servers are used and it is not the
 * primary, and `graceful-degradation` when a used server declares a
 * `fallback`. `aggregator` is never chosen: it is what Ensemble does when it
 * serves several servers' tools as one unified interface, not a way to run
 * a workflow.
 *
 * With a planner, the breakdown is only known at run time: the choice is
 * made on the static tasks (and the planner's server) alone.
 *
 * Throws `EnsembleError('INVALID_WORKFLOW')` for a workflow with no tasks and
 * no plan (which `parseWorkflow` never returns).
 *
 * @example
 * // a; b and c need a; d needs b and c; all on server fs
 * selectPattern(workflow)
 * // { pattern: 'parallel', with: [], groups: [['a'], ['b', 'c'], ['d']], servers: ['fs'], dependencies: 'graph',
 * //   reasons: ['graph (needs declared on b, c, d): …', 'group 2 holds 2 independent tasks (b, c)', 'tasks use one server (fs)'] }
 *
 * selectPattern(workflow, { force: 'sequential' }).reasons[0]
 * // 'forced to sequential (auto would choose parallel)'
 */
export function selectPattern(workflow: Workflow, options: SelectPatternOptions = {}): PatternChoice {
  const { tasks, plan } = workflow;
  if (tasks.length === 0 && plan === undefined) {
    throw new EnsembleError('INVALID_WORKFLOW', 'a workflow needs at least one task (or a plan)', {
      ...(workflow.file !== undefined ? { file: workflow.file } : {}),
      field: 'tasks',
    });
  }
  const dependencies = listDependencies(tasks);
  const groups = createParallelGroups(tasks, dependencies.needs);
  const servers = listUsedServers(workflow);
  const wide = groups.flatMap((group, index) => (group.length >= 2 ? [{ group, index }] : []));

  // What only the coordinator runs (capability routing, compensations), or data flowing between servers, is multi-server coordination.
  const coordinated = listCoordinatorReasons(tasks);
  const flows = servers.length >= 2 ? listCrossServerFlows(tasks) : [];
  const needsCoordinator = coordinated.length > 0 || flows.length > 0;
  const guided: RunPattern = needsCoordinator ? 'multi-server' : wide.length > 0 ? 'parallel' : servers.length >= 2 ? 'multi-server' : 'sequential';
  const fileForce = workflow.pattern === 'auto' ? undefined : workflow.pattern;
  const pattern = options.force ?? fileForce ?? guided;

  const reasons: string[] = [];
  const forced = describeForcing(guided, options.force, fileForce);
  if (forced !== undefined) reasons.push(forced);
  reasons.push(dependencies.reason);
  if (plan !== undefined) {
    const judged = tasks.length === 0 ? 'there are no static tasks to judge' : `this judges the ${countTasks(tasks.length, 'static')} only`;
    reasons.push(`tasks come from the planner ${plan.server}.${plan.tool}: the breakdown is decided at run time, so ${judged}`);
  }
  for (const { group, index } of wide) {
    reasons.push(`group ${index + 1} holds ${group.length} independent tasks (${group.join(', ')})`);
  }
  if (wide.length === 0 && tasks.length >= 2) reasons.push('no two tasks can run at once: every group holds one task');
  reasons.push(describeServers(servers, plan?.server));
  reasons.push(...coordinated);
  if (flows.length > 0) {
    const shown = flows.slice(0, 3).join('; ');
    reasons.push(`data flows between servers (${shown}${flows.length > 3 ? `; ${flows.length - 3} more` : ''}): the multi-server coordinator runs them, with independent tasks of different servers at once`);
  }

  const unused = Object.keys(workflow.servers).filter((name) => !servers.includes(name));
  if (unused.length > 0 && plan === undefined) {
    reasons.push(`${unused.length === 1 ? 'server' : 'servers'} ${unused.join(', ')} ${unused.length === 1 ? 'is' : 'are'} declared but no task uses ${unused.length === 1 ? 'it' : 'them'}`);
  }

  const withPatterns: PatternName[] = [];
  if (servers.length >= 2 && pattern !== 'multi-server') withPatterns.push('multi-server');
  // A declared chain, not the key: a server with only `recovery` (every server `ensemble serve` starts) has `fallback: []`.
  const degradable = servers.filter((name) => (getOwn(workflow.servers, name)?.fallback?.length ?? 0) > 0);
  if (degradable.length > 0) {
    withPatterns.push('graceful-degradation');
    for (const name of degradable) reasons.push(`server ${name} declares a fallback`);
  }

  return { pattern, with: withPatterns, reasons, groups, servers, dependencies: dependencies.mode };
}

/** Why tasks need the coordinator itself: routing by capability, compensations. */
function listCoordinatorReasons(tasks: readonly TaskSpec[]): string[] {
  const routed = tasks.filter((task) => task.server === ANY_SERVER).map((task) => task.id);
  const compensated = tasks.filter((task) => task.compensate !== undefined).map((task) => task.id);
  const reasons: string[] = [];
  if (routed.length > 0) reasons.push(`${routed.length === 1 ? 'task' : 'tasks'} ${routed.join(', ')} ${routed.length === 1 ? 'names' : 'name'} only a tool: the multi-server coordinator routes ${routed.length === 1 ? 'it' : 'them'} by capability`);
  if (compensated.length > 0) reasons.push(`${compensated.length === 1 ? 'task' : 'tasks'} ${compensated.join(', ')} ${compensated.length === 1 ? 'declares' : 'declare'} compensate: the multi-server coordinator undoes completed tasks when a later one fails (a saga)`);
  return reasons;
}

/** Each read of one task's result by a task of another server, as `b (api) reads a (db)`. */
function listCrossServerFlows(tasks: readonly TaskSpec[]): string[] {
  const serverOf = new Map(tasks.map((task) => [task.id, task.server]));
  const flows: string[] = [];
  for (const task of tasks) {
    for (const id of listReadTasks(task)) {
      const from = serverOf.get(id);
      if (from !== undefined && from !== task.server) flows.push(`${task.id} (${task.server}) reads ${id} (${from})`);
    }
  }
  return flows;
}

function describeForcing(guided: RunPattern, force: RunPattern | undefined, fileForce: RunPattern | undefined): string | undefined {
  const auto = guided === (force ?? fileForce) ? 'auto would choose the same' : `auto would choose ${guided}`;
  if (force !== undefined && fileForce !== undefined && force !== fileForce) {
    return `forced to ${force}, over the workflow's pattern: ${fileForce} (${auto})`;
  }
  if (force !== undefined) return `forced to ${force} (${auto})`;
  if (fileForce !== undefined) return `the workflow sets pattern: ${fileForce} (${auto})`;
  return undefined;
}

/** The plan's server first (it is asked first), then each task's server and context servers, in task order. */
function listUsedServers(workflow: Workflow): string[] {
  const used = new Set<string>();
  if (workflow.plan) used.add(workflow.plan.server);
  for (const task of workflow.tasks) {
    // A task routed by capability uses whichever server offers its tool: that is decided at run time.
    if (task.server !== ANY_SERVER) used.add(task.server);
    for (const ref of task.context) used.add(ref.server);
    if (task.compensate) used.add(task.compensate.server);
  }
  // The coordinator starts every declared server that could offer a routed task's tool (fallback-only ones aside).
  if (workflow.tasks.some((task) => task.server === ANY_SERVER)) {
    const fallbacks = new Set(Object.values(workflow.servers).flatMap((spec) => ('fallback' in spec ? (spec.fallback ?? []) : []).flatMap((step) => (step.kind === 'server' ? [step.server] : []))));
    for (const name of Object.keys(workflow.servers)) if (!fallbacks.has(name)) used.add(name);
  }
  return [...used];
}

function describeServers(servers: readonly string[], planner: string | undefined): string {
  const who = planner !== undefined ? 'the run uses' : 'tasks use';
  return servers.length === 1 ? `${who} one server (${servers[0]})` : `${who} ${servers.length} servers (${servers.join(', ')})`;
}

function countTasks(count: number, kind: string): string {
  return count === 1 ? `1 ${kind} task` : `${count} ${kind} tasks`;
}
