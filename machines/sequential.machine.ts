/**
 * Sequential coordination (seed: "Sequential Coordination Pattern").
 *
 *   initializing ─► planning ─► creatingBreakdown ─► executing ─► synthesizing ─► finalOutput
 *                                                     │  for each subtask:
 *                                                     │  gettingContext ─► implementing ─► completing
 *   any failure ─────────────────────────────────────────────────────────────────► failed
 *
 * Driven only by events: server actors report readiness and answer calls;
 * the machine emits run events that the engine puts on the bus.
 */
import { assign, emit, enqueueActions, fromPromise, setup } from 'xstate';
import type { RunEvent, TaskRef } from '../src/core/bus-events.js';
import { toErrorInfo, type ErrorInfo } from '../src/core/errors.js';
import type { ResourceResult, ToolInfo, ToolResult } from '../src/core/results.js';
import type { ServerCommand, ServerReport } from '../src/core/server-port.js';
import type { TaskSpec, Workflow } from '../src/core/workflow.js';
import { listBreakdownDependencies } from '../src/planning/dependencies.js';
import { toTopologicalOrder } from '../src/planning/parallel-groups.js';
import { createPlanCommand, describePlannerFailure, PLAN_CALL, readPlan } from './planner-steps.js';
import { isUnavailability } from './fallback-routing.js';
import { describeOptionalSkip, needsDegradation, toServerInput } from './server-inputs.js';
import { createPlanningState, INITIALIZING_STATE, SYNTHESIZING_STATE } from './shared-states.js';
import { serverPlaceholder } from './server-placeholder.js';
import { checkToolsExist, listReferencedTasks, prepareCall, toolErrorInfo } from './task-steps.js';

export interface SequentialInput {
  runId: string;
  workflow: Workflow;
}

export interface SequentialContext {
  runId: string;
  workflow: Workflow;
  /** Tool lists of the servers that are ready, by server name. */
  tools: Record<string, ToolInfo[]>;
  /** Servers whose tool list is only what their fallbacks serve. */
  partialTools: string[];
  breakdown: TaskSpec[];
  /** Results a later template reads (the synthesizer keeps all of them). */
  results: Record<string, ToolResult>;
  referenced: string[];
  /** The subtask in progress, as an index into the breakdown. */
  index: number;
  gathered: ResourceResult[];
  args: Record<string, unknown>;
  callId: string;
  startedAt: number;
  plannedTasks?: TaskSpec[];
  error?: ErrorInfo;
  output?: string;
}

export type SequentialEvent = ServerReport | { type: 'run.cancel'; reason: string };


const currentTask = (context: SequentialContext): TaskSpec => context.breakdown[context.index]!;
const refOf = (task: TaskSpec): TaskRef => ({ id: task.id, server: task.server, tool: task.tool });
const isReply = (context: SequentialContext, event: { callId: string }) => event.callId === context.callId;

export const sequentialMachine = setup({
  types: {
    input: {} as SequentialInput,
    context: {} as SequentialContext,
    events: {} as SequentialEvent,
    emitted: {} as RunEvent,
    output: {} as { output?: string; error?: ErrorInfo },
  },
  actors: {
    server: serverPlaceholder,
    // A server with a fallback chain, behind the degradation machine; the engine provides it.
    resilientServer: serverPlaceholder,
    // Builds the final output from everything the run produced; the engine provides it.
    synthesize: fromPromise<string, { runId: string }>(async () => {
      throw new Error('no synthesize actor provided');
    }),
  },
  guards: {
    allServersReady: ({ context }) => Object.keys(context.tools).length === Object.keys(context.workflow.servers).length,
    hasPlanner: ({ context }) => context.workflow.plan !== undefined,
    isPlanReply: ({ event }) => 'callId' in event && event.callId === PLAN_CALL,
    isPlanError: ({ event }) => event.type === 'server.result' && event.callId === PLAN_CALL && event.result.isError,
    breakdownFailed: ({ context }) => context.error !== undefined,
    hasMoreSubtasks: ({ context }) => context.index < context.breakdown.length,
    contextGathered: ({ context }) => context.gathered.length === currentTask(context).context.length,
    callNotPrepared: ({ context }) => context.error !== undefined,
    isCurrentReply: ({ context, event }) => 'callId' in event && isReply(context, event),
    // An optional task whose server (and every fallback) is unavailable: reduced functionality, not failure.
    isOptionalUnserved: ({ context, event }) =>
      event.type === 'server.failed' && isReply(context, event) && currentTask(context).optional === true && isUnavailability(event.error.code),
    isToolError: ({ context, event }) => event.type === 'server.result' && isReply(context, event) && event.result.isError,
  },
  actions: {
    keepOutput: assign({ output: ({ event }) => (event as { output?: string }).output }),
    failSynthesis: assign({ error: ({ event }) => toErrorInfo((event as { error?: unknown }).error, { code: 'TEMPLATE' }) }),
    phase: emit((_, params: { phase: 'initializing' | 'planning' | 'breakdown' | 'executing' | 'synthesizing' }) => ({
      type: 'run.phase' as const,
      phase: params.phase,
    })),
    spawnServers: enqueueActions(({ context, enqueue }) => {
      for (const [name, spec] of Object.entries(context.workflow.servers)) {
        const input = toServerInput(context.workflow, context.runId, name, 1);
        enqueue.spawnChild(needsDegradation(spec) ? 'resilientServer' : 'server', { id: name, input });
      }
    }),
    markServerReady: assign(({ context, event }) => {
      if (event.type !== 'server.ready') return {};
      return {
        tools: { ...context.tools, [event.server]: event.tools },
        partialTools: event.partial ? [...context.partialTools, event.server] : context.partialTools,
      };
    }),
    failWithEvent: assign({
      error: ({ event }) => ('error' in event ? event.error : { code: 'CANCELLED' as const, message: 'run cancelled' }),
    }),
    askPlanner: enqueueActions(({ context, enqueue }) => {
      enqueue.assign({ callId: PLAN_CALL });
      enqueue.sendTo(context.workflow.plan!.server, createPlanCommand(context.workflow));
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
      enqueue.assign({ breakdown, referenced: [...listReferencedTasks(breakdown, context.workflow.output)] });
      const source = context.plannedTasks ? (context.workflow.tasks.length > 0 ? 'workflow+planner' : 'planner') : 'workflow';
      enqueue.emit({ type: 'run.breakdown', tasks: declared.map(refOf), source } satisfies RunEvent);
    }),
    gatherContext: enqueueActions(({ context, enqueue }) => {
      const task = currentTask(context);
      const callId = `${task.id}#context`;
      enqueue.assign({ gathered: [], callId, startedAt: performance.now() });
      if (task.context.length === 0) return;
      enqueue.emit({ type: 'task.context', task: refOf(task), resources: task.context.map((ref) => ref.uri) } satisfies RunEvent);
      // Reads go one at a time so the results line up with the declared order.
      const first = task.context[0]!;
      enqueue.sendTo(first.server, { type: 'server.read', callId, uri: first.uri, task: task.id } satisfies ServerCommand);
    }),
    keepResource: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.resource') return;
      const task = currentTask(context);
      const gathered = [...context.gathered, event.resource];
      enqueue.assign({ gathered });
      const next = task.context[gathered.length];
      if (next) enqueue.sendTo(next.server, { type: 'server.read', callId: context.callId, uri: next.uri, task: task.id } satisfies ServerCommand);
    }),
    prepareCall: assign(({ context }) => {
      const prepared = prepareCall(currentTask(context), context.results, context.gathered);
      return prepared.ok ? { args: prepared.args } : { error: prepared.error };
    }),
    callWorker: enqueueActions(({ context, enqueue }) => {
      if (context.error) return;
      const task = currentTask(context);
      const callId = `${task.id}#call`;
      enqueue.assign({ callId });
      enqueue.emit({ type: 'task.started', task: refOf(task), args: context.args } satisfies RunEvent);
      const command: ServerCommand = { type: 'server.call', callId, tool: task.tool, args: context.args, task: task.id };
      if (task.idempotent) command.idempotent = true;
      if (task.timeoutMs !== undefined) command.timeoutMs = task.timeoutMs;
      enqueue.sendTo(task.server, command);
    }),
    completeTask: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.result') return;
      const task = currentTask(context);
      if (context.referenced.includes(task.id)) enqueue.assign({ results: { ...context.results, [task.id]: event.result } });
      const completed: RunEvent = { type: 'task.completed', task: refOf(task), result: event.result, durationMs: performance.now() - context.startedAt };
      if (event.servedBy) completed.servedBy = event.servedBy;
      enqueue.emit(completed);
      enqueue.assign({ index: context.index + 1 });
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
        enqueue.sendTo(task.server, { type: 'server.cancel', callId: context.callId, reason: event.reason } satisfies ServerCommand);
      }
      const failure = error ?? { code: 'INTERNAL' as const, message: `task "${task.id}" failed`, task: task.id };
      enqueue.assign({ error: failure });
      const failed: RunEvent = { type: 'task.failed', task: refOf(task), error: failure, durationMs: performance.now() - context.startedAt };
      if (result) failed.result = result;
      enqueue.emit(failed);
    }),
    notify: emit(({ event }) => ({ type: 'notification' as const, notification: event.type === 'run.notify' ? event.notification : { level: 'info' as const, message: '' } })),
    skipOptionalTask: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.failed') return;
      const task = currentTask(context);
      const reason = event.error.message;
      enqueue.emit({ type: 'task.skipped', task: refOf(task), reason, optional: true } satisfies RunEvent);
      enqueue.emit({ type: 'notification', notification: { level: 'warning', server: task.server, task: task.id, message: describeOptionalSkip(task, reason) } } satisfies RunEvent);
      enqueue.assign({ index: context.index + 1 });
    }),
    skipRemaining: enqueueActions(({ context, enqueue }) => {
      for (const task of context.breakdown.slice(context.index + 1)) {
        enqueue.emit({ type: 'task.skipped', task: refOf(task), reason: `not run: task "${context.breakdown[context.index]!.id}" failed` } satisfies RunEvent);
      }
    }),
  },
}).createMachine({
  id: 'sequential',
  context: ({ input }) => ({
    runId: input.runId,
    workflow: input.workflow,
    tools: {},
    partialTools: [],
    breakdown: [],
    results: {},
    referenced: [],
    index: 0,
    gathered: [],
    args: {},
    callId: '',
    startedAt: 0,
  }),
  initial: 'initializing',
  on: {
    'run.cancel': { target: '.failed', actions: 'failWithEvent' },
    'run.notify': { actions: 'notify' },
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
        nextSubtask: {
          always: [{ guard: 'hasMoreSubtasks', target: 'gettingContext' }, { target: '#sequential.synthesizing' }],
        },
        gettingContext: {
          entry: 'gatherContext',
          always: { guard: 'contextGathered', target: 'implementing', actions: 'prepareCall' },
          on: {
            'server.resource': { guard: 'isCurrentReply', actions: 'keepResource' },
            'server.failed': { guard: 'isCurrentReply', target: '#sequential.failed', actions: ['failTask', 'skipRemaining'] },
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
