/**
 * The workflow contract after validation: what machines and actors consume.
 * Relative paths are already resolved and defaults filled in, so nothing
 * downstream needs to know which file the workflow came from.
 */

/** How an alternative serves one of the primary's tools: its tool, and its arguments (`{{ args.x }}` reads the original call's). */
export interface ToolMapping {
  tool: string;
  /** Omitted: the original arguments are passed on unchanged. */
  args?: Record<string, unknown>;
}

/** One step of a server's fallback chain, tried in order when the server is unavailable. */
export type FallbackSpec =
  | { kind: 'server'; server: string; tools: Record<string, ToolMapping> }
  /** Built-in file operations confined to the run's workspace. `tools` maps the primary's tool names to them. */
  | { kind: 'builtin'; builtin: 'files'; tools: Record<string, ToolMapping>; maxReadBytes?: number; maxListEntries?: number };

/** How a server's health is watched and how it comes back. */
export interface ResilienceSpec {
  fallback: FallbackSpec[];
  /** MCP ping every `intervalMs`; `failures` missed pings in a row make it unavailable. */
  healthCheck?: { intervalMs: number; timeoutMs: number; failures: number };
  /** Consecutive failed calls (errors or timeouts, not `isError` results) that open the circuit. */
  circuitBreaker?: { failureThreshold: number; resetTimeoutMs: number };
  /** Restart/reconnect with exponential backoff and jitter while unavailable. */
  recovery: { initialDelayMs: number; maxDelayMs: number; factor: number; maxAttempts?: number };
  /** Tools safe to call twice: a call in flight when the server dies is retried on a fallback. */
  idempotentTools: string[];
}

export interface StdioServerSpec extends Partial<ResilienceSpec> {
  kind: 'stdio';
  /**
   * Set by `ensemble serve` only (no workflow field sets it): the session declares the
   * elicitation and sampling capabilities, and the aggregator forwards such requests to
   * the client session whose call is in flight.
   */
  forwardsClientRequests?: boolean;
  /** How many processes of this server run, each its own actor (a worker pool). */
  replicas: number;
  command: string;
  args: string[];
  /** Added to the SDK's default environment (HOME, PATH, …), not to Ensemble's own. */
  env: Record<string, string>;
  /** Start from Ensemble's whole environment instead of the SDK's default one. */
  inheritEnv?: boolean;
  /** Names of Ensemble's variables passed on to the server. */
  passEnv?: string[];
  /** Longest message (one stdout line) accepted; a longer one stops the server. Default 10 MiB. */
  maxMessageBytes?: number;
  /** Absolute; defaults to the workflow file's folder. */
  cwd: string;
  /** Per-call timeout for this server, overriding the workflow's; each progress notification restarts it. */
  timeoutMs?: number;
  /** Longest a call may run while its progress notifications keep restarting `timeoutMs`; default: no limit. */
  maxTotalTimeoutMs?: number;
  /** `lazy` (default): started when a run first needs it; `eager`: when the ensemble is created. */
  start?: 'eager' | 'lazy';
  /** Most of this server's tasks in flight at once under the multi-server coordinator (default 1). */
  maxConcurrent?: number;
}

export interface HttpServerSpec extends Partial<ResilienceSpec> {
  kind: 'http';
  /**
   * Set by `ensemble serve` only (no workflow field sets it): the session declares the
   * elicitation and sampling capabilities, and the aggregator forwards such requests to
   * the client session whose call is in flight.
   */
  forwardsClientRequests?: boolean;
  /** How many sessions with this server run at once, each its own actor. */
  replicas: number;
  url: string;
  headers: Record<string, string>;
  timeoutMs?: number;
  maxTotalTimeoutMs?: number;
  start?: 'eager' | 'lazy';
  /** Most of this server's tasks in flight at once under the multi-server coordinator (default 1). */
  maxConcurrent?: number;
}

export type ServerSpec = StdioServerSpec | HttpServerSpec;

/** An MCP resource a task reads during Get Context. */
export interface ResourceRef {
  server: string;
  uri: string;
}

/**
 * A task's `server` when it names only a tool (or says `server: any`): the
 * multi-server coordinator picks a live server that offers the tool. No
 * declared server may take this name.
 */
export const ANY_SERVER = 'any';

/** What undoes a completed task when a later one fails and the run stops (a saga step). */
export interface CompensationSpec {
  server: string;
  tool: string;
  /** `{{ result.… }}` reads the task's own result, `{{ tasks.<id>.… }}` an earlier task's. */
  args: Record<string, unknown>;
}

export interface TaskSpec {
  id: string;
  /** A declared server, or `ANY_SERVER` (routed by capability under the coordinator). */
  server: string;
  tool: string;
  /** Values may hold `{{ … }}` placeholders, rendered just before the call. */
  args: Record<string, unknown>;
  context: ResourceRef[];
  /**
   * Tasks that must complete first, as declared; absent when the file does not
   * say `needs` (even `needs: []` turns a plain list into a graph). Data
   * dependencies are derived from `args`.
   */
  needs?: string[];
  timeoutMs?: number;
  /** Reduced functionality: skipped with a notification when no server or fallback can serve it. */
  optional?: boolean;
  /** Safe to run twice: retried on a fallback when its server dies mid-call. */
  idempotent?: boolean;
  /** Runs, in reverse completion order, when a later task fails and the run stops (multi-server coordinator). */
  compensate?: CompensationSpec;
}

/** A planner tool whose JSON result becomes (the rest of) the breakdown. */
export interface PlanSpec {
  server: string;
  tool: string;
  args: Record<string, unknown>;
  /**
   * What the planner's tasks may call: `servers` (names, also for `context`
   * reads) and `tools` (`tool` on any allowed server, or `server.tool`).
   * A list left out does not limit; a planned task outside either is refused.
   */
  allow?: PlanAllow;
}

export interface PlanAllow {
  servers?: string[];
  tools?: string[];
}

export interface Workflow {
  name: string;
  /** Absolute path of the file it was read from, when there is one. */
  file?: string;
  /** Folder that relative paths were resolved against. */
  dir: string;
  servers: Record<string, ServerSpec>;
  plan?: PlanSpec;
  tasks: TaskSpec[];
  /** Template for the final output; default: every task's text, in order. */
  output?: string;
  /** Default per-call timeout. */
  timeoutMs: number;
  /** `auto` asks the pattern selection guide; anything else forces that primary pattern. */
  pattern: 'auto' | 'sequential' | 'parallel' | 'multi-server';
  /** Most tasks in flight at once across the run; default: every replica of every server. */
  concurrency?: number;
  /** `stop` cancels what is in flight and skips the rest; `continue` runs every task that can still run. */
  onError: 'stop' | 'continue';
  /** `groups` runs group by group (a synchronization point after each); `eager` starts each task once its needs are met. */
  schedule: 'groups' | 'eager';
  /** How long a synchronization point waits for its group before cancelling what is left. */
  groupTimeoutMs?: number;
  /** Absolute folder the run works in; created before any server starts. `${WORKSPACE}` in env names it. */
  workspace?: string;
  /**
   * Servers the workflow did not declare itself but took from an ensemble (`createEnsemble`):
   * only those its tasks name are acquired for a run.
   */
  sharedServers?: string[];
  /**
   * What the workflow takes from its caller, by name (`{{ inputs.<name> }}` in task args and
   * the output): `ensemble serve --workflows` lists the workflow as a tool with these as its
   * input schema. Values are bound before a run (see `bindInputs`).
   */
  inputs?: Record<string, InputSpec>;
}

/** The JSON types an input may take. */
export type InputType = 'string' | 'number' | 'integer' | 'boolean' | 'object' | 'array';

/** One declared input: JSON-Schema-like. An input with no `default` is required. */
export interface InputSpec {
  type: InputType;
  description?: string;
  default?: unknown;
}

export const DEFAULT_CALL_TIMEOUT_MS = 60_000;
