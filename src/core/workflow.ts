/**
 * The workflow contract after validation: what machines and actors consume.
 * Relative paths are already resolved and defaults filled in, so nothing
 * downstream needs to know which file the workflow came from.
 */

export interface StdioServerSpec {
  kind: 'stdio';
  command: string;
  args: string[];
  /** Added to the environment Ensemble itself runs with. */
  env: Record<string, string>;
  /** Absolute; defaults to the workflow file's folder. */
  cwd: string;
  /** Per-call timeout for this server, overriding the workflow's. */
  timeoutMs?: number;
}

export interface HttpServerSpec {
  kind: 'http';
  url: string;
  headers: Record<string, string>;
  timeoutMs?: number;
}

export type ServerSpec = StdioServerSpec | HttpServerSpec;

/** An MCP resource a task reads during Get Context. */
export interface ResourceRef {
  server: string;
  uri: string;
}

export interface TaskSpec {
  id: string;
  server: string;
  tool: string;
  /** Values may hold `{{ … }}` placeholders, rendered just before the call. */
  args: Record<string, unknown>;
  context: ResourceRef[];
  timeoutMs?: number;
}

/** A planner tool whose JSON result becomes (the rest of) the breakdown. */
export interface PlanSpec {
  server: string;
  tool: string;
  args: Record<string, unknown>;
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
}

export const DEFAULT_CALL_TIMEOUT_MS = 60_000;
