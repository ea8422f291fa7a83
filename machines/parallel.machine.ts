/**
 * Parallel execution (seed: "Parallel Execution Pattern").
 *
 *   initializing ─► planning ─► identifyingTasks ─► creatingGroups ─► executing ─► combiningResults ─► finalOutput
 *                                                                       │ per group: executingGroup ─► synchronizationPoint
 *                                                                       │ or eager: flowing
 *   a failure with onError: stop ─► cancelling ─► failed
 *
 * One worker per replica of each server (`worker.machine.ts`) runs the tasks,
 * one at a time each; the directory picks which live replica serves each
 * call. A run-wide `concurrency` caps how many tasks fly at once.
 *
 * Cost per task is O(1): the schedule (status, unmet needs, ready queues per
 * server, settled counts per group) is computed once at breakdown and then
 * updated in place by this machine's own actions, which own it. Copying those
 * tables on every event made a run of n tasks O(n²). They are plain arrays and
 * records, so a persisted snapshot is still plain JSON.
 */
import { and, assign, emit, enqueueActions, sendTo, setup } from 'xstate';
import type { RunEvent, TaskRef } from '../src/core/bus-events.js';
import { toErrorInfo, type ErrorInfo } from '../src/core/errors.js';
import { getOwn } from '../src/core/own.js';
import type { TaskStatus, ToolInfo, ToolResult } from '../src/core/results.js';
import type { ServerPortMessage, ServerReport } from '../src/core/server-port.js';
import type { TaskSpec, Workflow } from '../src/core/workflow.js';
import { listBreakdownDependencies } from '../src/planning/dependencies.js';
import { createParallelGroups } from '../src/planning/parallel-groups.js';
import { createPlanCommand, describePlannerFailure, readPlan } from './planner-steps.js';
import { listRequiredServers } from './server-inputs.js';
import { sharedGuards } from './shared-guards.js';
import { createPlanningState, INITIALIZING_STATE, serverPortPlaceholder, SYNTHESIZING_STATE, synthesizePlaceholder } from './shared-states.js';
import { checkToolsExist, listTasksRead, settleUncompleted, withReadyServer } from './task-steps.js';
import { workerMachine, type WorkerFinishedEvent, type WorkerInput } from './worker.machine.js';

export interface ParallelInput {
  runId: string;
  workflow: Workflow;
}

/** The schedule, by breakdown position. Updated in place (see the file comment). */
export interface Schedule {
  /** Breakdown position of each task, by id. */
  positions: Record<string, number>;
  status: TaskStatus[];
  /** Needs not completed yet. */
  waiting: number[];
  needs: number[][];
  dependents: number[][];
  groupOf: number[];
  /** Ready positions per server, oldest first, from `readyHead`. */
  ready: Record<string, number[]>;
  readyHead: Record<string, number>;
  /** Idle worker ids per server. */
  idle: Record<string, string[]>;
  /** Worker running each task, by task id. */
  running: Record<string, string>;
  inFlight: number;
  settledInGroup: number[];
  settled: number;
  /** Results a later task reads, with how many readers are still to run. */
  results: Record<string, ToolResult>;
  readersLeft: Record<string, number>;
}

export interface ParallelContext {
  runId: string;
  workflow: Workflow;
  required: string[];
  tools: Record<string, ToolInfo[]>;
  /** Servers whose tool list is only what their fallbacks serve. */
  partialTools: string[];
  concurrency: number;
  plannedTasks?: TaskSpec[];
  breakdown: TaskSpec[];
  groups: string[][];
  groupIndex: number;
  schedule: Schedule;
  error?: ErrorInfo;
  output?: string;
}

export type ParallelEvent = ServerReport | WorkerFinishedEvent | { type: 'run.cancel'; reason: string };

const refOf = (task: TaskSpec): TaskRef => ({ id: task.id, server: task.server, tool: task.tool });
const workerId = (server: string, n: number) => `worker:${server}:${n}`;

function emptySchedule(): Schedule {
  return { positions: {}, status: [], waiting: [], needs: [], dependents: [], groupOf: [], ready: {}, readyHead: {}, idle: {}, running: {}, inFlight: 0, settledInGroup: [], settled: 0, results: {}, readersLeft: {} };
}

/** Queues a task whose needs are met on its server's ready queue. */
function enqueueReady(context: ParallelContext, position: number): void {
  const server = context.breakdown[position]!.server;
  // Own keys only: a server named `constructor` must not find Object's.
  const ready = getOwn(context.schedule.ready, server);
  if (ready) ready.push(position);
  else context.schedule.ready[server] = [position];
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
    serverPort: serverPortPlaceholder,
    worker: workerMachine,
    // Builds the final output from everything the run produced; the engine provides it.
    synthesize: synthesizePlaceholder,
  },
  delays: {
    // No group timeout set: wait as long as a timer can (each call has its own timeout anyway).
    groupTimeout: ({ context }) => context.workflow.groupTimeoutMs ?? 2_147_483_647,
  },
  guards: {
    ...sharedGuards,
    hasError: ({ context }) => context.error !== undefined,
    isEager: ({ context }) => context.workflow.schedule === 'eager',
    hasMoreGroups: ({ context }) => context.groupIndex < context.groups.length,
    groupSettled: ({ context }) => context.schedule.settledInGroup[context.groupIndex] === (context.groups[context.groupIndex]?.length ?? 0),
    allSettled: ({ context }) => context.schedule.settled === context.breakdown.length,
    nothingInFlight: ({ context }) => context.schedule.inFlight === 0,
    mustStop: ({ context, event }) =>
      event.type === 'worker.finished' && event.outcome.status !== 'completed' && event.outcome.status !== 'skipped' && context.workflow.onError === 'stop',
  },
  actions: {
    acquire: sendTo('serverPort', ({ context }) => ({ type: 'port.acquire', servers: context.required }) satisfies ServerPortMessage),
    keepOutput: assign({ output: ({ event }) => (event as { output?: string }).output }),
    failSynthesis: assign({ error: ({ event }) => toErrorInfo((event as { error?: unknown }).error, { code: 'TEMPLATE' }) }),
    phase: emit((_, params: { phase: 'initializing' | 'planning' | 'breakdown' | 'executing' | 'synthesizing' }) => ({ type: 'run.phase' as const, phase: params.phase })),
    markServerReady: assign(({ context, event }) => withReadyServer(context, event)),
    failWithEvent: assign({
      error: ({ event }) =>
        event.type === 'server.unavailable' || event.type === 'server.failed'
          ? event.error
          : { code: 'CANCELLED' as const, message: `run cancelled: ${event.type === 'run.cancel' ? event.reason : ''}` },
    }),
    askPlanner: sendTo('serverPort', ({ context }) => createPlanCommand(context.workflow) satisfies ServerPortMessage),
    failPlanner: assign({ error: ({ context, event }) => describePlannerFailure(context.workflow, event as ServerReport) }),
    acceptPlan: assign(({ context, event }) => (event.type === 'server.result' ? readPlan(context.workflow, event) : {})),
    /** Identify Independent Tasks: the breakdown, its dependencies by position, and one worker per replica. */
    identifyTasks: enqueueActions(({ context, enqueue }) => {
      const breakdown = [...context.workflow.tasks, ...(context.plannedTasks ?? [])];
      const missingTool = checkToolsExist(breakdown, context.tools, context.partialTools);
      if (missingTool) {
        enqueue.assign({ error: missingTool });
        return;
      }
      const { needs } = listBreakdownDependencies(context.workflow.tasks, context.plannedTasks ?? []);
      const schedule = emptySchedule();
      breakdown.forEach((task, index) => (schedule.positions[task.id] = index));
      const position = (id: string) => (Object.hasOwn(schedule.positions, id) ? schedule.positions[id] : undefined);
      for (const task of breakdown) {
        const own = [...new Set((Object.hasOwn(needs, task.id) ? needs[task.id] : undefined) ?? [])].map(position).filter((at): at is number => at !== undefined);
        schedule.status.push('pending');
        schedule.needs.push(own);
        schedule.waiting.push(own.length);
        schedule.dependents.push([]);
        for (const id of listTasksRead(task)) schedule.readersLeft[id] = (getOwn(schedule.readersLeft, id) ?? 0) + 1;
      }
      schedule.needs.forEach((own, index) => own.forEach((need) => schedule.dependents[need]!.push(index)));
      let workers = 0;
      for (const server of new Set(breakdown.map((task) => task.server))) {
        const replicas = getOwn(context.workflow.servers, server)?.replicas ?? 1;
        schedule.idle[server] = [];
        schedule.ready[server] = [];
        schedule.readyHead[server] = 0;
        for (let n = 1; n <= replicas; n++) {
          const id = workerId(server, n);
          schedule.idle[server]!.push(id);
          enqueue.spawnChild('worker', { id, systemId: id, input: { id, server } satisfies WorkerInput });
          workers++;
        }
      }
      enqueue.assign({ breakdown, schedule, concurrency: context.workflow.concurrency ?? workers });
    }),
    createGroups: enqueueActions(({ context, enqueue }) => {
      const needs = Object.fromEntries(context.breakdown.map((task, index) => [task.id, context.schedule.needs[index]!.map((at) => context.breakdown[at]!.id)]));
      const groups = createParallelGroups(context.breakdown, needs);
      groups.forEach((group, index) => {
        for (const id of group) context.schedule.groupOf[context.schedule.positions[id]!] = index;
        context.schedule.settledInGroup.push(0);
      });
      // Eager: every task with no needs is ready now; the rest become ready as their needs complete.
      if (context.workflow.schedule === 'eager') context.schedule.waiting.forEach((count, index) => count === 0 && enqueueReady(context, index));
      enqueue.assign({ groups, groupIndex: 0 });
      const source = context.plannedTasks ? (context.workflow.tasks.length > 0 ? 'workflow+planner' : 'planner') : 'workflow';
      enqueue.emit({ type: 'run.breakdown', tasks: context.breakdown.map(refOf), source, groups } satisfies RunEvent);
    }),
    announceGroup: enqueueActions(({ context, enqueue }) => {
      const group = context.groups[context.groupIndex] ?? [];
      const { schedule } = context;
      for (const id of group) {
        const at = schedule.positions[id]!;
        if (schedule.status[at] === 'pending' && schedule.waiting[at] === 0) enqueueReady(context, at);
      }
      enqueue.emit({ type: 'run.group', index: context.groupIndex, tasks: group, phase: 'started' } satisfies RunEvent);
    }),
    synchronizeGroup: enqueueActions(({ context, enqueue }) => {
      enqueue.emit({ type: 'run.group', index: context.groupIndex, tasks: context.groups[context.groupIndex] ?? [], phase: 'synchronized' } satisfies RunEvent);
      enqueue.assign({ groupIndex: context.groupIndex + 1 });
    }),
    /** Hands ready tasks to idle workers, while concurrency allows: O(servers + tasks started). */
    dispatch: enqueueActions(({ context, enqueue }) => {
      const { schedule } = context;
      for (const server of Object.keys(schedule.ready)) {
        const queue = schedule.ready[server]!;
        const idle = schedule.idle[server]!;
        while (schedule.inFlight < context.concurrency && idle.length > 0 && schedule.readyHead[server]! < queue.length) {
          const at = queue[schedule.readyHead[server]!++]!;
          if (schedule.status[at] !== 'pending') continue;
          const task = context.breakdown[at]!;
          const worker = idle.pop()!;
          schedule.status[at] = 'running';
          schedule.running[task.id] = worker;
          schedule.inFlight++;
          const results: Record<string, ToolResult> = {};
          for (const id of listTasksRead(task)) if (Object.hasOwn(schedule.results, id)) results[id] = schedule.results[id]!;
          enqueue.sendTo(worker, { type: 'worker.assign', task, results });
          enqueue.emit({ type: 'task.started', task: refOf(task), args: task.args, worker } satisfies RunEvent);
        }
        // A drained queue starts over, so it does not grow with every task ever queued.
        if (schedule.readyHead[server] === queue.length && queue.length > 0) {
          queue.length = 0;
          schedule.readyHead[server] = 0;
        }
      }
    }),
    finishTask: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'worker.finished') return;
      const { schedule } = context;
      const { taskId, outcome, worker } = event;
      const at = schedule.positions[taskId]!;
      const task = context.breakdown[at]!;
      delete schedule.running[taskId];
      schedule.inFlight--;
      schedule.idle[task.server]!.push(worker);
      settle(context, at, outcome.status);
      for (const id of listTasksRead(task)) {
        if (--schedule.readersLeft[id]! === 0) delete schedule.results[id];
      }
      if (outcome.status === 'completed') {
        if ((getOwn(schedule.readersLeft, taskId) ?? 0) > 0) schedule.results[taskId] = outcome.result;
        const completed: RunEvent = { type: 'task.completed', task: refOf(task), result: outcome.result, durationMs: outcome.durationMs };
        if (outcome.servedBy) completed.servedBy = outcome.servedBy;
        enqueue.emit(completed);
        for (const dependent of schedule.dependents[at]!) {
          if (--schedule.waiting[dependent]! === 0 && schedule.status[dependent] === 'pending' && (context.workflow.schedule === 'eager' || schedule.groupOf[dependent] === context.groupIndex)) {
            enqueueReady(context, dependent);
          }
        }
        return;
      }
      // What needs a task that did not complete can never run: skipped too.
      const settled = settleUncompleted(task, outcome, at, context.breakdown, schedule, (position) => settle(context, position, 'skipped'));
      for (const settledEvent of settled.events) enqueue.emit(settledEvent);
      if (settled.error && !context.error) enqueue.assign({ error: settled.error });
    }),
    cancelInFlight: enqueueActions(({ context, enqueue }) => {
      const reason = context.error ? `stopping: ${context.error.message}` : 'stopping';
      for (const worker of Object.values(context.schedule.running)) enqueue.sendTo(worker, { type: 'worker.cancel', reason });
    }),
    skipPending: enqueueActions(({ context, enqueue }) => {
      context.breakdown.forEach((task, at) => {
        if (context.schedule.status[at] !== 'pending') return;
        settle(context, at, 'skipped');
        enqueue.emit({ type: 'task.skipped', task: refOf(task), reason: `not run: ${context.error?.message ?? 'the run stopped'}` } satisfies RunEvent);
      });
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
  invoke: { id: 'serverPort', src: 'serverPort', systemId: 'serverPort' },
  context: ({ input }) => ({
    runId: input.runId,
    workflow: input.workflow,
    required: listRequiredServers(input.workflow),
    tools: {},
    partialTools: [],
    concurrency: 1,
    breakdown: [],
    groups: [],
    groupIndex: 0,
    schedule: emptySchedule(),
  }),
  initial: 'initializing',
  on: {
    'run.cancel': { target: '.cancelling', actions: 'failWithEvent' },
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
            'worker.finished': [
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
            'worker.finished': [
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
        'worker.finished': { actions: 'finishTask' },
      },
    },
    combiningResults: SYNTHESIZING_STATE,
    finalOutput: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => (context.error ? { output: context.output, error: context.error } : { output: context.output }),
});

/** Marks a task settled (counts for its group's synchronization point). */
function settle(context: ParallelContext, at: number, status: TaskStatus): void {
  const { schedule } = context;
  schedule.status[at] = status;
  schedule.settled++;
  const group = schedule.groupOf[at];
  if (group !== undefined) schedule.settledInGroup[group] = (schedule.settledInGroup[group] ?? 0) + 1;
}
