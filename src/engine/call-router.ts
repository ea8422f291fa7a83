/**
 * The data plane of the server directory: where each call goes. A call to a
 * server that serves goes straight to a live member's session and its reply
 * straight to the requester; no statechart transitions for it. The router
 * tells a member's lifecycle machine only what changes its state (the circuit
 * breaker tripped, a call hung on a server that has a fallback), and learns
 * from the lifecycle which members serve.
 *
 * Routing, in order: a serving member of the server's pool (the least busy
 * one); else the server's fallback chain (other pools, with tool and argument
 * mapping, or the built-in files); else, while a member may still recover,
 * the call waits (up to its timeout); else it fails with the cause. A call in
 * flight on a member that dies is sent elsewhere only when it is idempotent.
 */
import { callBuiltinFileTool, BUILTIN_FILES_NAME } from '../../actors/builtin-files.js';
import { describeStep, listServedTools, routeCall } from '../../machines/fallback-routing.js';
import type { BusPayload } from '../core/bus-events.js';
import { toErrorInfo, type ErrorCode, type ErrorInfo } from '../core/errors.js';
import type { ResourceResult, ToolInfo, ToolResult } from '../core/results.js';
import { toMemberId, type ReplyTarget, type ServerLifecycle, type ServerReply, type ServerRequest } from '../core/server-port.js';
import type { FallbackSpec, ServerSpec } from '../core/workflow.js';

/** How the router sends one call on a session. */
export interface SessionCallOptions {
  /** How long to wait for an answer; each progress notification starts the wait again. */
  timeoutMs: number;
  /** The most a call may run while progress keeps restarting `timeoutMs` (`servers.<name>.maxTotalTimeoutMs`). */
  maxTotalTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (progress: { progress: number; total?: number; message?: string }) => void;
}

/** What the router needs of an open MCP session (`McpConnection` is one). */
export interface Session {
  callTool(tool: string, args: Record<string, unknown>, options: SessionCallOptions): Promise<ToolResult>;
  readResource(uri: string, options: SessionCallOptions): Promise<ResourceResult>;
}

/** What the router may tell a member's lifecycle machine. */
export interface LifecycleTarget {
  send(event: { type: 'calls.tripped'; error: ErrorInfo }): void;
}

/** One run's view of the router: where its built-in files live, its default timeout, its calls. */
export interface RunScope {
  runId: string;
  /** Root that built-in file operations are confined to. */
  workspace: string;
  /** Per-call timeout when neither the call nor its server gives one. */
  timeoutMs: number;
  /** Per-call trace events go here when the run asked for them. */
  trace?: (event: BusPayload) => void;
  /** Call events every run publishes: progress, and warnings about results that were kept. */
  publish?: (event: BusPayload) => void;
  /** Calls in flight or waiting, by call id, so a cancel finds them. */
  readonly calls: Map<string, RoutedCall>;
}

export interface Member {
  readonly id: string;
  readonly server: string;
  readonly replica: number;
  state: ServerLifecycle;
  /** Unavailable for good (no recovery, or it gave up). */
  final: boolean;
  /** Has served or failed at least once since it joined the directory. */
  settled: boolean;
  /** Has served at least once: a later serve is a restore. */
  served: boolean;
  tools: ToolInfo[];
  error?: ErrorInfo;
  session?: Session;
  lifecycle?: LifecycleTarget;
  inFlight: number;
  /** Failed calls in a row, for the circuit breaker. */
  failedCalls: number;
}

export interface Pool {
  readonly name: string;
  readonly spec: ServerSpec;
  readonly members: Member[];
  /** Calls waiting for a member to serve again. */
  readonly held: RoutedCall[];
}

type CallRequest = Extract<ServerRequest, { type: 'server.call' | 'server.read' }>;

export interface RoutedCall {
  readonly request: CallRequest;
  readonly requester: ReplyTarget;
  readonly scope: RunScope;
  readonly startedAt: number;
  controller?: AbortController;
  /** Members this call already failed on (set only once it is retried). */
  tried?: Set<Member>;
  holdTimer?: ReturnType<typeof setTimeout>;
  settled: boolean;
}

/**
 * Call failures that say something is wrong with the server. A tool's `isError` result, a cancel
 * and `CALL_REJECTED` (the server's own JSON-RPC error answer, e.g. bad arguments) do not.
 */
const BREAKER_CODES: ReadonlySet<ErrorCode> = new Set(['CALL_FAILED', 'CALL_TIMEOUT', 'SERVER_UNAVAILABLE']);

/** Failures that mean the session itself is gone (the cause may be what ended it: missed pings, an open circuit). */
const LOSS_CODES: ReadonlySet<ErrorCode> = new Set(['SERVER_UNAVAILABLE', 'HEALTH_CHECK_FAILED', 'CIRCUIT_OPEN']);

const isServing = (member: Member, tried: Set<Member> | undefined) => member.state === 'serving' && member.session !== undefined && !tried?.has(member);
const mayRecover = (member: Member) => !member.final && member.state !== 'serving' && member.state !== 'closed';

export class CallRouter {
  private readonly pools = new Map<string, Pool>();
  private readonly members = new Map<string, Member>();

  /** Adds a server's pool; its members are added as the directory spawns them. */
  addPool(name: string, spec: ServerSpec): Pool {
    const pool: Pool = { name, spec, members: [], held: [] };
    for (let replica = 1; replica <= spec.replicas; replica++) {
      const member: Member = { id: toMemberId(name, replica), server: name, replica, state: 'connecting', final: false, settled: false, served: false, tools: [], inFlight: 0, failedCalls: 0 };
      pool.members.push(member);
      this.members.set(member.id, member);
    }
    this.pools.set(name, pool);
    return pool;
  }

  pool(name: string): Pool | undefined {
    return this.pools.get(name);
  }

  member(id: string): Member | undefined {
    return this.members.get(id);
  }

  attach(id: string, session: Session): void {
    const member = this.members.get(id);
    if (member) member.session = session;
  }

  detach(id: string, session: Session): void {
    const member = this.members.get(id);
    if (member?.session === session) member.session = undefined;
  }

  setLifecycle(id: string, lifecycle: LifecycleTarget): void {
    const member = this.members.get(id);
    if (member) member.lifecycle = lifecycle;
  }

  /** The lifecycle changed: calls waiting for the pool go out, or fail once nothing can serve them. */
  updateMember(member: Member, change: { state: ServerLifecycle; tools?: ToolInfo[]; error?: ErrorInfo; final?: boolean }): void {
    member.state = change.state;
    member.final = change.final === true;
    if (change.tools) member.tools = change.tools;
    if (change.error) member.error = change.error;
    if (change.state === 'serving') {
      member.error = undefined;
      member.failedCalls = 0;
      member.settled = true;
      member.served = true;
    } else if (change.state === 'unavailable') {
      member.settled = true;
    }
    const pool = this.pools.get(member.server);
    if (!pool || pool.held.length === 0) return;
    if (change.state === 'serving' || !pool.members.some(mayRecover)) {
      for (const call of pool.held.splice(0)) {
        clearTimeout(call.holdTimer);
        call.holdTimer = undefined;
        // A member that serves again is a new session: a call it lost before may go to it now.
        call.tried = undefined;
        this.dispatch(call);
      }
    }
  }

  /** True when some member of the pool serves now. */
  hasServing(pool: Pool): boolean {
    return pool.members.some((member) => isServing(member, undefined));
  }

  /** The tools a server serves now: a serving member's, else what its ready fallbacks serve. */
  listServedTools(pool: Pool): { tools: ToolInfo[]; servedBy: string[] } {
    const serving = pool.members.find((member) => isServing(member, undefined));
    if (serving) return { tools: serving.tools, servedBy: [] };
    const chain = pool.spec.fallback ?? [];
    const ready = this.readySteps(pool, undefined);
    const primaryTools = pool.members.find((member) => member.tools.length > 0)?.tools ?? [];
    const known = new Map(primaryTools.map((tool) => [tool.name, tool]));
    return {
      tools: listServedTools(chain, ready, primaryTools).map((tool) => known.get(tool.name) ?? tool),
      servedBy: chain.filter((_, index) => ready[index]).map(describeStep),
    };
  }

  /** Routes a call, a read or a cancel. The reply reaches `requester` later, never synchronously. */
  request(request: ServerRequest, requester: ReplyTarget, scope: RunScope): void {
    if (request.type === 'server.cancel') {
      this.cancel(request.callId, request.reason, scope);
      return;
    }
    const call: RoutedCall = { request, requester, scope, startedAt: performance.now(), settled: false };
    scope.calls.set(request.callId, call);
    this.dispatch(call);
  }

  /** Fails every call a run still has open (the run ended). */
  abandon(scope: RunScope, reason: string): void {
    for (const call of [...scope.calls.values()]) this.cancel(call.request.callId, reason, scope);
  }

  private dispatch(call: RoutedCall): void {
    const { request } = call;
    const pool = this.pools.get(request.server);
    if (!pool) {
      this.fail(call, { code: 'SERVER_UNAVAILABLE', message: `no server "${request.server}" in the directory`, server: request.server }, true);
      return;
    }
    const member = this.pick(pool, call.tried);
    if (member) {
      this.send(pool, member, call, request.type === 'server.call' ? request.tool : undefined, request.type === 'server.call' ? request.args : undefined);
      return;
    }
    // Reads are not mapped to fallbacks: the server answers them itself.
    if (request.type === 'server.call' && (pool.spec.fallback?.length ?? 0) > 0) {
      this.callFallback(pool, call, request);
      return;
    }
    if (pool.members.some(mayRecover)) {
      this.hold(pool, call);
      return;
    }
    this.fail(call, this.causeOf(pool), true);
  }

  /** The least busy serving member; the first one when none is busy. */
  private pick(pool: Pool, tried: Set<Member> | undefined): Member | undefined {
    const members = pool.members;
    if (members.length === 1) return isServing(members[0]!, tried) ? members[0] : undefined;
    let best: Member | undefined;
    for (const member of members) {
      if (!isServing(member, tried)) continue;
      if (!best || member.inFlight < best.inFlight) best = member;
      if (best.inFlight === 0) break;
    }
    return best;
  }

  private readySteps(pool: Pool, tried: Set<Member> | undefined): boolean[] {
    return (pool.spec.fallback ?? []).map((step) => {
      if (step.kind === 'builtin') return true;
      const target = this.pools.get(step.server);
      return target !== undefined && target.members.some((member) => isServing(member, tried));
    });
  }

  private callFallback(pool: Pool, call: RoutedCall, request: Extract<CallRequest, { type: 'server.call' }>): void {
    const chain = pool.spec.fallback!;
    const route = routeCall(chain, this.readySteps(pool, call.tried), request.tool, request.args);
    if (!route) {
      const cause = this.causeOf(pool).message;
      this.fail(call, { code: 'SERVER_UNAVAILABLE', message: `server "${pool.name}" is unavailable (${cause}) and no fallback serves its tool "${request.tool}"`, server: pool.name }, true);
      return;
    }
    if ('error' in route) {
      this.fail(call, route.error, true);
      return;
    }
    const step = chain[route.step]!;
    if (step.kind === 'builtin') {
      this.callBuiltin(pool, call, route.tool, route.args, step);
      return;
    }
    const target = this.pools.get(step.server)!;
    this.send(target, this.pick(target, call.tried)!, call, route.tool, route.args, step.server);
  }

  private send(pool: Pool, member: Member, call: RoutedCall, tool: string | undefined, args: Record<string, unknown> | undefined, servedBy?: string): void {
    const { request, scope } = call;
    const controller = new AbortController();
    call.controller = controller;
    member.inFlight++;
    const started = performance.now();
    const what = tool ?? `resources/read ${(request as Extract<CallRequest, { type: 'server.read' }>).uri}`;
    const options: SessionCallOptions = { timeoutMs: request.timeoutMs ?? pool.spec.timeoutMs ?? scope.timeoutMs, signal: controller.signal };
    if (pool.spec.maxTotalTimeoutMs !== undefined) options.maxTotalTimeoutMs = pool.spec.maxTotalTimeoutMs;
    const publish = scope.publish;
    if (publish) {
      options.onProgress = (progress) => {
        if (call.settled) return;
        const event: Extract<BusPayload, { type: 'server.call.progress' }> = { type: 'server.call.progress', server: member.server, replica: member.replica, callId: request.callId, tool: what, ...progress };
        if (request.task) event.task = request.task;
        publish(event);
      };
    }
    const onError = (failure: ErrorInfo) => {
      member.inFlight--;
      // The lifecycle ended the session (missed pings, an open circuit): that is the cause, not "connection closed".
      const error = failure.code === 'SERVER_UNAVAILABLE' && member.state !== 'serving' && member.error && member.error.code !== 'SERVER_UNAVAILABLE' ? { ...member.error } : failure;
      this.trace(call, { type: 'server.call.error', server: member.server, replica: member.replica, callId: request.callId, tool: what, error, durationMs: performance.now() - started });
      this.onFailure(pool, member, call, error, servedBy);
    };
    if (tool !== undefined) {
      member.session!.callTool(tool, args!, options).then((result) => {
        member.inFlight--;
        member.failedCalls = 0;
        const durationMs = performance.now() - started;
        this.trace(call, { type: 'server.call.result', server: member.server, replica: member.replica, callId: request.callId, tool, result, durationMs, ...(servedBy ? { servedBy } : {}) });
        if (result.warnings) this.warn(call, result.warnings);
        this.deliver(call, { type: 'server.result', server: request.server, callId: request.callId, result, durationMs: performance.now() - call.startedAt, ...(servedBy ? { servedBy } : {}) });
      }, onError);
    } else {
      member.session!.readResource((request as Extract<CallRequest, { type: 'server.read' }>).uri, options).then((resource) => {
        member.inFlight--;
        const durationMs = performance.now() - started;
        this.trace(call, { type: 'server.call.result', server: member.server, replica: member.replica, callId: request.callId, tool: what, result: { text: resource.text, json: resource.json, isError: false, content: [] }, durationMs });
        this.deliver(call, { type: 'server.resource', server: request.server, callId: request.callId, resource, durationMs: performance.now() - call.startedAt });
      }, onError);
    }
  }

  private callBuiltin(pool: Pool, call: RoutedCall, tool: string, args: Record<string, unknown>, step: Extract<FallbackSpec, { kind: 'builtin' }>): void {
    const started = performance.now();
    // The call's timeout and cancel apply as they do on a server: `cancel()` aborts this controller.
    const controller = new AbortController();
    call.controller = controller;
    const timeoutMs = call.request.timeoutMs ?? pool.spec.timeoutMs ?? call.scope.timeoutMs;
    const caps = { ...(step.maxReadBytes !== undefined ? { maxReadBytes: step.maxReadBytes } : {}), ...(step.maxListEntries !== undefined ? { maxListEntries: step.maxListEntries } : {}) };
    callBuiltinFileTool(call.scope.workspace, tool, args, { timeoutMs, signal: controller.signal, ...caps }).then(
      (result) => {
        const durationMs = performance.now() - started;
        this.trace(call, { type: 'server.call.result', server: BUILTIN_FILES_NAME, callId: call.request.callId, tool, result, durationMs, servedBy: BUILTIN_FILES_NAME });
        this.deliver(call, { type: 'server.result', server: pool.name, callId: call.request.callId, result, durationMs: performance.now() - call.startedAt, servedBy: BUILTIN_FILES_NAME });
      },
      (failure: unknown) => {
        const error = { ...toErrorInfo(failure), server: pool.name };
        this.trace(call, { type: 'server.call.error', server: BUILTIN_FILES_NAME, callId: call.request.callId, tool, error, durationMs: performance.now() - started });
        this.deliver(call, this.toFailure(call, error));
      },
    );
  }

  private onFailure(pool: Pool, member: Member, call: RoutedCall, error: ErrorInfo, servedBy: string | undefined): void {
    if (call.settled) return;
    if (error.code === 'CANCELLED') {
      this.deliver(call, this.toFailure(call, error));
      return;
    }
    if (BREAKER_CODES.has(error.code)) member.failedCalls++;
    // A rejection is an answer: the server is alive, so failures before it are no longer "in a row".
    else if (error.code === 'CALL_REJECTED') member.failedCalls = 0;
    const breaker = pool.spec.circuitBreaker;
    let lost = LOSS_CODES.has(error.code);
    if (lost) {
      // The session is gone: no call goes to this member until its lifecycle says it serves again.
      if (member.state === 'serving') member.state = 'unavailable';
    } else if (breaker && BREAKER_CODES.has(error.code) && member.failedCalls >= breaker.failureThreshold) {
      this.trip(member, {
        code: 'CIRCUIT_OPEN',
        message: `server "${member.server}": circuit opened after ${member.failedCalls} failed calls in a row; last: ${error.message}`,
        server: member.server,
        cause: error.message,
      });
      lost = true;
    } else if (error.code === 'CALL_TIMEOUT' && servedBy === undefined && (pool.spec.fallback?.length ?? 0) > 0) {
      // A hung server is as good as dead when a fallback can take over its calls.
      this.trip(member, error);
      lost = true;
    }
    if (!lost) {
      this.deliver(call, this.toFailure(call, error));
      return;
    }
    this.retryOrFail(call, member, error);
  }

  /** A call whose member went away: elsewhere if it is safe to run twice, else it fails saying so. */
  private retryOrFail(call: RoutedCall, member: Member, error: ErrorInfo): void {
    const { request } = call;
    const home = this.pools.get(request.server)!;
    const retryable = request.type === 'server.call' && (request.idempotent === true || (home.spec.idempotentTools ?? []).includes(request.tool));
    if (retryable) {
      (call.tried ??= new Set()).add(member);
      this.dispatch(call);
      return;
    }
    const alternatives = (home.spec.fallback?.length ?? 0) > 0 || home.members.length > 1;
    const why = alternatives ? ' (not retried on a fallback: the task is not marked idempotent)' : '';
    this.deliver(call, this.toFailure(call, { ...error, message: `${error.message}${why}` }));
  }

  private trip(member: Member, error: ErrorInfo): void {
    member.state = 'unavailable';
    member.error = error;
    member.lifecycle?.send({ type: 'calls.tripped', error });
  }

  private hold(pool: Pool, call: RoutedCall): void {
    pool.held.push(call);
    // The attempt that failed is over: a cancel from now on is answered here.
    call.controller = undefined;
    const waitMs = call.request.timeoutMs ?? pool.spec.timeoutMs ?? call.scope.timeoutMs;
    call.holdTimer = setTimeout(() => {
      const index = pool.held.indexOf(call);
      if (index >= 0) pool.held.splice(index, 1);
      const cause = this.causeOf(pool);
      this.fail(call, { ...cause, code: 'SERVER_UNAVAILABLE', message: `server "${pool.name}" has no live replica (${cause.message}); the call waited ${waitMs} ms for one to recover` }, true);
    }, waitMs);
  }

  private cancel(callId: string, reason: string, scope: RunScope): void {
    const call = scope.calls.get(callId);
    if (!call || call.settled) return;
    if (call.holdTimer !== undefined) {
      clearTimeout(call.holdTimer);
      const pool = this.pools.get(call.request.server);
      const index = pool ? pool.held.indexOf(call) : -1;
      if (index >= 0) pool!.held.splice(index, 1);
    }
    // In flight: the abort rejects the call, which replies CANCELLED; a held call is answered here.
    if (call.controller && !call.controller.signal.aborted) {
      call.controller.abort(reason);
      return;
    }
    this.fail(call, { code: 'CANCELLED', message: `server "${call.request.server}": call cancelled (${reason})`, server: call.request.server }, true);
  }

  /** Why a pool cannot serve: the last error one of its members gave. */
  private causeOf(pool: Pool): ErrorInfo {
    const error = pool.members.find((member) => member.error)?.error;
    return error ?? { code: 'SERVER_UNAVAILABLE', message: `server "${pool.name}" is not connected`, server: pool.name };
  }

  private toFailure(call: RoutedCall, error: ErrorInfo, refused = false): ServerReply {
    const failure: ServerReply = { type: 'server.failed', server: call.request.server, callId: call.request.callId, error, durationMs: performance.now() - call.startedAt };
    if (refused) failure.refused = true;
    return failure;
  }

  /** A failure that reached no server; answered after the caller's transition. */
  private fail(call: RoutedCall, error: ErrorInfo, refused: boolean): void {
    if (refused) {
      const what = call.request.type === 'server.call' ? call.request.tool : `resources/read ${call.request.uri}`;
      this.trace(call, { type: 'server.call.error', server: call.request.server, callId: call.request.callId, tool: what, error, durationMs: 0 });
    }
    const failure = this.toFailure(call, error, refused);
    queueMicrotask(() => this.deliver(call, failure));
  }

  private deliver(call: RoutedCall, reply: ServerReply): void {
    if (call.settled) return;
    call.settled = true;
    call.scope.calls.delete(call.request.callId);
    call.requester.send(reply);
  }

  /** A result kept despite a problem: a warning notification names the server and the task. */
  private warn(call: RoutedCall, warnings: ErrorInfo[]): void {
    const publish = call.scope.publish;
    if (!publish) return;
    for (const warning of warnings) {
      const notification: Extract<BusPayload, { type: 'notification' }>['notification'] = { level: 'warning', message: warning.message };
      if (warning.server !== undefined) notification.server = warning.server;
      if (call.request.task) notification.task = call.request.task;
      publish({ type: 'notification', notification });
    }
  }

  private trace(call: RoutedCall, event: Extract<BusPayload, { type: 'server.call.result' | 'server.call.error' }>): void {
    const trace = call.scope.trace;
    if (!trace) return;
    if (call.request.task) event.task = call.request.task;
    trace(event);
  }
}
