/**
 * One worker of a parallel run (seed: the "[Claude Code A] ──► Task 1 ──►
 * Complete" lanes): a long-lived child that runs one subtask at a time on its
 * server, through the same per-subtask states as the sequential pattern.
 *
 *   idle ─(worker.assign)─► gettingContext ─► implementing ─► completing ─► idle
 *                                 └──────────────┴── failed, skipped, cancelled ──► idle
 *
 * The parallel machine keeps one worker per replica of each server and hands
 * each a task when one is ready, so no actor is spawned or stopped per task.
 * Which replica serves the call is the directory's choice (a live one): the
 * worker names only the server. It reports every outcome to its parent as
 * `worker.finished`.
 */
import { assign, enqueueActions, setup } from 'xstate';
import type { ErrorInfo } from '../src/core/errors.js';
import type { ResourceResult, ToolResult } from '../src/core/results.js';
import type { ServerPortMessage, ServerReport } from '../src/core/server-port.js';
import type { TaskSpec } from '../src/core/workflow.js';
import { isUnavailability } from './fallback-routing.js';
import { prepareCall, toolErrorInfo } from './task-steps.js';

export interface WorkerInput {
  /** The worker's id and system id: replies to it are addressed by this. */
  id: string;
  server: string;
}

export type TaskOutcome =
  | { status: 'completed'; result: ToolResult; durationMs: number; servedBy?: string }
  /** An optional task nothing could serve: reduced functionality. */
  | { status: 'skipped'; reason: string; durationMs: number }
  | { status: 'failed'; error: ErrorInfo; result?: ToolResult; durationMs: number }
  | { status: 'cancelled'; error: ErrorInfo; durationMs: number };

/** What the worker tells its parent when a task ends. */
export interface WorkerFinishedEvent {
  type: 'worker.finished';
  worker: string;
  taskId: string;
  outcome: TaskOutcome;
}

/**
 * What the worker tells its parent as a task goes along, for the run's events
 * (`task.context`, then `task.started` with the rendered arguments): it starts
 * reading the task's resources, and its call goes out.
 */
export type WorkerProgressEvent =
  | { type: 'worker.reading'; worker: string; taskId: string; resources: string[] }
  | { type: 'worker.calling'; worker: string; taskId: string; args: Record<string, unknown> };

export type WorkerEvent =
  | ServerReport
  /** Run this task; `results` holds the earlier results it reads, by task id. */
  | { type: 'worker.assign'; task: TaskSpec; results: Record<string, ToolResult> }
  | { type: 'worker.cancel'; reason: string };

export interface WorkerContext extends WorkerInput {
  task?: TaskSpec;
  results: Record<string, ToolResult>;
  gathered: ResourceResult[];
  startedAt: number;
  outcome?: TaskOutcome;
}

const callIdOf = (task: TaskSpec) => `${task.id}#call`;
const readIdOf = (task: TaskSpec) => `${task.id}#context`;
const elapsed = (context: WorkerContext) => performance.now() - context.startedAt;
const isFor = (context: WorkerContext, event: WorkerEvent, id: (task: TaskSpec) => string) => 'callId' in event && context.task !== undefined && event.callId === id(context.task);

export const workerMachine = setup({
  types: {
    input: {} as WorkerInput,
    context: {} as WorkerContext,
    events: {} as WorkerEvent,
  },
  guards: {
    readsContext: ({ event }) => event.type === 'worker.assign' && event.task.context.length > 0,
    contextGathered: ({ context }) => context.gathered.length === (context.task?.context.length ?? 0),
    callNotPrepared: ({ context }) => context.outcome !== undefined,
    isCurrentRead: ({ context, event }) => isFor(context, event, readIdOf),
    isCurrentCall: ({ context, event }) => isFor(context, event, callIdOf),
    isToolError: ({ context, event }) => event.type === 'server.result' && isFor(context, event, callIdOf) && event.result.isError,
    isOptionalUnserved: ({ context, event }) =>
      event.type === 'server.failed' && isFor(context, event, callIdOf) && context.task?.optional === true && isUnavailability(event.error.code),
  },
  actions: {
    takeTask: assign(({ event }) => (event.type === 'worker.assign' ? { task: event.task, results: event.results, gathered: [], startedAt: performance.now(), outcome: undefined } : {})),
    readNextResource: enqueueActions(({ context, enqueue }) => {
      const task = context.task!;
      const next = task.context[context.gathered.length];
      if (!next) return;
      const message: ServerPortMessage = { type: 'server.read', server: next.server, callId: readIdOf(task), uri: next.uri, task: task.id, from: context.id };
      enqueue.sendTo(({ system }) => system.get('serverPort'), message);
    }),
    keepResource: assign({
      gathered: ({ context, event }) => (event.type === 'server.resource' ? [...context.gathered, event.resource] : context.gathered),
    }),
    /** Implement: fill the placeholders and call the server; a placeholder that cannot render fails the task instead. */
    callServer: enqueueActions(({ context, enqueue, self }) => {
      const task = context.task!;
      const prepared = prepareCall(task, context.results, context.gathered);
      if (!prepared.ok) {
        enqueue.assign({ outcome: { status: 'failed', error: prepared.error, durationMs: elapsed(context) } });
        return;
      }
      const message: ServerPortMessage = { type: 'server.call', server: task.server, callId: callIdOf(task), tool: task.tool, args: prepared.args, task: task.id, from: context.id };
      if (task.idempotent) message.idempotent = true;
      if (task.timeoutMs !== undefined) message.timeoutMs = task.timeoutMs;
      enqueue.sendTo(({ system }) => system.get('serverPort'), message);
      // A parent that does not handle progress (the parallel machine) ignores it; path generation has none.
      if (self._parent) enqueue.sendParent({ type: 'worker.calling', worker: context.id, taskId: task.id, args: prepared.args } satisfies WorkerProgressEvent);
    }),
    reportReading: enqueueActions(({ context, enqueue, self }) => {
      if (!self._parent || !context.task) return;
      enqueue.sendParent({ type: 'worker.reading', worker: context.id, taskId: context.task.id, resources: context.task.context.map((ref) => ref.uri) } satisfies WorkerProgressEvent);
    }),
    recordReply: assign({
      outcome: ({ context, event }) => {
        const task = context.task!;
        if (event.type === 'server.result') {
          return event.result.isError
            ? { status: 'failed' as const, error: toolErrorInfo(task, event.result), result: event.result, durationMs: elapsed(context) }
            : { status: 'completed' as const, result: event.result, durationMs: elapsed(context), ...(event.servedBy ? { servedBy: event.servedBy } : {}) };
        }
        if (event.type === 'server.failed' && task.optional && isUnavailability(event.error.code)) {
          return { status: 'skipped' as const, reason: event.error.message, durationMs: elapsed(context) };
        }
        if (event.type === 'server.failed') return { status: 'failed' as const, error: { ...event.error, task: task.id }, durationMs: elapsed(context) };
        return context.outcome;
      },
    }),
    recordCancel: assign({
      outcome: ({ context, event }) => ({
        status: 'cancelled' as const,
        error: { code: 'CANCELLED' as const, message: `task "${context.task!.id}" cancelled: ${event.type === 'worker.cancel' ? event.reason : ''}`, task: context.task!.id },
        durationMs: elapsed(context),
      }),
    }),
    cancelCall: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'worker.cancel') return;
      const task = context.task!;
      const message: ServerPortMessage = { type: 'server.cancel', server: task.server, callId: callIdOf(task), reason: event.reason, from: context.id };
      enqueue.sendTo(({ system }) => system.get('serverPort'), message);
    }),
    // Path generation runs this machine with no parent: the report is skipped there.
    reportFinished: enqueueActions(({ context, enqueue, self }) => {
      if (!self._parent || !context.task || !context.outcome) return;
      enqueue.sendParent({ type: 'worker.finished', worker: context.id, taskId: context.task.id, outcome: context.outcome } satisfies WorkerFinishedEvent);
    }),
    // A finished task's results and resources are not kept: the parallel machine and the synthesizer have them.
    forgetTask: assign({ results: {}, gathered: [] }),
  },
}).createMachine({
  id: 'worker',
  context: ({ input }) => ({ ...input, results: {}, gathered: [], startedAt: 0 }),
  initial: 'idle',
  states: {
    idle: {
      on: {
        'worker.assign': [
          { guard: 'readsContext', target: 'gettingContext', actions: 'takeTask' },
          { target: 'implementing', actions: 'takeTask' },
        ],
      },
    },
    // Get Context: the task's MCP resources, read in order.
    gettingContext: {
      entry: ['reportReading', 'readNextResource'],
      always: { guard: 'contextGathered', target: 'implementing' },
      on: {
        'server.resource': { guard: 'isCurrentRead', actions: ['keepResource', 'readNextResource'] },
        'server.failed': { guard: 'isCurrentRead', target: 'idle', actions: ['recordReply', 'reportFinished', 'forgetTask'] },
        'worker.cancel': { target: 'idle', actions: ['recordCancel', 'reportFinished', 'forgetTask'] },
      },
    },
    implementing: {
      entry: 'callServer',
      always: { guard: 'callNotPrepared', target: 'idle', actions: ['reportFinished', 'forgetTask'] },
      on: {
        'server.result': [
          { guard: 'isToolError', target: 'idle', actions: ['recordReply', 'reportFinished', 'forgetTask'] },
          { guard: 'isCurrentCall', target: 'completing', actions: 'recordReply' },
        ],
        'server.failed': [
          { guard: 'isOptionalUnserved', target: 'idle', actions: ['recordReply', 'reportFinished', 'forgetTask'] },
          { guard: 'isCurrentCall', target: 'idle', actions: ['recordReply', 'reportFinished', 'forgetTask'] },
        ],
        'worker.cancel': { target: 'idle', actions: ['cancelCall', 'recordCancel', 'reportFinished', 'forgetTask'] },
      },
    },
    completing: {
      entry: ['reportFinished', 'forgetTask'],
      always: { target: 'idle' },
    },
  },
});
