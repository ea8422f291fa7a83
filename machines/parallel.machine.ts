/**
 * Parallel execution (seed: "Parallel Execution Pattern").
 *
 *   initializing ─► planning ─► identifyingTasks ─► creatingGroups ─► executing ─► combiningResults ─► finalOutput
 *                                                                       │ per group: executingGroup ─► synchronizationPoint
 *                                                                       │ or eager: flowing
 *   a failure with onError: stop ─► cancelling ─► failed
 *
 * Every server may run as a pool of replicas (`replicas: N`), each its own
 * server actor. Each task in flight is a spawned task actor on an idle
 * replica; a run-wide `concurrency` caps how many fly at once.
 */
import { and, assign, emit, enqueueActions, fromPromise, setup, type AnyActorRef } from 'xstate';
import type { RunEvent, TaskRef } from '../src/core/bus-events.js';
import { toErrorInfo, type ErrorInfo } from '../src/core/errors.js';
import type { TaskStatus, ToolInfo, ToolResult } from '../src/core/results.js';
import type { ServerReport } from '../src/core/server-port.js';
import type { TaskSpec, Workflow } from '../src/core/workflow.js';
import { listBreakdownDependencies } from '../src/planning/dependencies.js';
import { createParallelGroups } from '../src/planning/parallel-groups.js';
import { createPlanCommand, describePlannerFailure, PLAN_CALL, readPlan } from './planner-steps.js';
import { describeOptionalSkip, needsDegradation, toServerInput } from './server-inputs.js';
import { createPlanningState, INITIALIZING_STATE, SYNTHESIZING_STATE } from './shared-states.js';
import { serverPlaceholder } from './server-placeholder.js';
import { taskMachine, type TaskActorInput, type TaskFinishedEvent } from './task.machine.js';
import { checkToolsExist, listReferencedTasks } from './task-steps.js';

export interface ParallelInput {
  runId: string;
  workflow: Workflow;
}

export interface ParallelContext {
  runId: string;
  workflow: Workflow;
  /** Every replica's actor, by replica id (`server#n`). */
  replicas: Record<string, AnyActorRef>;
  ready: string[];
  tools: Record<string, ToolInfo[]>;
  /** Servers whose tool list is only what their fallbacks serve. */
  partialTools: string[];
  /** Idle replica ids, by server name. */
  idle: Record<string, string[]>;
  concurrency: number;
  plannedTasks?: TaskSpec[];
  breakdown: TaskSpec[];
  /** Position of each task in the breakdown, by id: lookups on every event must not scan the list. */
  positions: Record<string, number>;
  needs: Record<string, string[]>;
  groups: string[][];
  groupIndex: number;
  status: Record<string, TaskStatus>;
  /** Replica each running task is on, by task id. */
  running: Record<string, string>;
  results: Record<string, ToolResult>;
  referenced: string[];
  error?: ErrorInfo;
  output?: string;
}

export type ParallelEvent = ServerReport | TaskFinishedEvent | { type: 'run.cancel'; reason: string };

const replicaId = (server: string, replica: number) => `${server}#${replica}`;
const taskActorId = (taskId: string) => `task:${taskId}`;
const refOf = (task: TaskSpec): TaskRef => ({ id: task.id, server: task.server, tool: task.tool });
const taskById = (context: ParallelContext, id: string) => context.breakdown[context.positions[id]!]!;
const totalReplicas = (workflow: Workflow) => Object.values(workflow.servers).reduce((sum, spec) => sum + spec.replicas, 0);

/** Tasks the current schedule may start now: the current group's, or (eager) any. */
function candidates(context: ParallelContext): string[] {
  return context.workflow.schedule === 'eager' ? context.breakdown.map((task) => task.id) : (context.groups[context.groupIndex] ?? []);
}

const isSettled = (status: TaskStatus | undefined) => status !== 'pending' && status !== 'running';

/** Every task that (transitively) needs the given one. */
function listDependents(context: ParallelContext, id: string): string[] {
  const found = new Set<string>();
  const visit = (target: string) => {
    for (const [task, needs] of Object.entries(context.needs)) {
      if (needs.includes(target) && !found.has(task)) {
        found.add(task);
        visit(task);
      }
    }
  };
  visit(id);
  return context.breakdown.map((task) => task.id).filter((task) => found.has(task));
}

export const parallelMachine = setup({
  types: {
    input: {} as ParallelInput,
    context: {} as ParallelContext,
    events: {} as ParallelEvent,
    emitted: {} as RunEvent,
    output: {} as { output?: string; error?: ErrorInfo },
  },
  actors: {
    server: serverPlaceholder,
    // A server with a fallback chain, behind the degradation machine; the engine provides it.
    resilientServer: serverPlaceholder,
    task: taskMachine,
    synthesize: fromPromise<string, { runId: string }>(async () => {
      throw new Error('no synthesize actor provided');
    }),
  },
  delays: {
    // No group timeout set: wait as long as a timer can (each call has its own timeout anyway).
    groupTimeout: ({ context }) => context.workflow.groupTimeoutMs ?? 2_147_483_647,
  },
  guards: {
    allServersReady: ({ context }) => context.ready.length === totalReplicas(context.workflow),
    hasPlanner: ({ context }) => context.workflow.plan !== undefined,
    isPlanReply: ({ event }) => 'callId' in event && event.callId === PLAN_CALL,
    isPlanError: ({ event }) => event.type === 'server.result' && event.callId === PLAN_CALL && event.result.isError,
    hasError: ({ context }) => context.error !== undefined,
    isEager: ({ context }) => context.workflow.schedule === 'eager',
    hasMoreGroups: ({ context }) => context.groupIndex < context.groups.length,
    groupSettled: ({ context }) => (context.groups[context.groupIndex] ?? []).every((id) => isSettled(context.status[id])),
    allSettled: ({ context }) => Object.values(context.status).every(isSettled),
    nothingInFlight: ({ context }) => Object.keys(context.running).length === 0,
    mustStop: ({ context, event }) =>
      event.type === 'task.finished' && event.outcome.status !== 'completed' && event.outcome.status !== 'skipped' && context.workflow.onError === 'stop',
  },
  actions: {
    keepOutput: assign({ output: ({ event }) => (event as { output?: string }).output }),
    failSynthesis: assign({ error: ({ event }) => toErrorInfo((event as { error?: unknown }).error, { code: 'TEMPLATE' }) }),
    notify: emit(({ event }) => ({ type: 'notification' as const, notification: event.type === 'run.notify' ? event.notification : { level: 'info' as const, message: '' } })),
    phase: emit((_, params: { phase: 'initializing' | 'planning' | 'breakdown' | 'executing' | 'synthesizing' }) => ({ type: 'run.phase' as const, phase: params.phase })),
    spawnServers: assign({
      replicas: ({ context, spawn }) => {
        const replicas: Record<string, AnyActorRef> = {};
        for (const [name, spec] of Object.entries(context.workflow.servers)) {
          for (let replica = 1; replica <= spec.replicas; replica++) {
            const id = replicaId(name, replica);
            const input = toServerInput(context.workflow, context.runId, name, replica);
            replicas[id] = needsDegradation(spec) ? spawn('resilientServer', { id, input: input as never }) : spawn('server', { id, input });
          }
        }
        return replicas;
      },
    }),
    markServerReady: assign(({ context, event }) => {
      if (event.type !== 'server.ready') return {};
      const id = replicaId(event.server, event.replica);
      return {
        ready: [...context.ready, id],
        tools: { ...context.tools, [event.server]: event.tools },
        partialTools: event.partial ? [...context.partialTools, event.server] : context.partialTools,
        idle: { ...context.idle, [event.server]: [...(context.idle[event.server] ?? []), id] },
      };
    }),
    failWithEvent: assign({
      error: ({ event }) =>
        event.type === 'server.unavailable' || event.type === 'server.failed'
          ? event.error
          : { code: 'CANCELLED' as const, message: `run cancelled: ${event.type === 'run.cancel' ? event.reason : ''}` },
    }),
    askPlanner: enqueueActions(({ context, enqueue }) => {
      enqueue.sendTo(context.replicas[replicaId(context.workflow.plan!.server, 1)]!, createPlanCommand(context.workflow));
    }),
    failPlanner: assign({ error: ({ context, event }) => describePlannerFailure(context.workflow, event as ServerReport) }),
    acceptPlan: assign(({ context, event }) => (event.type === 'server.result' ? readPlan(context.workflow, event) : {})),
    identifyTasks: assign(({ context }) => {
      const breakdown = [...context.workflow.tasks, ...(context.plannedTasks ?? [])];
      const missingTool = checkToolsExist(breakdown, context.tools, context.partialTools);
      if (missingTool) return { error: missingTool };
      const { needs } = listBreakdownDependencies(context.workflow.tasks, context.plannedTasks ?? []);
      return {
        breakdown,
        positions: Object.fromEntries(breakdown.map((task, index) => [task.id, index])),
        needs,
        referenced: [...listReferencedTasks(breakdown, context.workflow.output)],
        status: Object.fromEntries(breakdown.map((task) => [task.id, 'pending' as TaskStatus])),
        concurrency: context.workflow.concurrency ?? totalReplicas(context.workflow),
      };
    }),
    createGroups: enqueueActions(({ context, enqueue }) => {
      const groups = createParallelGroups(context.breakdown, context.needs);
      enqueue.assign({ groups, groupIndex: 0 });
      const source = context.plannedTasks ? (context.workflow.tasks.length > 0 ? 'workflow+planner' : 'planner') : 'workflow';
      enqueue.emit({ type: 'run.breakdown', tasks: context.breakdown.map(refOf), source, groups } satisfies RunEvent);
    }),
    announceGroup: emit(({ context }) => ({ type: 'run.group' as const, index: context.groupIndex, tasks: context.groups[context.groupIndex] ?? [], phase: 'started' as const })),
    synchronizeGroup: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({ type: 'run.group', index: context.groupIndex, tasks: context.groups[context.groupIndex] ?? [], phase: 'synchronized' } satisfies RunEvent);
      enqueue.assign({ groupIndex: context.groupIndex + 1 });
    }),
    /** Starts every candidate whose needs are met, while replicas and concurrency allow. */
    dispatch: enqueueActions(({ context, enqueue }) => {
      let inFlight = Object.keys(context.running).length;
      if (inFlight >= context.concurrency) return;
      // Copied on the first task started: most calls (a replica freed with nothing ready) change nothing.
      let status = context.status;
      let running = context.running;
      let idle = context.idle;
      let readers: Record<string, AnyActorRef> | undefined;
      for (const id of candidates(context)) {
        if (inFlight >= context.concurrency) break;
        if (status[id] !== 'pending') continue;
        if (!(context.needs[id] ?? []).every((need) => status[need] === 'completed')) continue;
        const task = taskById(context, id);
        const free = idle[task.server];
        if (!free || free.length === 0) continue;
        if (status === context.status) {
          status = { ...context.status };
          running = { ...context.running };
          idle = Object.fromEntries(Object.entries(context.idle).map(([server, ids]) => [server, [...ids]]));
          readers = Object.fromEntries(Object.keys(context.workflow.servers).map((name) => [name, context.replicas[replicaId(name, 1)]!]));
        }
        const worker = idle[task.server]!.shift()!;
        status[id] = 'running';
        running[id] = worker;
        inFlight++;
        const results = Object.fromEntries(Object.entries(context.results).filter(([taskId]) => (context.needs[id] ?? []).includes(taskId)));
        const input: TaskActorInput = { task, results, worker: context.replicas[worker]!, readers: readers! };
        enqueue.spawnChild('task', { id: taskActorId(id), input });
        enqueue.emit({ type: 'task.started', task: refOf(task), args: task.args, worker } satisfies RunEvent);
      }
      if (status !== context.status) enqueue.assign({ status, running, idle });
    }),
    finishTask: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'task.finished') return;
      const { taskId, outcome } = event;
      const task = taskById(context, taskId);
      const worker = context.running[taskId];
      const { [taskId]: _done, ...running } = context.running;
      const idle = worker ? { ...context.idle, [task.server]: [...(context.idle[task.server] ?? []), worker] } : context.idle;
      const status = { ...context.status, [taskId]: outcome.status };
      if (outcome.status === 'completed') {
        if (context.referenced.includes(taskId)) enqueue.assign({ results: { ...context.results, [taskId]: outcome.result } });
        const completed: RunEvent = { type: 'task.completed', task: refOf(task), result: outcome.result, durationMs: outcome.durationMs };
        if (outcome.servedBy) completed.servedBy = outcome.servedBy;
        enqueue.emit(completed);
      } else if (outcome.status === 'skipped') {
        enqueue.emit({ type: 'task.skipped', task: refOf(task), reason: outcome.reason, optional: true } satisfies RunEvent);
        enqueue.emit({ type: 'notification', notification: { level: 'warning', server: task.server, task: taskId, message: describeOptionalSkip(task, outcome.reason) } } satisfies RunEvent);
        // What needs it cannot read its result: skipped too, without failing the run.
        for (const dependent of listDependents(context, taskId)) {
          if (status[dependent] !== 'pending') continue;
          status[dependent] = 'skipped';
          enqueue.emit({ type: 'task.skipped', task: refOf(taskById(context, dependent)), reason: `needs "${taskId}", an optional task that was skipped`, optional: true } satisfies RunEvent);
        }
      } else {
        const failed: RunEvent = { type: 'task.failed', task: refOf(task), error: outcome.error, durationMs: outcome.durationMs };
        if (outcome.status === 'failed' && outcome.result) failed.result = outcome.result;
        enqueue.emit(failed);
        if (!context.error) enqueue.assign({ error: outcome.error });
        // What needs a task that did not complete can never run.
        for (const dependent of listDependents(context, taskId)) {
          if (status[dependent] !== 'pending') continue;
          status[dependent] = 'skipped';
          enqueue.emit({ type: 'task.skipped', task: refOf(taskById(context, dependent)), reason: `needs "${taskId}", which ${outcome.status === 'cancelled' ? 'was cancelled' : 'failed'}` } satisfies RunEvent);
        }
      }
      enqueue.assign({ running, idle, status });
    }),
    cancelInFlight: enqueueActions(({ context, enqueue }) => {
      const reason = context.error ? `stopping: ${context.error.message}` : 'stopping';
      for (const id of Object.keys(context.running)) enqueue.sendTo(taskActorId(id), { type: 'task.cancel', reason });
    }),
    skipPending: enqueueActions(({ context, enqueue }) => {
      const status = { ...context.status };
      for (const task of context.breakdown) {
        if (status[task.id] !== 'pending') continue;
        status[task.id] = 'skipped';
        enqueue.emit({ type: 'task.skipped', task: refOf(task), reason: `not run: ${context.error?.message ?? 'the run stopped'}` } satisfies RunEvent);
      }
      enqueue.assign({ status });
    }),
    failGroupTimeout: assign({
      error: ({ context }) => ({
        code: 'CALL_TIMEOUT' as const,
        message: `group ${context.groupIndex + 1} (${(context.groups[context.groupIndex] ?? []).join(', ')}) did not reach its synchronization point within ${context.workflow.groupTimeoutMs} ms`,
      }),
    }),
  },
}).createMachine({
  id: 'parallel',
  context: ({ input }) => ({
    runId: input.runId,
    workflow: input.workflow,
    replicas: {},
    ready: [],
    tools: {},
    partialTools: [],
    idle: {},
    concurrency: 1,
    breakdown: [],
    positions: {},
    needs: {},
    groups: [],
    groupIndex: 0,
    status: {},
    running: {},
    results: {},
    referenced: [],
  }),
  initial: 'initializing',
  on: {
    'run.cancel': { target: '.cancelling', actions: 'failWithEvent' },
    'run.notify': { actions: 'notify' },
  },
  states: {
    initializing: INITIALIZING_STATE,
    planning: createPlanningState('parallel', '#parallel.identifyingTasks', 'hasError'),
    identifyingTasks: {
      entry: [{ type: 'phase', params: { phase: 'breakdown' } }, 'identifyTasks'],
      always: [{ guard: 'hasError', target: 'failed' }, { target: 'creatingGroups' }],
    },
    creatingGroups: {
      entry: 'createGroups',
      always: { target: 'executing' },
    },
    executing: {
      entry: { type: 'phase', params: { phase: 'executing' } },
      initial: 'choosingSchedule',
      states: {
        choosingSchedule: {
          always: [{ guard: 'isEager', target: 'flowing' }, { target: 'nextGroup' }],
        },
        nextGroup: {
          always: [
            { guard: 'hasMoreGroups', target: 'executingGroup' },
            { guard: 'hasError', target: '#parallel.failed' },
            { target: '#parallel.combiningResults' },
          ],
        },
        executingGroup: {
          entry: ['announceGroup', 'dispatch'],
          always: { guard: 'groupSettled', target: 'synchronizationPoint' },
          after: { groupTimeout: { target: '#parallel.cancelling', actions: 'failGroupTimeout' } },
          on: {
            'task.finished': [
              { guard: 'mustStop', target: '#parallel.cancelling', actions: 'finishTask' },
              { actions: ['finishTask', 'dispatch'] },
            ],
          },
        },
        synchronizationPoint: {
          entry: 'synchronizeGroup',
          always: { target: 'nextGroup' },
        },
        flowing: {
          entry: 'dispatch',
          always: [
            { guard: and(['allSettled', 'hasError']), target: '#parallel.failed' },
            { guard: 'allSettled', target: '#parallel.combiningResults' },
          ],
          on: {
            'task.finished': [
              { guard: 'mustStop', target: '#parallel.cancelling', actions: 'finishTask' },
              { actions: ['finishTask', 'dispatch'] },
            ],
          },
        },
      },
    },
    cancelling: {
      entry: ['cancelInFlight', 'skipPending'],
      always: { guard: 'nothingInFlight', target: 'failed' },
      on: {
        'task.finished': { actions: 'finishTask' },
      },
    },
    combiningResults: SYNTHESIZING_STATE,
    finalOutput: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => (context.error ? { output: context.output, error: context.error } : { output: context.output }),
});
