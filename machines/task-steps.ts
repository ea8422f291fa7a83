/**
 * Pure steps shared by the coordinating machines: what a task's call looks
 * like once its placeholders are filled, and whether a breakdown fits the
 * servers that actually connected. No I/O here; machines call these from
 * assign actions and guards.
 */
import { EnsembleError, toErrorInfo, type ErrorInfo } from '../src/core/errors.js';
import { getOwn } from '../src/core/own.js';
import type { ResourceResult, TaskStatus, ToolInfo, ToolResult } from '../src/core/results.js';
import { hasPlaceholders, listPlaceholders, renderValue } from '../src/core/template.js';
import type { RunEvent, TaskRef } from '../src/core/bus-events.js';
import type { ServerReport } from '../src/core/server-port.js';
import type { TaskSpec } from '../src/core/workflow.js';
import { checkArguments } from '../src/workflow/check-arguments.js';
import { describeOptionalSkip } from './server-inputs.js';
import type { TaskOutcome } from './worker.machine.js';

export type PreparedCall = { ok: true; args: Record<string, unknown> } | { ok: false; error: ErrorInfo };

/** Fills a task's argument placeholders from earlier results and its gathered context. */
export function prepareCall(task: TaskSpec, results: Record<string, ToolResult>, context: ResourceResult[]): PreparedCall {
  if (!hasPlaceholders(task.args)) return { ok: true, args: task.args };
  try {
    const scope = { tasks: results, context };
    return { ok: true, args: renderValue(task.args, scope, { where: `task "${task.id}" args`, task: task.id }) };
  } catch (error) {
    return { ok: false, error: toErrorInfo(error, { task: task.id }) };
  }
}

/** Ids of the tasks a task's argument placeholders read (`{{ tasks.ID… }}`). */
export function listTasksRead(task: TaskSpec): string[] {
  const read = new Set<string>();
  for (const path of listPlaceholders(task.args)) {
    const [root, id] = path.split('.');
    if (root === 'tasks' && id) read.add(id.trim());
  }
  return [...read];
}

/**
 * Which results a run keeps in machine context, and for how long: only
 * results a later task reads, each dropped once its last reader (by breakdown
 * position) has run. The synthesizer keeps every result for the report and the
 * output, so context stays as small as the results still to be read.
 */
export interface ResultRetention {
  /** Ids whose result some task reads. */
  keep: Record<string, true>;
  /** After the task at this position completes, these results are no longer read. */
  release: Record<number, string[]>;
}

export function planResultRetention(breakdown: readonly TaskSpec[]): ResultRetention {
  const lastReader = new Map<string, number>();
  breakdown.forEach((task, index) => {
    for (const id of listTasksRead(task)) lastReader.set(id, index);
  });
  const keep: Record<string, true> = {};
  const release: Record<number, string[]> = {};
  for (const [id, index] of lastReader) {
    keep[id] = true;
    (release[index] ??= []).push(id);
  }
  return { keep, release };
}

/**
 * Checks that every task's tool exists on its server and that its arguments fit the tool's
 * input schema, now that the tool lists are known: before any task runs.
 */
export function checkToolsExist(tasks: TaskSpec[], tools: Record<string, ToolInfo[] | undefined>, partial: readonly string[] = []): ErrorInfo | undefined {
  for (const [index, task] of tasks.entries()) {
    // A server serving from fallbacks since it never started: its own tools are unknown until it recovers.
    if (partial.includes(task.server)) continue;
    const known = getOwn(tools, task.server);
    if (!known) continue; // the server did not connect; the call itself will say so
    const tool = known.find((candidate) => candidate.name === task.tool);
    if (tool) {
      const invalid = checkArguments(task, index, tool);
      if (invalid) return invalid;
      continue;
    }
    const names = known.map((tool) => tool.name);
    const listed = names.length === 0 ? 'it lists no tools' : `it has: ${names.join(', ')}`;
    return new EnsembleError('UNKNOWN_TOOL', `task "${task.id}" (tasks[${index}].tool): server "${task.server}" has no tool "${task.tool}" (${listed})`, {
      task: task.id,
      server: task.server,
      field: `tasks[${index}].tool`,
    }).toJSON();
  }
  return undefined;
}

/** The error a tool's own `isError` result becomes when it fails a task. */
export function toolErrorInfo(task: TaskSpec, result: ToolResult): ErrorInfo {
  const detail = result.text.trim() === '' ? 'no message' : result.text.trim().slice(0, 500);
  return { code: 'TOOL_ERROR', message: `task "${task.id}": ${task.server}.${task.tool} returned an error: ${detail}`, task: task.id, server: task.server };
}

/**
 * Capability routing (multi-server coordinator): the first server, in
 * declaration order, among those that are ready, whose tool list offers
 * `tool`. Declaration order makes an ambiguous tool go to the same server on
 * every run. Undefined when no ready server offers it.
 */
export function pickServerFor(tool: string, declared: readonly string[], tools: Record<string, ToolInfo[] | undefined>): string | undefined {
  return declared.find((server) => getOwn(tools, server)?.some((candidate) => candidate.name === tool) === true);
}

/** The error a task routed by capability gets when no ready server offers its tool. */
export function noServerOffers(task: TaskSpec, index: number, declared: readonly string[]): ErrorInfo {
  return new EnsembleError('UNKNOWN_TOOL', `task "${task.id}" (tasks[${index}].tool): no live server offers tool "${task.tool}" (servers: ${declared.join(', ')})`, {
    task: task.id,
    field: `tasks[${index}].tool`,
  }).toJSON();
}

/** Fills a compensation's placeholders: `result` is its task's own result, `tasks` the results it reads. */
export function prepareCompensation(task: TaskSpec, result: ToolResult, results: Record<string, ToolResult>): PreparedCall {
  const args = task.compensate?.args ?? {};
  if (!hasPlaceholders(args)) return { ok: true, args };
  try {
    return { ok: true, args: renderValue(args, { result, tasks: results }, { where: `task "${task.id}" compensate.args`, task: task.id }) };
  } catch (error) {
    return { ok: false, error: toErrorInfo(error, { task: task.id }) };
  }
}

/** Ids of the tasks a task's compensation reads (`{{ tasks.ID… }}`). */
export function listCompensationReads(task: TaskSpec): string[] {
  const read = new Set<string>();
  for (const path of listPlaceholders(task.compensate?.args ?? {})) {
    const [root, id] = path.split('.');
    if (root === 'tasks' && id) read.add(id.trim());
  }
  return [...read];
}

/**
 * Checks that every compensation's tool exists on its server before any task
 * runs: an undo that cannot run is better known before there is anything to
 * undo. Its arguments are only known once its task has completed.
 */
export function checkCompensationTools(tasks: readonly TaskSpec[], tools: Record<string, ToolInfo[] | undefined>, partial: readonly string[] = []): ErrorInfo | undefined {
  for (const [index, task] of tasks.entries()) {
    const compensate = task.compensate;
    if (!compensate || partial.includes(compensate.server)) continue;
    const known = getOwn(tools, compensate.server);
    if (!known || known.some((tool) => tool.name === compensate.tool)) continue;
    return new EnsembleError('UNKNOWN_TOOL', `task "${task.id}" (tasks[${index}].compensate.tool): server "${compensate.server}" has no tool "${compensate.tool}" (it has: ${known.map((tool) => tool.name).join(', ') || 'no tools'})`, {
      task: task.id,
      server: compensate.server,
      field: `tasks[${index}].compensate.tool`,
    }).toJSON();
  }
  return undefined;
}

/** Initialize: a `server.ready` answer added to the tools known so far (and to the servers served only by their fallbacks). */
export function withReadyServer(
  context: { tools: Record<string, ToolInfo[]>; partialTools: string[] },
  event: { type: string } | ServerReport,
): { tools?: Record<string, ToolInfo[]>; partialTools?: string[] } {
  if (!('server' in event) || event.type !== 'server.ready') return {};
  return {
    tools: { ...context.tools, [event.server]: event.tools },
    partialTools: event.partial ? [...context.partialTools, event.server] : context.partialTools,
  };
}

/**
 * A task that did not complete, in a machine that schedules by dependencies (parallel,
 * coordinator): the events that say so, and every pending task that needs it — directly or
 * through others — skipped, since it can never run. `settle` marks a position skipped in the
 * machine's own schedule. Returns the events to emit, in order, and the error the run keeps.
 */
export function settleUncompleted(
  task: TaskSpec,
  outcome: Exclude<TaskOutcome, { status: 'completed' }>,
  at: number,
  breakdown: readonly TaskSpec[],
  schedule: { dependents: readonly (readonly number[])[]; status: readonly TaskStatus[] },
  settle: (position: number) => void,
): { events: RunEvent[]; error?: ErrorInfo } {
  const ref = (spec: TaskSpec): TaskRef => ({ id: spec.id, server: spec.server, tool: spec.tool });
  const events: RunEvent[] = [];
  let error: ErrorInfo | undefined;
  if (outcome.status === 'skipped') {
    events.push({ type: 'task.skipped', task: ref(task), reason: outcome.reason, optional: true });
    events.push({ type: 'notification', notification: { level: 'warning', server: task.server, task: task.id, message: describeOptionalSkip(task, outcome.reason) } });
  } else {
    const failed: RunEvent = { type: 'task.failed', task: ref(task), error: outcome.error, durationMs: outcome.durationMs };
    if (outcome.status === 'failed' && outcome.result) failed.result = outcome.result;
    events.push(failed);
    error = outcome.error;
  }
  const why = outcome.status === 'skipped' ? 'an optional task that was skipped' : outcome.status === 'cancelled' ? 'which was cancelled' : 'which failed';
  const stack = [...schedule.dependents[at]!];
  while (stack.length > 0) {
    const dependent = stack.pop()!;
    if (schedule.status[dependent] !== 'pending') continue;
    settle(dependent);
    stack.push(...schedule.dependents[dependent]!);
    const skipped: RunEvent = { type: 'task.skipped', task: ref(breakdown[dependent]!), reason: `needs "${task.id}", ${why}` };
    if (outcome.status === 'skipped') skipped.optional = true;
    events.push(skipped);
  }
  return error ? { events, error } : { events };
}
