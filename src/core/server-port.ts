/**
 * The server port: how a coordinating machine reaches servers. Machines know
 * only this; how a server is reached (stdio, HTTP, in memory), which replica
 * serves a call and which fallback stands in lie behind it.
 *
 * Servers are addressed by name, never by an actor ref. A machine sends
 * plain-data messages to its `serverPort` actor, which the engine provides
 * (bound to the server directory); the directory answers the requester with events:
 * one `server.ready` or `server.unavailable` per acquired server, and exactly
 * one reply per `server.call` / `server.read`, carrying the same `callId`.
 */
import type { ErrorInfo } from './errors.js';
import type { ResourceResult, ToolInfo, ToolResult } from './results.js';
import type { ServerSpec } from './workflow.js';

/** Requests a machine makes of a server, by name. Plain data: no actor refs. */
export type ServerRequest =
  | { type: 'server.call'; server: string; callId: string; tool: string; args: Record<string, unknown>; timeoutMs?: number; task?: string; idempotent?: boolean }
  | { type: 'server.read'; server: string; callId: string; uri: string; timeoutMs?: number; task?: string }
  | { type: 'server.cancel'; server: string; callId: string; reason: string };

/** The one reply to a call or read. */
export type ServerReply =
  /** `servedBy` names what answered when it was not the server itself (a fallback). */
  | { type: 'server.result'; server: string; callId: string; result: ToolResult; durationMs: number; servedBy?: string }
  | { type: 'server.resource'; server: string; callId: string; resource: ResourceResult; durationMs: number }
  /** `refused`: the call never reached a server, so nothing ran. */
  | { type: 'server.failed'; server: string; callId: string; error: ErrorInfo; durationMs: number; refused?: boolean };

/** What the directory tells a run about each server it acquired, once the server has settled. */
export type ServerAvailability =
  /**
   * `partial`: the server serves from fallbacks and its own tool list is not known (it never
   * started), so `tools` is only what the fallbacks serve; a tool missing from it is not an error yet.
   */
  | { type: 'server.ready'; server: string; tools: ToolInfo[]; partial?: boolean }
  | { type: 'server.unavailable'; server: string; error: ErrorInfo };

export type ServerReport = ServerReply | ServerAvailability;

/** Anything that takes the directory's answers: the requesting actor, structurally. */
export interface ReplyTarget {
  send(event: ServerReport): void;
}

/**
 * What the engine gives the machines' `acquireServers` and `request` actions.
 * Answers always arrive later, never inside the caller's transition.
 */
export interface ServerPort {
  /** Starts (if need be) the named servers and their fallbacks; answers each with ready or unavailable. */
  acquire(servers: readonly string[], requester: ReplyTarget): void;
  request(request: ServerRequest, requester: ReplyTarget): void;
}

/**
 * What a machine sends its `serverPort` actor. `from` is the system id of the
 * actor the answers go to; without it they go to the run (the port's parent).
 */
export type ServerPortMessage = ({ type: 'port.acquire'; servers: string[] } | ServerRequest) & { from?: string };

/** One member of the server directory: a server's process (or HTTP session) number `replica`. */
export interface ServerMemberInput {
  /** Name of the server, as in the workflow. */
  name: string;
  /** Which process of the server's pool this is (1-based). */
  replica: number;
  spec: ServerSpec;
  /** Default per-call timeout when a call gives none. */
  timeoutMs: number;
}

/** The directory id of a member: `name#replica`. */
export function toMemberId(server: string, replica: number): string {
  return `${server}#${replica}`;
}

/* The connection a member's lifecycle machine invokes (`actors/connection.actor.ts`). */

/** What the member machine asks of its connection. */
export type ConnectionCommand = { type: 'conn.ping'; timeoutMs: number };

/** What the connection (provided by `actors/`) tells the member machine. */
export type ConnectionEvent =
  | { type: 'conn.open'; tools: ToolInfo[]; pid?: number }
  | { type: 'conn.failed'; error: ErrorInfo }
  | { type: 'conn.lost'; error: ErrorInfo }
  | { type: 'conn.pong' }
  | { type: 'conn.ping.failed'; error: ErrorInfo }
  /** The server sent `notifications/tools/list_changed`; this is its new list. */
  | { type: 'conn.tools'; tools: ToolInfo[] };

/**
 * The lifecycle states a server member publishes (`server.state` on the bus).
 * `recovering`: a recovery attempt is starting the server again (the circuit
 * breaker's half-open state, with `probing`).
 */
export type ServerLifecycle = 'connecting' | 'recovering' | 'probing' | 'serving' | 'unavailable' | 'closed';
