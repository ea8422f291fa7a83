/**
 * Sequential coordination (seed: "Sequential Coordination Pattern").
 *
 *   initializing ─► planning ─► creatingBreakdown ─► executing ─► synthesizing ─► finalOutput
 *                                                     │  for each subtask:
 *                                                     │  gettingContext ─► implementing ─► completing
 *   any failure ─────────────────────────────────────────────────────────────────► failed
 *
 * Driven only by events: the server directory reports readiness and answers
 * calls (servers are named, never held, so a snapshot is plain JSON); the
 * machine emits run events that the engine puts on the bus. A subtask costs
 * one `assign` and three microsteps (Get Context is skipped when it reads no
 * resources); only results a later subtask reads stay in context, and only
 * until their last reader has run.
 */
import { and, assign, emit, enqueueActions, sendTo, setup } from 'xstate';
import type { RunEvent, TaskRef } from '../src/core/bus-events.js';
import { toErrorInfo, type ErrorInfo } from '../src/core/errors.js';
import type { ResourceResult, ToolInfo, ToolResult } from '../src/core/results.js';
import type { ServerPortMessage, ServerReport, ServerRequest } from '../src/core/server-port.js';
import type { TaskSpec, Workflow } from '../src/core/workflow.js';
import { listBreakdownDependencies } from '../src/planning/dependencies.js';
import { toTopologicalOrder } from '../src/planning/parallel-groups.js';
import { createPlanCommand, describePlannerFailure, readPlan } from './planner-steps.js';
import { isUnavailability } from './fallback-routing.js';
import { describeOptionalSkip, listRequiredServers } from './server-inputs.js';
import { sharedGuards } from './shared-guards.js';
import { createPlanningState, INITIALIZING_STATE, serverPortPlaceholder, SYNTHESIZING_STATE, synthesizePlaceholder } from './shared-states.js';
import { checkToolsExist, planResultRetention, prepareCall, toolErrorInfo, type ResultRetention, withReadyServer } from './task-steps.js';

export interface SequentialInput {
  runId: string;
  workflow: Workflow;
}

export interface SequentialContext {
  runId: string;
  workflow: Workflow;
  /** Servers the run acquired, and the tool lists of those that are ready, by server name. */
  required: string[];
  tools: Record<string, ToolInfo[]>;
  /** Servers whose tool list is only what their fallbacks serve. */
  partialTools: string[];
  breakdown: TaskSpec[];
  /** Results a later subtask reads, until its last reader has run (the synthesizer keeps all of them). */
  results: Record<string, ToolResult>;
  retention: ResultRetention;
  /** The subtask in progress, as an index into the breakdown. */
  index: number;
  /** Resources read so far during the current subtask's Get Context. */
  gathered: ResourceResult[];
  startedAt: number;
  plannedTasks?: TaskSpec[];
  error?: ErrorInfo;
  output?: string;
}

export type SequentialEvent = ServerReport | { type: 'run.cancel'; reason: string };

const currentTask = (context: SequentialContext): TaskSpec => context.breakdown[context.index]!;
const refOf = (task: TaskSpec): TaskRef => ({ id: task.id, server: task.server, tool: task.tool });
const callIdOf = (task: TaskSpec) => `${task.id}#call`;
const readIdOf = (task: TaskSpec) => `${task.id}#context`;
const isCall = (context: SequentialContext, event: { callId: string }) => event.callId === callIdOf(currentTask(context));
const isRead = (context: SequentialContext, event: { callId: string }) => event.callId === readIdOf(currentTask(context));

/** Moves past the current subtask: keeps its result if a later one reads it, drops results no longer read. */
function advance(context: SequentialContext, now: number, result?: ToolResult): Partial<SequentialContext> {
  const task = currentTask(context);
  const update: Partial<SequentialContext> = { index: context.index + 1, startedAt: now };
  const released = Object.hasOwn(context.retention.release, context.index) ? context.retention.release[context.index] : undefined;
  const keep = result !== undefined && Object.hasOwn(context.retention.keep, task.id);
  if (keep || released) {
    const results = { ...context.results };
    for (const id of released ?? []) delete results[id];
    if (keep) results[task.id] = result;
    update.results = results;
  }
  if (context.gathered.length > 0) update.gathered = [];
  return update;
}

export const sequentialMachine = setup({
  types: {
    input: {} as SequentialInput,
    context: {} as SequentialContext,
    events: {} as SequentialEvent,
    emitted: {} as RunEvent,
    output: {} as { output?: string; error?: ErrorInfo },
  },
  actors: {
    // The server directory, as this run reaches it (by name); the engine provides it.
    serverPort: serverPortPlaceholder,
    // Builds the final output from everything the run produced; the engine provides it.
    synthesize: synthesizePlaceholder,
  },
  guards: {
    ...sharedGuards,
    breakdownFailed: ({ context }) => context.error !== undefined,
    hasMoreSubtasks: ({ context }) => context.index < context.breakdown.length,
    readsContext: ({ context }) => currentTask(context).context.length > 0,
    contextGathered: ({ context }) => context.gathered.length === currentTask(context).context.length,
    callNotPrepared: ({ context }) => context.error !== undefined,
    isCurrentRead: ({ context, event }) => 'callId' in event && isRead(context, event),
    isCurrentReply: ({ context, event }) => 'callId' in event && isCall(context, event),
    // An optional task whose server (and every fallback) is unavailable: reduced functionality, not failure.
    isOptionalUnserved: ({ context, event }) =>
      event.type === 'server.failed' && isCall(context, event) && currentTask(context).optional === true && isUnavailability(event.error.code),
    isToolError: ({ context, event }) => event.type === 'server.result' && isCall(context, event) && event.result.isError,
  },
  actions: {
    acquire: sendTo('serverPort', ({ context }) => ({ type: 'port.acquire', servers: listRequiredServers(context.workflow) }) satisfies ServerPortMessage),
    keepOutput: assign({ output: ({ event }) => (event as { output?: string }).output }),
    failSynthesis: assign({ error: ({ event }) => toErrorInfo((event as { error?: unknown }).error, { code: 'TEMPLATE' }) }),
    phase: emit((_, params: { phase: 'initializing' | 'planning' | 'breakdown' | 'executing' | 'synthesizing' }) => ({
      type: 'run.phase' as const,
      phase: params.phase,
    })),
    markServerReady: assign(({ context, event }) => withReadyServer(context, event)),
    failWithEvent: assign({
      error: ({ event }) => ('error' in event ? event.error : { code: 'CANCELLED' as const, message: 'run cancelled' }),
    }),
    askPlanner: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo('serverPort', createPlanCommand(context.workflow));
    }),
    failPlanner: assign({
      error: ({ context, event }) => describePlannerFailure(context.workflow, event as ServerReport),
    }),
    acceptPlan: assign(({ context, event }) => (event.type === 'server.result' ? readPlan(context.workflow, event) : {})),
    createBreakdown: enqueueActions(({ context, enqueue }) => {
      const declared = [...context.workflow.tasks, ...(context.plannedTasks ?? [])];
      const missingTool = checkToolsExist(declared, context.tools, context.partialTools);
      if (missingTool) {
        enqueue.assign({ error: missingTool });
        return;
      }
      // A graph may declare a task before what it needs: run in dependency order.
      const breakdown = toTopologicalOrder(declared, listBreakdownDependencies(context.workflow.tasks, context.plannedTasks ?? []).needs);
      enqueue.assign({ breakdown, retention: planResultRetention(breakdown), startedAt: performance.now() });
      const source = context.plannedTasks ? (context.workflow.tasks.length > 0 ? 'workflow+planner' : 'planner') : 'workflow';
      enqueue.emit({ type: 'run.breakdown', tasks: declared.map(refOf), source } satisfies RunEvent);
    }),
    gatherContext: enqueueActions(({ context, enqueue }) => {
      const task = currentTask(context);
      enqueue.emit({ type: 'task.context', task: refOf(task), resources: task.context.map((ref) => ref.uri) } satisfies RunEvent);
      // Reads go one at a time so the results line up with the declared order.
      const first = task.context[0]!;
      enqueue.sendTo('serverPort', { type: 'server.read', server: first.server, callId: readIdOf(task), uri: first.uri, task: task.id } satisfies ServerRequest);
    }),
    keepResource: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.resource') return;
      const task = currentTask(context);
      const gathered = [...context.gathered, event.resource];
      enqueue.assign({ gathered });
      const next = task.context[gathered.length];
      if (next) enqueue.sendTo('serverPort', { type: 'server.read', server: next.server, callId: readIdOf(task), uri: next.uri, task: task.id } satisfies ServerRequest);
    }),
    /** Implement: fill the placeholders and call the worker; a placeholder that cannot render fails the task instead. */
    callWorker: enqueueActions(({ context, enqueue }) => {
      const task = currentTask(context);
      const prepared = prepareCall(task, context.results, context.gathered);
      if (!prepared.ok) {
        enqueue.assign({ error: prepared.error });
        return;
      }
      enqueue.emit({ type: 'task.started', task: refOf(task), args: prepared.args } satisfies RunEvent);
      const request: ServerRequest = { type: 'server.call', server: task.server, callId: callIdOf(task), tool: task.tool, args: prepared.args, task: task.id };
      if (task.idempotent) request.idempotent = true;
      if (task.timeoutMs !== undefined) request.timeoutMs = task.timeoutMs;
      enqueue.sendTo('serverPort', request);
    }),
    /** Complete: one assign moves to the next subtask, keeps a result a later one reads, drops ones no longer read. */
    completeTask: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.result') return;
      const task = currentTask(context);
      const now = performance.now();
      const completed: RunEvent = { type: 'task.completed', task: refOf(task), result: event.result, durationMs: now - context.startedAt };
      if (event.servedBy) completed.servedBy = event.servedBy;
      enqueue.emit(completed);
      enqueue.assign(advance(context, now, event.result));
    }),
    failTask: enqueueActions(({ context, event, enqueue }) => {
      const task = currentTask(context);
      // A placeholder that failed to render has already set the error; the event is then an old one.
      let error = context.error;
      let result: ToolResult | undefined;
      if (error) {
        // keep it
      } else if (event.type === 'server.result') {
        result = event.result;
        error = toolErrorInfo(task, event.result);
      } else if (event.type === 'server.failed') {
        error = { ...event.error, task: task.id };
      } else if (event.type === 'run.cancel') {
        error = { code: 'CANCELLED', message: `run cancelled during task "${task.id}": ${event.reason}`, task: task.id };
        enqueue.sendTo('serverPort', { type: 'server.cancel', server: task.server, callId: callIdOf(task), reason: event.reason } satisfies ServerRequest);
      }
      const failure = error ?? { code: 'INTERNAL' as const, message: `task "${task.id}" failed`, task: task.id };
      enqueue.assign({ error: failure });
      const failed: RunEvent = { type: 'task.failed', task: refOf(task), error: failure, durationMs: performance.now() - context.startedAt };
      if (result) failed.result = result;
      enqueue.emit(failed);
    }),
    skipOptionalTask: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.failed') return;
      const task = currentTask(context);
      const reason = event.error.message;
      enqueue.emit({ type: 'task.skipped', task: refOf(task), reason, optional: true } satisfies RunEvent);
      enqueue.emit({ type: 'notification', notification: { level: 'warning', server: task.server, task: task.id, message: describeOptionalSkip(task, reason) } } satisfies RunEvent);
      enqueue.assign(advance(context, performance.now()));
    }),
    skipRemaining: enqueueActions(({ context, enqueue }) => {
      for (const task of context.breakdown.slice(context.index + 1)) {
        enqueue.emit({ type: 'task.skipped', task: refOf(task), reason: `not run: task "${context.breakdown[context.index]!.id}" failed` } satisfies RunEvent);
      }
    }),
  },
}).createMachine({
  id: 'sequential',
  invoke: { id: 'serverPort', src: 'serverPort', systemId: 'serverPort' },
  context: ({ input }) => ({
    runId: input.runId,
    workflow: input.workflow,
    required: listRequiredServers(input.workflow),
    tools: {},
    partialTools: [],
    breakdown: [],
    results: {},
    retention: { keep: {}, release: {} },
    index: 0,
    gathered: [],
    startedAt: 0,
  }),
  initial: 'initializing',
  on: {
    'run.cancel': { target: '.failed', actions: 'failWithEvent' },
  },
  states: {
    initializing: INITIALIZING_STATE,
    planning: createPlanningState('sequential', '#sequential.creatingBreakdown', 'breakdownFailed'),
    creatingBreakdown: {
      entry: [{ type: 'phase', params: { phase: 'breakdown' } }, 'createBreakdown'],
      always: [{ guard: 'breakdownFailed', target: 'failed' }, { target: 'executing' }],
    },
    executing: {
      entry: { type: 'phase', params: { phase: 'executing' } },
      initial: 'nextSubtask',
      states: {
        // Execute Subtask N.
        nextSubtask: {
          always: [
            { guard: and(['hasMoreSubtasks', 'readsContext']), target: 'gettingContext' },
            { guard: 'hasMoreSubtasks', target: 'implementing' },
            { target: '#sequential.synthesizing' },
          ],
        },
        // Get Context: the subtask's MCP resources, read in order (a subtask that reads none goes straight on).
        gettingContext: {
          entry: 'gatherContext',
          always: { guard: 'contextGathered', target: 'implementing' },
          on: {
            'server.resource': { guard: 'isCurrentRead', actions: 'keepResource' },
            'server.failed': { guard: 'isCurrentRead', target: '#sequential.failed', actions: ['failTask', 'skipRemaining'] },
          },
        },
        implementing: {
          entry: 'callWorker',
          always: { guard: 'callNotPrepared', target: '#sequential.failed', actions: ['failTask', 'skipRemaining'] },
          on: {
            'server.result': [
              { guard: 'isToolError', target: '#sequential.failed', actions: ['failTask', 'skipRemaining'] },
              { guard: 'isCurrentReply', target: 'completing' },
            ],
            'server.failed': [
              { guard: 'isOptionalUnserved', target: 'nextSubtask', actions: 'skipOptionalTask' },
              { guard: 'isCurrentReply', target: '#sequential.failed', actions: ['failTask', 'skipRemaining'] },
            ],
            'run.cancel': { target: '#sequential.failed', actions: ['failTask', 'skipRemaining'] },
          },
        },
        completing: {
          entry: 'completeTask',
          always: { target: 'nextSubtask' },
        },
      },
    },
    synthesizing: SYNTHESIZING_STATE,
    finalOutput: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => (context.error ? { output: context.output, error: context.error } : { output: context.output }),
});
