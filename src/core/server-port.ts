/**
 * The server port: the events a coordinating machine exchanges with a server
 * actor. Machines know only this; how a server is reached (stdio, HTTP, in
 * memory) lives in `actors/` and is wired by the engine.
 *
 * A server actor is spawned with `ServerActorInput`, reports `server.ready`
 * or `server.unavailable` to its parent, and answers every `server.call` /
 * `server.read` with exactly one reply carrying the same `callId`.
 */
import type { ErrorInfo } from './errors.js';
import type { ResourceResult, ToolInfo, ToolResult } from './results.js';
import type { ServerSpec } from './workflow.js';

export interface ServerActorInput {
  /** Name of the server in the workflow. */
  name: string;
  /** Which process of the server's pool this is (1-based); 1 when it has no replicas. */
  replica?: number;
  spec: ServerSpec;
  runId: string;
  /** Default per-call timeout when a call gives none. */
  timeoutMs: number;
}

/** Anything that takes the server's replies: an actor ref, structurally. */
export interface ReplyTarget {
  send(event: ServerReport): void;
}

/**
 * Commands a machine sends to a server actor. Replies go to `replyTo` when
 * given (a task actor calling a pool replica), else to the server's parent.
 */
export type ServerCommand =
  | { type: 'server.call'; callId: string; tool: string; args: Record<string, unknown>; timeoutMs?: number; task?: string; replyTo?: ReplyTarget; idempotent?: boolean }
  | { type: 'server.read'; callId: string; uri: string; timeoutMs?: number; task?: string; replyTo?: ReplyTarget }
  | { type: 'server.cancel'; callId: string; reason: string }
  /** Start over while unavailable: a new process (stdio) or session (HTTP), probed before it is ready. */
  | { type: 'server.restart' };

/** Replies and lifecycle reports a server actor sends to its parent. */
export type ServerReport =
  /**
   * `partial`: the server is serving from fallbacks and its own tool list is not known (it never
   * started), so `tools` is only what the fallbacks serve; a tool missing from it is not an error yet.
   */
  | { type: 'server.ready'; server: string; replica: number; tools: ToolInfo[]; partial?: boolean }
  | { type: 'server.unavailable'; server: string; replica: number; error: ErrorInfo }
  /** A recovery attempt starts (after its backoff delay). */
  | { type: 'server.recovering'; server: string; replica: number; attempt: number }
  /** `servedBy` names what answered when it was not the server itself (a fallback). */
  | { type: 'server.result'; server: string; callId: string; result: ToolResult; durationMs: number; servedBy?: string }
  | { type: 'server.resource'; server: string; callId: string; resource: ResourceResult; durationMs: number }
  /** `refused`: the call never reached the server (it was not connected), so it is safe to send elsewhere. */
  | { type: 'server.failed'; server: string; callId: string; error: ErrorInfo; durationMs: number; refused?: boolean }
  /** A notification for the person running the workflow (a fallback took over, a server recovered). */
  | { type: 'run.notify'; notification: { level: 'info' | 'warning' | 'error'; message: string; server?: string; task?: string } };

/**
 * The lifecycle states every server actor publishes (`server.state` on the bus).
 * `recovering`: a recovery attempt is starting the server again (the circuit breaker's half-open state).
 */
export type ServerLifecycle = 'connecting' | 'ready' | 'busy' | 'unavailable' | 'recovering' | 'closed';
