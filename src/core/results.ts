import type { ErrorInfo } from './errors.js';

/**
 * The whole MCP `CallToolResult` as the server sent it (after the SDK's parse): every content
 * block (text, image, audio, `resource_link`, embedded `resource`), `structuredContent`,
 * `isError`, `_meta` and any other field the server added.
 */
export interface RawToolResult {
  content: unknown[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  _meta?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A tool's result as Ensemble keeps it: the MCP result plus what templates read. */
export interface ToolResult {
  /** Every text content block, joined with newlines. */
  text: string;
  /** `structuredContent`, or `text` parsed as JSON, or undefined. */
  json: unknown;
  /** The tool said it failed (`isError: true`): a normal result, not a protocol error. */
  isError: boolean;
  content: unknown[];
  structuredContent?: unknown;
  /** The result exactly as the server sent it; absent for what did not come from an MCP server (built-in files). */
  raw?: RawToolResult;
  /** What was wrong with a result that is kept anyway (`OUTPUT_SCHEMA_MISMATCH`). */
  warnings?: ErrorInfo[];
}

export interface ResourceResult {
  uri: string;
  text: string;
  json: unknown;
}

/**
 * A tool as its server lists it: the whole MCP `Tool` (`inputSchema`,
 * `outputSchema`, `annotations`, `title`, `icons`, `_meta` pass through
 * unchanged). Tools a fallback mapping serves by name alone may have no schema.
 */
export interface ToolInfo {
  name: string;
  title?: string;
  description?: string;
  inputSchema?: { type: 'object'; properties?: Record<string, unknown>; required?: string[]; [key: string]: unknown };
  outputSchema?: { type: 'object'; [key: string]: unknown };
  annotations?: Record<string, unknown>;
  icons?: unknown[];
  _meta?: Record<string, unknown>;
  [key: string]: unknown;
}

export type TaskStatus = 'pending' | 'running' | 'completed' | 'failed' | 'skipped' | 'cancelled';

export type RunStatus = 'completed' | 'degraded' | 'failed';

export type PatternName = 'sequential' | 'parallel' | 'graceful-degradation' | 'multi-server' | 'aggregator';

export interface TaskReport {
  id: string;
  server: string;
  tool: string;
  status: TaskStatus;
  text: string;
  isError: boolean;
  durationMs?: number;
  json?: unknown;
  error?: ErrorInfo;
  /** What served the task: its own server, or the fallback that stood in for it. */
  servedBy?: string;
  /**
   * The whole `CallToolResult` the server sent (content blocks of every kind, `structuredContent`,
   * `_meta`), beside the derived `text` and `json`. It repeats the text, so a report with large
   * results is about twice their size.
   */
  raw?: RawToolResult;
  /** Kept despite these (e.g. `OUTPUT_SCHEMA_MISMATCH`: the tool ran, its result did not match its `outputSchema`). */
  warnings?: ErrorInfo[];
}

export interface Notification {
  at: number;
  level: 'info' | 'warning' | 'error';
  message: string;
  server?: string;
  task?: string;
}

/** One server's share of a multi-server run, as the coordinator's bus events tell it. */
export interface ServerShare {
  name: string;
  /** Its last lifecycle state seen during the run (`serving` when it only answered calls). */
  state: string;
  /** Task calls and compensations it answered, and how many of those failed. */
  calls: number;
  errors: number;
  /** Time its calls took, summed. */
  durationMs: number;
  /** Ids of the tasks routed to it. */
  tasks: string[];
  /** What served its calls: the server itself and any fallback that stood in. */
  servedBy: string[];
}

/** One compensation the coordinator ran after a failure (a saga's undo step). */
export interface CompensationReport {
  /** The completed task it undoes. */
  task: string;
  server: string;
  tool: string;
  status: 'compensated' | 'failed';
  text: string;
}

/** What a run produces; `--json` prints exactly this. */
export interface RunReport {
  runId: string;
  workflow: string;
  pattern: PatternName;
  status: RunStatus;
  tasks: TaskReport[];
  output: string;
  notifications: Notification[];
  error?: ErrorInfo;
  /** Multi-server runs: each server's state and share of the run, in declaration order. */
  servers?: ServerShare[];
  /** Multi-server runs that compensated: each undo step, in the order it ran. */
  compensations?: CompensationReport[];
  startedAt: number;
  finishedAt: number;
}
