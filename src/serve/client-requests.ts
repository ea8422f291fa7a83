/**
 * Requests a backend sends its client — `elicitation/create` (ask the user)
 * and `sampling/createMessage` (ask the model) — forwarded to the client
 * session whose call the backend is serving, and the answer sent back.
 *
 * MCP gives such a request no link to the call it belongs to on stdio, so
 * the link is what is in flight: while a session's call runs on a backend
 * session, that backend's requests go to the calling session (through the
 * call's own request context, so over Streamable HTTP they travel on that
 * call's stream). With calls of two client sessions in flight on the same
 * backend at once, the request cannot be attributed and is refused rather
 * than shown to the wrong user; with none (a workflow run's call) it is
 * refused too.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CreateMessageRequestSchema,
  CreateMessageResultSchema,
  CreateMessageResultWithToolsSchema,
  ElicitRequestSchema,
  ElicitResultSchema,
  ErrorCode,
  McpError,
} from '@modelcontextprotocol/sdk/types.js';
import type { HandlerExtra } from './forward-tool-call.js';

interface CallInFlight {
  /** The client session (the aggregator's `Server` for it). */
  session: Server;
  extra: HandlerExtra;
  timeoutMs: number;
}

export class ClientRequestRouter {
  private readonly inFlight = new WeakMap<Client, Set<CallInFlight>>();
  private readonly handled = new WeakSet<Client>();

  /** Runs a forwarded call; while it runs, `backend`'s elicitation and sampling requests go to `session`. */
  async during<T>(backend: Client, call: CallInFlight, run: () => Promise<T>): Promise<T> {
    this.install(backend);
    let calls = this.inFlight.get(backend);
    if (!calls) this.inFlight.set(backend, (calls = new Set()));
    calls.add(call);
    try {
      return await run();
    } finally {
      calls.delete(call);
    }
  }

  private install(backend: Client): void {
    if (this.handled.has(backend)) return;
    this.handled.add(backend);
    try {
      this.handle(backend);
    } catch {
      // The SDK refuses handlers for capabilities the session did not declare: not an aggregator's backend.
    }
  }

  private handle(backend: Client): void {
    backend.setRequestHandler(ElicitRequestSchema, async (request, backendExtra) => {
      const call = this.callerOf(backend, request.method, 'elicitation');
      return call.extra.sendRequest({ method: 'elicitation/create', params: request.params }, ElicitResultSchema, { signal: backendExtra.signal, timeout: call.timeoutMs });
    });
    backend.setRequestHandler(CreateMessageRequestSchema, async (request, backendExtra) => {
      const call = this.callerOf(backend, request.method, 'sampling');
      const schema = request.params.tools ? CreateMessageResultWithToolsSchema : CreateMessageResultSchema;
      return call.extra.sendRequest({ method: 'sampling/createMessage', params: request.params }, schema, { signal: backendExtra.signal, timeout: call.timeoutMs });
    });
  }

  private callerOf(backend: Client, method: string, capability: 'elicitation' | 'sampling'): CallInFlight {
    const calls = [...(this.inFlight.get(backend) ?? [])];
    const sessions = new Set(calls.map((call) => call.session));
    if (sessions.size === 0) throw new McpError(ErrorCode.InvalidRequest, `${method}: no client call is in flight on this session, so there is no one to ask`);
    if (sessions.size > 1) throw new McpError(ErrorCode.InvalidRequest, `${method}: calls of ${sessions.size} client sessions are in flight on this server session, so which client to ask is unknown; refused`);
    // The latest call of that session: its request context is the one most likely still open.
    const call = calls.at(-1)!;
    // Said here, in words: the SDK would send it anyway and the client answer "method not found".
    if (!call.session.getClientCapabilities()?.[capability]) throw new McpError(ErrorCode.InvalidRequest, `${method}: the client that made this call does not support ${capability}`);
    return call;
  }
}
