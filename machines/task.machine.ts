/**
 * One task in flight, as a spawned child of a coordinating machine (the
 * parallel pattern fans out one per task):
 *
 *   gettingContext ─► implementing ─► completed
 *          └──────────────┴──────────► failed | cancelled
 *
 * It reads the task's MCP resources, fills its placeholders, calls its tool
 * on the server replica it was given, and reports `task.finished` to its
 * parent. Replies come straight back to it (`replyTo`), not via the parent.
 */
import { assign, enqueueActions, sendParent, setup, type AnyActorRef } from 'xstate';
import type { ErrorInfo } from '../src/core/errors.js';
import type { ResourceResult, ToolResult } from '../src/core/results.js';
import type { ServerCommand, ServerReport } from '../src/core/server-port.js';
import type { TaskSpec } from '../src/core/workflow.js';
import { isUnavailability } from './fallback-routing.js';
import { prepareCall, toolErrorInfo } from './task-steps.js';

export interface TaskActorInput {
  task: TaskSpec;
  /** Results of the tasks this one reads, by id. */
  results: Record<string, ToolResult>;
  /** The replica that runs the tool. */
  worker: AnyActorRef;
  /** Where the task's context resources are read, by server name. */
  readers: Record<string, AnyActorRef>;
}

export type TaskOutcome =
  | { status: 'completed'; result: ToolResult; durationMs: number; servedBy?: string }
  /** An optional task nothing could serve: reduced functionality. */
  | { status: 'skipped'; reason: string; durationMs: number }
  | { status: 'failed'; error: ErrorInfo; result?: ToolResult; durationMs: number }
  | { status: 'cancelled'; error: ErrorInfo; durationMs: number };

/** What the task actor tells its parent when it ends. */
export interface TaskFinishedEvent {
  type: 'task.finished';
  taskId: string;
  worker: string;
  outcome: TaskOutcome;
}

export type TaskActorEvent = ServerReport | { type: 'task.cancel'; reason: string };

interface TaskActorContext extends TaskActorInput {
  gathered: ResourceResult[];
  args: Record<string, unknown>;
  startedAt: number;
  outcome?: TaskOutcome;
}

const callIdOf = (task: TaskSpec) => `${task.id}#call`;
const readIdOf = (task: TaskSpec) => `${task.id}#context`;
const elapsed = (context: TaskActorContext) => performance.now() - context.startedAt;

export const taskMachine = setup({
  types: {
    input: {} as TaskActorInput,
    context: {} as TaskActorContext,
    events: {} as TaskActorEvent,
  },
  guards: {
    contextGathered: ({ context }) => context.gathered.length === context.task.context.length,
    callNotPrepared: ({ context }) => context.outcome !== undefined,
    isToolError: ({ event }) => event.type === 'server.result' && event.result.isError,
    isOptionalUnserved: ({ context, event }) => event.type === 'server.failed' && context.task.optional === true && isUnavailability(event.error.code),
  },
  actions: {
    readNextResource: enqueueActions(({ context, enqueue, self }) => {
      const next = context.task.context[context.gathered.length];
      if (!next) return;
      const reader = context.readers[next.server];
      if (!reader) return;
      const command: ServerCommand = { type: 'server.read', callId: readIdOf(context.task), uri: next.uri, task: context.task.id, replyTo: self };
      enqueue.sendTo(reader, command);
    }),
    keepResource: assign({
      gathered: ({ context, event }) => (event.type === 'server.resource' ? [...context.gathered, event.resource] : context.gathered),
    }),
    prepareCall: assign(({ context }) => {
      const prepared = prepareCall(context.task, context.results, context.gathered);
      return prepared.ok ? { args: prepared.args } : { outcome: { status: 'failed' as const, error: prepared.error, durationMs: elapsed(context) } };
    }),
    callWorker: enqueueActions(({ context, enqueue, self }) => {
      if (context.outcome) return;
      const { task } = context;
      const command: ServerCommand = { type: 'server.call', callId: callIdOf(task), tool: task.tool, args: context.args, task: task.id, replyTo: self };
      if (task.idempotent) command.idempotent = true;
      if (task.timeoutMs !== undefined) command.timeoutMs = task.timeoutMs;
      enqueue.sendTo(context.worker, command);
    }),
    recordResult: assign({
      outcome: ({ context, event }) => {
        if (event.type === 'server.result') {
          return event.result.isError
            ? { status: 'failed' as const, error: toolErrorInfo(context.task, event.result), result: event.result, durationMs: elapsed(context) }
            : { status: 'completed' as const, result: event.result, durationMs: elapsed(context), ...(event.servedBy ? { servedBy: event.servedBy } : {}) };
        }
        if (event.type === 'server.failed' && context.task.optional && isUnavailability(event.error.code)) {
          return { status: 'skipped' as const, reason: event.error.message, durationMs: elapsed(context) };
        }
        if (event.type === 'server.failed') return { status: 'failed' as const, error: { ...event.error, task: context.task.id }, durationMs: elapsed(context) };
        return context.outcome;
      },
    }),
    cancelCall: enqueueActions(({ context, event, enqueue }) => {
      if (event.type !== 'task.cancel') return;
      const reason = event.reason;
      enqueue.sendTo(context.worker, { type: 'server.cancel', callId: callIdOf(context.task), reason } satisfies ServerCommand);
      enqueue.assign({
        outcome: { status: 'cancelled', error: { code: 'CANCELLED', message: `task "${context.task.id}" cancelled: ${reason}`, task: context.task.id }, durationMs: elapsed(context) },
      });
    }),
    cancelBeforeCall: assign({
      outcome: ({ context, event }) => ({
        status: 'cancelled' as const,
        error: { code: 'CANCELLED' as const, message: `task "${context.task.id}" cancelled: ${event.type === 'task.cancel' ? event.reason : ''}`, task: context.task.id },
        durationMs: elapsed(context),
      }),
    }),
    reportFinished: sendParent(({ context }) => ({ type: 'task.finished', taskId: context.task.id, worker: context.worker.id, outcome: context.outcome! }) satisfies TaskFinishedEvent),
  },
}).createMachine({
  id: 'task',
  context: ({ input }) => ({ ...input, gathered: [], args: {}, startedAt: performance.now() }),
  initial: 'gettingContext',
  states: {
    gettingContext: {
      entry: 'readNextResource',
      always: { guard: 'contextGathered', target: 'implementing', actions: 'prepareCall' },
      on: {
        'server.resource': { actions: ['keepResource', 'readNextResource'] },
        'server.failed': { target: 'failed', actions: 'recordResult' },
        'task.cancel': { target: 'cancelled', actions: 'cancelBeforeCall' },
      },
    },
    implementing: {
      entry: 'callWorker',
      always: { guard: 'callNotPrepared', target: 'failed' },
      on: {
        'server.result': [
          { guard: 'isToolError', target: 'failed', actions: 'recordResult' },
          { target: 'completed', actions: 'recordResult' },
        ],
        'server.failed': [
          { guard: 'isOptionalUnserved', target: 'skipped', actions: 'recordResult' },
          { target: 'failed', actions: 'recordResult' },
        ],
        'task.cancel': { target: 'cancelled', actions: 'cancelCall' },
      },
    },
    completed: { type: 'final', entry: 'reportFinished' },
    failed: { type: 'final', entry: 'reportFinished' },
    cancelled: { type: 'final', entry: 'reportFinished' },
    skipped: { type: 'final', entry: 'reportFinished' },
  },
});
