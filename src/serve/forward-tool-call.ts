/**
 * A client's `tools/call`, forwarded to the backend that serves the tool:
 * the result comes back unchanged; progress notifications pass through with
 * the client's own token (and keep the backend call's timeout from expiring);
 * the client's cancellation aborts the backend call, which the SDK turns into
 * `notifications/cancelled` to the backend. A backend that is gone answers
 * with an `isError` result naming it and the cause, at once.
 */
import { randomUUID } from 'node:crypto';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { RequestHandlerExtra, RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { CallToolResultSchema, McpError, type CallToolRequest, type CallToolResult, type ServerNotification, type ServerRequest } from '@modelcontextprotocol/sdk/types.js';
// From their own modules: RxJS's index is 223 CommonJS files on Node (see src/bus.ts).
import { firstValueFrom } from 'rxjs/internal/firstValueFrom';
import { of } from 'rxjs/internal/observable/of';
import { timeout } from 'rxjs/internal/operators/timeout';
import { ofType } from '../bus.js';
import type { ServerReport } from '../core/server-port.js';
import type { RunScope } from '../engine/call-router.js';
import type { ServerDirectory } from '../engine/server-directory.js';
import { pickBackend, withBackend } from './backend-sessions.js';
import type { ClientRequestRouter } from './client-requests.js';
import { describeFailure, isLocalFailure, toErrorResult, toPassThroughError } from './backend-errors.js';
import type { ExposedTool, ToolCatalog } from './tool-catalog.js';

export type HandlerExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface ForwardContext {
  directory: ServerDirectory;
  catalog: ToolCatalog;
  /** Per-call timeout for a server's calls. */
  timeoutOf(server: string): number;
  /** Scope for calls that go through the call router (to a fallback); built-in files live in its workspace. */
  scope: RunScope;
  /** Where a backend's elicitation and sampling requests during a call are sent. */
  clientRequests: ClientRequestRouter;
}

/** How long a lost session's cause may take to arrive as a withdrawal before the call answers without it. */
const CAUSE_WAIT_MS = 300;

/** `session` is the calling client's session: a backend's elicitation or sampling request during the call goes to it. */
export async function forwardToolCall(context: ForwardContext, entry: ExposedTool, params: CallToolRequest['params'], extra: HandlerExtra, session: Server): Promise<CallToolResult> {
  const { server } = entry;
  const backend = pickBackend(context.directory, server);
  if (!backend) {
    if ((context.directory.router.pool(server)?.spec.fallback?.length ?? 0) > 0) return callFallback(context, entry, params, extra);
    return toErrorResult(unavailableMessage(server, entry.tool.name, context.catalog.errorOf(server)?.message));
  }
  const options: RequestOptions = { signal: extra.signal, timeout: context.timeoutOf(server), resetTimeoutOnProgress: true };
  const token = extra._meta?.progressToken;
  let forwarding: Promise<unknown> = Promise.resolve();
  if (token !== undefined) {
    // The backend sees our client's token; the client sees its own.
    options.onprogress = (progress) => {
      forwarding = Promise.all([forwarding, extra.sendNotification({ method: 'notifications/progress', params: { ...progress, progressToken: token } }).catch(() => undefined)]);
    };
  }
  try {
    const call = { session, extra, timeoutMs: context.timeoutOf(server) };
    const result = await withBackend(backend, (client) =>
      context.clientRequests.during(client, call, () => client.request({ method: 'tools/call', params: { ...params, name: entry.tool.name } }, CallToolResultSchema, options)),
    );
    // A client drops progress that arrives after the result: every notification goes out first.
    await forwarding;
    return result;
  } catch (error) {
    // Cancelled by the client: the SDK sends no response to a cancelled request, whatever we return.
    if (extra.signal.aborted) throw error;
    if (!isLocalFailure(error) && error instanceof McpError) throw toPassThroughError(error);
    const cause = await waitForCause(context, server, backend.member.state === 'serving' ? undefined : backend.member.error?.message);
    return toErrorResult(`server "${server}": tool "${entry.tool.name}" failed: ${cause ?? describeFailure(error)}`);
  }
}

export function unavailableMessage(server: string, tool: string, cause: string | undefined): string {
  return `server "${server}" is unavailable, so its tool "${tool}" cannot be called now${cause ? `: ${cause}` : ''}`;
}

/** The directory's word on why a session was lost (the exit status, the stderr tail), if it comes soon. */
async function waitForCause(context: ForwardContext, server: string, known: string | undefined): Promise<string | undefined> {
  if (known) return known;
  const withdrawn = context.directory.bus.events$.pipe(
    ofType('server.withdrawn'),
    timeout({ first: CAUSE_WAIT_MS, with: () => of(undefined) }),
  );
  // A failure that was not a loss (a timeout) has no withdrawal coming: the wait is bounded.
  for (;;) {
    const event = await firstValueFrom(withdrawn, { defaultValue: undefined });
    if (!event) return context.catalog.errorOf(server)?.message;
    if (event.server === server) return event.error.message;
  }
}

/** A server with a fallback chain: the call router maps the call onto what stands in for it. */
function callFallback(context: ForwardContext, entry: ExposedTool, params: CallToolRequest['params'], extra: HandlerExtra): Promise<CallToolResult> {
  const callId = randomUUID();
  const { server } = entry;
  return new Promise((resolve) => {
    const requester = {
      send(report: ServerReport) {
        extra.signal.removeEventListener('abort', onAbort);
        if (report.type === 'server.result') {
          const { content, isError, structuredContent } = report.result;
          // What the fallback served, checked as an MCP result (the router keeps content as plain data).
          const parsed = CallToolResultSchema.safeParse(structuredContent === undefined ? { content, isError } : { content, isError, structuredContent });
          resolve(parsed.success ? parsed.data : toErrorResult(`server "${server}": its fallback returned a result that is not an MCP tool result`));
        } else if (report.type === 'server.failed') {
          resolve(toErrorResult(report.error.message));
        }
      },
    };
    const onAbort = () => context.directory.router.request({ type: 'server.cancel', server, callId, reason: String(extra.signal.reason) }, requester, context.scope);
    extra.signal.addEventListener('abort', onAbort, { once: true });
    context.directory.router.request({ type: 'server.call', server, callId, tool: entry.tool.name, args: params.arguments ?? {}, timeoutMs: context.timeoutOf(server) }, requester, context.scope);
  });
}
