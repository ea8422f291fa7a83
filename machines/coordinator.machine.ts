/**
 * Multi-server coordination (seed: "Multi-Server Coordination Pattern"): one
 * Task Orchestrator over the server directory, driving several servers as
 * coordinated operations.
 *
 *   initializing ─► planning ─► routing ─► executing ─► synthesizing ─► finalOutput
 *   (all servers        │          │ each task to its server, or by capability
 *    in parallel)       │          │ (the first ready server, in declaration order, offering its tool)
 *                       │          └ one worker per allowed slot of each server (`maxConcurrent`)
 *   a failure with onError: stop ─► cancelling ─► compensating ─► failed
 *                                                  │ nextCompensation ─► undoing ─► nextCompensation
 *
 * A saga: a completed task that declares `compensate` pushes its undo call
 * (rendered from its own result) on a stack; when a later task fails and the
 * run stops, the stack runs from the top, one call at a time, each reported
 * as `task.compensated` or `task.compensation_failed`. A compensation that
 * fails does not stop the others.
 *
 * Tasks of different servers run together as their needs are met (an eager
 * schedule); each server takes at most `maxConcurrent` (default 1) of them at
 * once, the slots being its workers (`worker.machine.ts`). Cost per task is
 * O(1), as in the parallel machine: the schedule is built once at routing and
 * then updated in place by this machine's own actions.
 */
import { and, assign, emit, enqueueActions, sendTo, setup } from 'xstate';
import type { RunEvent, TaskRef } from '../src/core/bus-events.js';
import { toErrorInfo, type ErrorInfo } from '../src/core/errors.js';
import { getOwn } from '../src/core/own.js';
import type { TaskStatus, ToolInfo, ToolResult } from '../src/core/results.js';
import type { ServerPortMessage, ServerReport, ServerRequest } from '../src/core/server-port.js';
import { ANY_SERVER, type TaskSpec, type Workflow } from '../src/core/workflow.js';
import { listBreakdownDependencies } from '../src/planning/dependencies.js';
import { createPlanCommand, describePlannerFailure, readPlan } from './planner-steps.js';
import { listRequiredServers } from './server-inputs.js';
import { sharedGuards } from './shared-guards.js';
import { createPlanningState, INITIALIZING_STATE, serverPortPlaceholder, SYNTHESIZING_STATE, synthesizePlaceholder } from './shared-states.js';
import { checkCompensationTools, checkToolsExist, listCompensationReads, listTasksRead, noServerOffers, pickServerFor, prepareCompensation, settleUncompleted, withReadyServer } from './task-steps.js';
import { workerMachine, type WorkerFinishedEvent, type WorkerInput, type WorkerProgressEvent } from './worker.machine.js';

export interface CoordinatorInput {
  runId: string;
  workflow: Workflow;
}

/** One undo call waiting on the saga's stack: already rendered, or the reason it could not be. */
export interface PendingCompensation {
  task: TaskRef;
  server: string;
  tool: string;
  prepared: { ok: true; args: Record<string, unknown> } | { ok: false; error: ErrorInfo };
}

/** The schedule, by breakdown position. Updated in place (see the file comment). */
export interface CoordinatorSchedule {
  positions: Record<string, number>;
  status: TaskStatus[];
  /** Needs not completed yet. */
  waiting: number[];
  dependents: number[][];
  /** Ready positions per server, oldest first, from `readyHead`. */
  ready: Record<string, number[]>;
  readyHead: Record<string, number>;
  /** Idle worker ids per server: a server's free slots. */
  idle: Record<string, string[]>;
  /** Worker running each task, by task id. */
  running: Record<string, string>;
  inFlight: number;
  settled: number;
  /** Results a later task (or compensation) reads, with how many readers are still to run. */
  results: Record<string, ToolResult>;
  readersLeft: Record<string, number>;
}

export interface CoordinatorContext {
  runId: string;
  workflow: Workflow;
  required: string[];
  tools: Record<string, ToolInfo[]>;
  partialTools: string[];
  concurrency: number;
  plannedTasks?: TaskSpec[];
  breakdown: TaskSpec[];
  schedule: CoordinatorSchedule;
  /** The saga's stack: compensations of completed tasks, in completion order. */
  compensations: PendingCompensation[];
  error?: ErrorInfo;
  output?: string;
}

export type CoordinatorEvent = ServerReport | WorkerFinishedEvent | WorkerProgressEvent | { type: 'run.cancel'; reason: string };

const COMPENSATE_CALL = '#compensate';
const refOf = (task: TaskSpec): TaskRef => ({ id: task.id, server: task.server, tool: task.tool });
const workerId = (server: string, n: number) => `worker:${server}:${n}`;
const topOf = (context: CoordinatorContext) => context.compensations[context.compensations.length - 1];
const undoCallId = (pending: PendingCompensation) => `${pending.task.id}${COMPENSATE_CALL}`;

/** What a task reads from other tasks: its args, and its compensation's args. */
const readsOf = (task: TaskSpec): string[] => (task.compensate ? [...new Set([...listTasksRead(task), ...listCompensationReads(task)])] : listTasksRead(task));

/**
 * The servers a coordinated run acquires, all started at once: those the
 * other patterns acquire, every compensation's server, and, when some task is
 * routed by capability, every declared server that is not only a fallback.
 */
export function listCoordinatedServers(workflow: Workflow): string[] {
  const servers = new Set(listRequiredServers(workflow));
  const routed = workflow.tasks.some((task) => task.server === ANY_SERVER) || workflow.plan !== undefined;
  const fallbacks = new Set(Object.values(workflow.servers).flatMap((spec) => (spec.fallback ?? []).flatMap((step) => (step.kind === 'server' ? [step.server] : []))));
  if (routed) for (const name of Object.keys(workflow.servers)) if (!fallbacks.has(name)) servers.add(name);
  for (const task of workflow.tasks) if (task.compensate && Object.hasOwn(workflow.servers, task.compensate.server)) servers.add(task.compensate.server);
  return [...servers];
}

function emptySchedule(): CoordinatorSchedule {
  return { positions: {}, status: [], waiting: [], dependents: [], ready: {}, readyHead: {}, idle: {}, running: {}, inFlight: 0, settled: 0, results: {}, readersLeft: {} };
}

function enqueueReady(context: CoordinatorContext, position: number): void {
  const server = context.breakdown[position]!.server;
  const ready = getOwn(context.schedule.ready, server);
  if (ready) ready.push(position);
  else context.schedule.ready[server] = [position];
}

function settle(context: CoordinatorContext, at: number, status: TaskStatus): void {
  context.schedule.status[at] = status;
  context.schedule.settled++;
}

export const coordinatorMachine = setup({
  types: {
    input: {} as CoordinatorInput,
    context: {} as CoordinatorContext,
    events: {} as CoordinatorEvent,
    emitted: {} as RunEvent,
    output: {} as { output?: string; error?: ErrorInfo },
  },
  actors: {
    serverPort: serverPortPlaceholder,
    worker: workerMachine,
    // Builds the final output from everything the run produced; the engine provides it.
    synthesize: synthesizePlaceholder,
  },
  guards: {
    ...sharedGuards,
    hasError: ({ context }) => context.error !== undefined,
    allSettled: ({ context }) => context.schedule.settled === context.breakdown.length,
    nothingInFlight: ({ context }) => context.schedule.inFlight === 0,
    mustStop: ({ context, event }) =>
      event.type === 'worker.finished' && event.outcome.status !== 'completed' && event.outcome.status !== 'skipped' && context.workflow.onError === 'stop',
    hasCompensation: ({ context }) => context.compensations.length > 0,
    compensationNotPrepared: ({ context }) => topOf(context)?.prepared.ok === false,
    isUndoReply: ({ context, event }) => {
      const top = topOf(context);
      return top !== undefined && 'callId' in event && event.callId === undoCallId(top);
    },
    isUndoSuccess: ({ context, event }) => {
      const top = topOf(context);
      return top !== undefined && event.type === 'server.result' && event.callId === undoCallId(top) && !event.result.isError;
    },
  },
  actions: {
    acquire: sendTo('serverPort', ({ context }) => ({ type: 'port.acquire', servers: context.required }) satisfies ServerPortMessage),
    keepOutput: assign({ output: ({ event }) => (event as { output?: string }).output }),
    failSynthesis: assign({ error: ({ event }) => toErrorInfo((event as { error?: unknown }).error, { code: 'TEMPLATE' }) }),
    phase: emit((_, params: { phase: 'initializing' | 'planning' | 'breakdown' | 'executing' | 'compensating' | 'synthesizing' }) => ({ type: 'run.phase' as const, phase: params.phase })),
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
    /**
     * Route each task to its server (or, by capability, to the first ready server offering its
     * tool), check tools and arguments, build the schedule and one worker per slot of each server.
     */
    routeTasks: enqueueActions(({ context, enqueue }) => {
      const declared = [...context.workflow.tasks, ...(context.plannedTasks ?? [])];
      const servers = Object.keys(context.workflow.servers).filter((name) => Object.hasOwn(context.tools, name));
      const breakdown: TaskSpec[] = [];
      for (const [index, task] of declared.entries()) {
        if (task.server !== ANY_SERVER) {
          breakdown.push(task);
          continue;
        }
        const server = pickServerFor(task.tool, servers, context.tools);
        if (server === undefined) {
          enqueue.assign({ error: noServerOffers(task, index, servers) });
          return;
        }
        breakdown.push({ ...task, server });
      }
      const missingTool = checkToolsExist(breakdown, context.tools, context.partialTools) ?? checkCompensationTools(breakdown, context.tools, context.partialTools);
      if (missingTool) {
        enqueue.assign({ error: missingTool });
        return;
      }
      const { needs } = listBreakdownDependencies(context.workflow.tasks, context.plannedTasks ?? []);
      const schedule = emptySchedule();
      breakdown.forEach((task, index) => (schedule.positions[task.id] = index));
      const position = (id: string) => (Object.hasOwn(schedule.positions, id) ? schedule.positions[id] : undefined);
      const needsOf: number[][] = [];
      breakdown.forEach((task, index) => {
        // A compensation renders when its task completes, so what it reads must have completed first.
        const ids = [...(getOwn(needs, task.id) ?? []), ...listCompensationReads(task)];
        const own = [...new Set(ids)].map(position).filter((at): at is number => at !== undefined && at !== index);
        needsOf.push(own);
        schedule.status.push('pending');
        schedule.waiting.push(own.length);
        schedule.dependents.push([]);
        for (const id of readsOf(task)) schedule.readersLeft[id] = (getOwn(schedule.readersLeft, id) ?? 0) + 1;
      });
      needsOf.forEach((own, index) => own.forEach((need) => schedule.dependents[need]!.push(index)));
      let workers = 0;
      for (const server of new Set(breakdown.map((task) => task.server))) {
        const slots = getOwn(context.workflow.servers, server)?.maxConcurrent ?? 1;
        schedule.idle[server] = [];
        schedule.ready[server] = [];
        schedule.readyHead[server] = 0;
        for (let n = 1; n <= slots; n++) {
          const id = workerId(server, n);
          schedule.idle[server]!.push(id);
          enqueue.spawnChild('worker', { id, systemId: id, input: { id, server } satisfies WorkerInput });
          workers++;
        }
      }
      enqueue.assign({ breakdown, schedule, concurrency: context.workflow.concurrency ?? workers });
      const source = context.plannedTasks ? (context.workflow.tasks.length > 0 ? 'workflow+planner' : 'planner') : 'workflow';
      enqueue.emit({ type: 'run.breakdown', tasks: breakdown.map(refOf), source } satisfies RunEvent);
    }),
    queueUnblocked: enqueueActions(({ context }) => {
      context.schedule.waiting.forEach((count, index) => count === 0 && enqueueReady(context, index));
    }),
    /** Hands ready tasks to free slots of their servers, while run-wide concurrency allows. */
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
          // `task.started` waits for the worker's call (`worker.calling`): then its arguments are rendered.
          enqueue.sendTo(worker, { type: 'worker.assign', task, results });
        }
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
      if (outcome.status === 'completed') {
        if (task.compensate) {
          // Rendered now, while the results it reads are at hand; it runs only if the run stops later.
          const reads: Record<string, ToolResult> = {};
          for (const id of listCompensationReads(task)) if (Object.hasOwn(schedule.results, id)) reads[id] = schedule.results[id]!;
          context.compensations.push({ task: refOf(task), server: task.compensate.server, tool: task.compensate.tool, prepared: prepareCompensation(task, outcome.result, reads) });
        }
        if ((getOwn(schedule.readersLeft, taskId) ?? 0) > 0) schedule.results[taskId] = outcome.result;
      }
      for (const id of readsOf(task)) {
        if (--schedule.readersLeft[id]! === 0) delete schedule.results[id];
      }
      if (outcome.status === 'completed') {
        const completed: RunEvent = { type: 'task.completed', task: refOf(task), result: outcome.result, durationMs: outcome.durationMs };
        if (outcome.servedBy) completed.servedBy = outcome.servedBy;
        enqueue.emit(completed);
        for (const dependent of schedule.dependents[at]!) {
          if (--schedule.waiting[dependent]! === 0 && schedule.status[dependent] === 'pending') enqueueReady(context, dependent);
        }
        return;
      }
      // What needs a task that did not complete can never run: skipped too.
      const settled = settleUncompleted(task, outcome, at, context.breakdown, schedule, (position) => settle(context, position, 'skipped'));
      for (const settledEvent of settled.events) enqueue.emit(settledEvent);
      if (settled.error && !context.error) enqueue.assign({ error: settled.error });
    }),
    /** Get Context and Implement, as the worker reports them: the same events the sequential machine emits. */
    reportProgress: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'worker.reading' && event.type !== 'worker.calling') return;
      const at = Object.hasOwn(context.schedule.positions, event.taskId) ? context.schedule.positions[event.taskId] : undefined;
      if (at === undefined || context.schedule.running[event.taskId] !== event.worker) return;
      const task = context.breakdown[at]!;
      if (event.type === 'worker.reading') enqueue.emit({ type: 'task.context', task: refOf(task), resources: event.resources } satisfies RunEvent);
      else enqueue.emit({ type: 'task.started', task: refOf(task), args: event.args, worker: event.worker } satisfies RunEvent);
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
    /** Undo: the call on top of the saga's stack. */
    callCompensation: enqueueActions(({ context, enqueue }) => {
      const top = topOf(context)!;
      if (!top.prepared.ok) return;
      const request: ServerRequest = { type: 'server.call', server: top.server, callId: undoCallId(top), tool: top.tool, args: top.prepared.args, task: top.task.id };
      enqueue.sendTo('serverPort', request);
    }),
    recordCompensated: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'server.result') return;
      const top = context.compensations.pop()!;
      enqueue.emit({ type: 'task.compensated', task: top.task, compensation: { server: top.server, tool: top.tool }, result: event.result, durationMs: event.durationMs } satisfies RunEvent);
    }),
    recordCompensationFailed: enqueueActions(({ context, event, enqueue }) => {
      const top = context.compensations.pop()!;
      const compensation = { server: top.server, tool: top.tool };
      // The directory measures each call: the reply's duration is the undo's.
      const durationMs = 'durationMs' in event ? event.durationMs : 0;
      let failed: RunEvent;
      if (!top.prepared.ok) failed = { type: 'task.compensation_failed', task: top.task, compensation, error: top.prepared.error, durationMs };
      else if (event.type === 'server.result') {
        const detail = event.result.text.trim() === '' ? 'no message' : event.result.text.trim().slice(0, 500);
        const error: ErrorInfo = { code: 'TOOL_ERROR', message: `compensation of task "${top.task.id}": ${top.server}.${top.tool} returned an error: ${detail}`, task: top.task.id, server: top.server };
        failed = { type: 'task.compensation_failed', task: top.task, compensation, error, result: event.result, durationMs };
      } else if (event.type === 'server.failed') failed = { type: 'task.compensation_failed', task: top.task, compensation, error: { ...event.error, task: top.task.id }, durationMs };
      else failed = { type: 'task.compensation_failed', task: top.task, compensation, error: { code: 'INTERNAL', message: `compensation of task "${top.task.id}" got no answer`, task: top.task.id }, durationMs };
      enqueue.emit(failed);
    }),
  },
}).createMachine({
  id: 'coordinator',
  invoke: { id: 'serverPort', src: 'serverPort', systemId: 'serverPort' },
  context: ({ input }) => ({
    runId: input.runId,
    workflow: input.workflow,
    required: listCoordinatedServers(input.workflow),
    tools: {},
    partialTools: [],
    concurrency: 1,
    breakdown: [],
    schedule: emptySchedule(),
    compensations: [],
  }),
  initial: 'initializing',
  states: {
    // Every server the run needs is acquired at once: they start in parallel.
    initializing: { ...INITIALIZING_STATE, on: { ...INITIALIZING_STATE.on, 'run.cancel': { target: 'failed', actions: 'failWithEvent' } } },
    planning: {
      ...createPlanningState('coordinator', '#coordinator.routing', 'hasError'),
      on: { 'run.cancel': { target: '#coordinator.failed', actions: 'failWithEvent' } },
    },
    routing: {
      entry: [{ type: 'phase', params: { phase: 'breakdown' } }, 'routeTasks'],
      always: [{ guard: 'hasError', target: 'failed' }, { target: 'executing' }],
    },
    executing: {
      entry: [{ type: 'phase', params: { phase: 'executing' } }, 'queueUnblocked', 'dispatch'],
      always: [
        { guard: and(['allSettled', 'hasError']), target: 'failed' },
        { guard: 'allSettled', target: 'synthesizing' },
      ],
      on: {
        'worker.finished': [
          { guard: 'mustStop', target: 'cancelling', actions: 'finishTask' },
          { actions: ['finishTask', 'dispatch'] },
        ],
        'worker.reading': { actions: 'reportProgress' },
        'worker.calling': { actions: 'reportProgress' },
        'run.cancel': { target: 'cancelling', actions: 'failWithEvent' },
      },
    },
    // Stop: cancel what is in flight, skip what has not started, wait for the workers to report.
    cancelling: {
      entry: ['cancelInFlight', 'skipPending'],
      always: { guard: 'nothingInFlight', target: 'compensating' },
      on: {
        'worker.finished': { actions: 'finishTask' },
        'worker.calling': { actions: 'reportProgress' },
      },
    },
    // The saga: undo completed tasks, newest first. A cancel here waits: an undo half done is worse.
    compensating: {
      entry: { type: 'phase', params: { phase: 'compensating' } },
      initial: 'nextCompensation',
      states: {
        nextCompensation: {
          always: [{ guard: 'hasCompensation', target: 'undoing' }, { target: '#coordinator.failed' }],
        },
        undoing: {
          entry: 'callCompensation',
          always: { guard: 'compensationNotPrepared', target: 'nextCompensation', actions: 'recordCompensationFailed' },
          on: {
            'server.result': [
              { guard: 'isUndoSuccess', target: 'nextCompensation', actions: 'recordCompensated' },
              { guard: 'isUndoReply', target: 'nextCompensation', actions: 'recordCompensationFailed' },
            ],
            'server.failed': { guard: 'isUndoReply', target: 'nextCompensation', actions: 'recordCompensationFailed' },
          },
        },
      },
    },
    synthesizing: SYNTHESIZING_STATE,
    finalOutput: { type: 'final' },
    failed: { type: 'final' },
  },
  output: ({ context }) => (context.error ? { output: context.output, error: context.error } : { output: context.output }),
});
