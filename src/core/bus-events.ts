/**
 * Events on the run bus. Every event carries the run id and a timestamp
 * (`at`, ms since the epoch) so embedders can merge buses of several runs.
 */
import type { ErrorInfo } from './errors.js';
import type { Notification, PatternName, RunStatus, ToolInfo, ToolResult } from './results.js';
import type { ServerLifecycle } from './server-port.js';

export interface TaskRef {
  id: string;
  server: string;
  tool: string;
}

/** Events a coordinating machine emits; the engine stamps them onto the bus. */
export type RunEvent =
  | { type: 'run.phase'; phase: RunPhase }
  | { type: 'run.breakdown'; tasks: TaskRef[]; source: 'workflow' | 'planner' | 'workflow+planner'; groups?: string[][] }
  /** A parallel group fanned out (`started`) or reached its synchronization point (`synchronized`). */
  | { type: 'run.group'; index: number; tasks: string[]; phase: 'started' | 'synchronized' }
  | { type: 'task.started'; task: TaskRef; args: Record<string, unknown>; worker?: string }
  | { type: 'task.context'; task: TaskRef; resources: string[] }
  /** `servedBy`: a fallback served the task instead of its own server. */
  | { type: 'task.completed'; task: TaskRef; result: ToolResult; durationMs: number; servedBy?: string }
  | { type: 'task.failed'; task: TaskRef; error: ErrorInfo; result?: ToolResult; durationMs: number }
  /** `optional`: an optional task no server could serve (reduced functionality), not a consequence of a failure. */
  | { type: 'task.skipped'; task: TaskRef; reason: string; optional?: boolean }
  | { type: 'notification'; notification: Omit<Notification, 'at'> }
  /** A completed task's compensation ran (saga undo, after a later task failed). */
  | { type: 'task.compensated'; task: TaskRef; compensation: CompensationRef; result: ToolResult; durationMs: number }
  /** A compensation could not undo its task: its call failed or returned an error, or its args did not render. */
  | { type: 'task.compensation_failed'; task: TaskRef; compensation: CompensationRef; error: ErrorInfo; result?: ToolResult; durationMs: number };

/** The call that undoes a task. */
export interface CompensationRef {
  server: string;
  tool: string;
}

export type RunPhase = 'initializing' | 'planning' | 'breakdown' | 'executing' | 'compensating' | 'synthesizing';

/**
 * Events about servers. Lifecycle and membership are the server directory's;
 * `server.call.*` are per-call trace events, published only when a run asks
 * for tracing (`trace: true`), since a user needs per-task events, not per-packet ones.
 */
export type ServerEvent =
  | { type: 'server.state'; server: string; replica: number; state: ServerLifecycle; tools?: ToolInfo[]; error?: ErrorInfo; pid?: number; attempt?: number }
  /** A member serves for the first time: `tools` is what the server serves now. */
  | { type: 'server.joined'; server: string; replica: number; tools: ToolInfo[] }
  /**
   * A member stopped serving (`error` says why). `tools` is what the server still serves now, from
   * its other replicas or, named in `servedBy`, from the fallbacks that stand in for it.
   */
  | { type: 'server.withdrawn'; server: string; replica: number; error: ErrorInfo; tools: ToolInfo[]; servedBy: string[] }
  /** A withdrawn member serves again. */
  | { type: 'server.restored'; server: string; replica: number; tools: ToolInfo[] }
  /** A serving member's tool list changed (`notifications/tools/list_changed`). */
  | { type: 'server.tools'; server: string; replica: number; tools: ToolInfo[] }
  | { type: 'server.call.result'; server: string; callId: string; tool: string; result: ToolResult; durationMs: number; task?: string; replica?: number; servedBy?: string }
  | { type: 'server.call.error'; server: string; callId: string; tool: string; error: ErrorInfo; durationMs: number; task?: string; replica?: number }
  /**
   * The server reported progress on a call (`notifications/progress`); each one also restarts
   * the call's timeout (up to `servers.<name>.maxTotalTimeoutMs`). Published on every run, not only
   * traced ones: a long call that says how far it is is what a person watching wants to see.
   */
  | { type: 'server.call.progress'; server: string; callId: string; tool: string; progress: number; total?: number; message?: string; task?: string; replica?: number }
  | { type: 'server.log'; server: string; line: string }
  /** A client session of `ensemble serve` opened or closed (what the inspector's serve view shows). */
  | { type: 'serve.session'; sessionId: string; state: 'opened' | 'closed'; transport: 'stdio' | 'http' | 'other'; client?: string };

/** Bracketing events the engine publishes. */
export type LifecycleEvent =
  | { type: 'run.started'; workflow: string; pattern: PatternName }
  /** The run's own servers are being closed (a run on a shared ensemble closes none). */
  | { type: 'run.closing'; servers: string[] }
  | { type: 'run.finished'; status: RunStatus; output: string; error?: ErrorInfo };

export type BusPayload = RunEvent | ServerEvent | LifecycleEvent;

export type BusEvent = BusPayload & { runId: string; at: number };

export type BusEventType = BusEvent['type'];

/** The bus event of one type, for typed filters. */
export type BusEventOf<T extends BusEventType> = Extract<BusEvent, { type: T }>;
