/**
 * One live MCP session with one server: the SDK `Client` over stdio (our
 * process-group transport) or Streamable HTTP. Turns every failure into
 * `ErrorInfo` that names the server and says what happened.
 *
 * `open()` and `close()` are safe in any order and at any time: an actor may
 * be stopped while its server is still starting.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import type { RequestOptions } from '@modelcontextprotocol/sdk/shared/protocol.js';
import { CallToolResultSchema, ErrorCode, McpError, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation';
import type { ErrorInfo } from '../src/core/errors.js';
import type { ResourceResult, ToolInfo, ToolResult } from '../src/core/results.js';
import type { ServerSpec } from '../src/core/workflow.js';
import { describeCommand, describeUrl } from './describe-command.js';
import { ProcessTransport } from './process-transport.js';
import { toResourceResult, toToolResult } from './tool-result.js';

export interface ConnectionHooks {
  /** The server went away by itself (process exit, transport closed). */
  onLost?: (error: ErrorInfo) => void;
  onStderrLine?: (line: string) => void;
  /** Something the server sent that is not JSON-RPC. */
  onGarbage?: (message: string) => void;
  /** The server said its tool list changed (`notifications/tools/list_changed`); this is the new list. */
  onToolsChanged?: (tools: ToolInfo[]) => void;
}

/** One `notifications/progress` of a call. */
export interface CallProgress {
  progress: number;
  total?: number;
  message?: string;
}

export interface CallOptions {
  /** How long to wait for an answer; each progress notification starts the wait again. */
  timeoutMs: number;
  /** How long a call may run in all while progress keeps restarting `timeoutMs`; default: no limit. */
  maxTotalTimeoutMs?: number;
  signal?: AbortSignal;
  onProgress?: (progress: CallProgress) => void;
}

const CLIENT_INFO = { name: 'ensemble', version: '0.1.0' };

/** How long `close()` waits for an HTTP server to acknowledge the end of its session before dropping it. */
const TERMINATE_SESSION_TIMEOUT_MS = 2000;

/** Longest progress message kept: it is server output, shown on the bus and the CLI. */
const MAX_PROGRESS_MESSAGE = 500;

/**
 * The SDK's own timeouts carry the limit in `data`; a server may answer with -32001 too, and
 * that is an answer, not a timeout.
 */
function hasNumber(error: McpError, key: 'timeout' | 'maxTotalTimeout'): boolean {
  const data: unknown = error.data;
  return typeof data === 'object' && data !== null && Object.hasOwn(data, key) && typeof Reflect.get(data, key) === 'number';
}
const isTimeoutOfOurs = (error: unknown) => error instanceof McpError && error.code === ErrorCode.RequestTimeout && hasNumber(error, 'timeout');
/** Progress kept a call going past `maxTotalTimeout`. */
const isPastMaxTotal = (error: unknown) => error instanceof McpError && error.code === ErrorCode.RequestTimeout && hasNumber(error, 'maxTotalTimeout');

const ignoreProgress = () => undefined;

export class McpConnection {
  private readonly client: Client;
  private readonly transport: Transport;
  private closing?: Promise<void>;
  private opened = false;
  /** The session ended (the SDK's `onclose`): from then on a call's error is a loss, not an answer. */
  private connectionClosed = false;
  private toolList: ToolInfo[] = [];
  /** Shared with the SDK client, so each output schema is compiled once (Ajv caches by schema object). */
  private readonly schemaValidator = new AjvJsonSchemaValidator();
  /** Output-schema checks by tool name, made on first use; reset when the tool list changes. */
  private outputChecks = new Map<string, JsonSchemaValidator<unknown> | null>();

  constructor(
    readonly server: string,
    private readonly spec: ServerSpec,
    private readonly hooks: ConnectionHooks = {},
  ) {
    this.transport = createTransport(server, spec, hooks);
    this.client = new Client(CLIENT_INFO, {
      // Only an aggregator's backends may ask their client things: a workflow run has no one to answer,
      // so its servers are told (by the absent capabilities) not to try. The handlers are the aggregator's.
      capabilities: spec.forwardsClientRequests ? { elicitation: { form: {}, url: {} }, sampling: {} } : {},
      jsonSchemaValidator: this.schemaValidator,
      // The SDK refetches (debounced) when the server advertises tools.listChanged and says so.
      listChanged: {
        tools: {
          onChanged: (error, tools) => {
            if (error || !tools || this.closing) return;
            this.toolList = tools as ToolInfo[];
            this.outputChecks = new Map();
            this.hooks.onToolsChanged?.(this.toolList);
          },
        },
      },
    });
    // The SDK calls this before it fails the calls in flight, so they can tell a loss from an answer.
    this.client.onclose = () => {
      this.connectionClosed = true;
      if (this.opened && !this.closing) this.hooks.onLost?.(this.describeLoss());
    };
  }

  get tools(): ToolInfo[] {
    return this.toolList;
  }

  /** The session's SDK client: `ensemble serve` forwards requests through it unchanged (raw results, progress, prompts). */
  get sdkClient(): Client {
    return this.client;
  }

  /** Process id of a stdio server (the leader of its process group). */
  get pid(): number | undefined {
    return this.transport instanceof ProcessTransport ? this.transport.pid : undefined;
  }

  /** Connects, initializes and learns the tool list. Rejects with `ErrorInfo`. */
  async open(timeoutMs: number): Promise<ToolInfo[]> {
    let step = 'initialize';
    try {
      await this.client.connect(this.transport, { timeout: timeoutMs });
      if (this.closing) throw new Error('closed while starting');
      const capabilities = this.client.getServerCapabilities();
      if (capabilities?.tools) {
        step = 'tools/list';
        const listed = await this.client.listTools(undefined, { timeout: timeoutMs });
        // The whole MCP Tool is kept: schemas, annotations, title, _meta.
        this.toolList = listed.tools as ToolInfo[];
      }
      this.opened = true;
      return this.toolList;
    } catch (error) {
      const info = this.describeStartFailure(error, step, timeoutMs);
      await this.close();
      throw info;
    }
  }

  /**
   * Calls a tool. Not `client.callTool()`: that throws away a result whose structured content
   * fails the tool's `outputSchema`, though the tool has run (and may have written files). Here
   * the same check (the SDK's, with the SDK's validator) turns into a warning on a kept result.
   */
  async callTool(tool: string, args: Record<string, unknown>, options: CallOptions): Promise<ToolResult> {
    const total = options.maxTotalTimeoutMs === undefined ? undefined : linkAbort(options.signal);
    try {
      const raw = await this.client.request({ method: 'tools/call', params: { name: tool, arguments: args } }, CallToolResultSchema, requestOptions(options, total?.signal));
      const result = toToolResult(raw);
      const warning = this.checkOutput(tool, raw);
      if (warning) result.warnings = [warning];
      return result;
    } catch (error) {
      // The SDK gives up on a call past maxTotalTimeout without telling the server: cancel it there.
      if (total && isPastMaxTotal(error)) total.abort('maximum total timeout exceeded');
      throw this.describeCallFailure(error, `tool ${tool}`, options);
    }
  }

  async readResource(uri: string, options: CallOptions): Promise<ResourceResult> {
    try {
      return toResourceResult(uri, await this.client.readResource({ uri }, requestOptions(options, undefined)));
    } catch (error) {
      throw this.describeCallFailure(error, `resource ${uri}`, options);
    }
  }

  async ping(timeoutMs: number): Promise<void> {
    try {
      await this.client.ping({ timeout: timeoutMs });
    } catch (error) {
      throw this.describeCallFailure(error, 'ping', { timeoutMs });
    }
  }

  /** Ends the session (for HTTP, tells the server with a DELETE) and, for stdio, the server's whole process group. */
  close(): Promise<void> {
    this.closing ??= this.terminateSession()
      .then(() => this.client.close())
      .catch(() => this.transport.close())
      .catch(() => undefined);
    return this.closing;
  }

  /**
   * Streamable HTTP: ends the session on the server (`DELETE` with its session id), which
   * otherwise keeps it, and what it holds, until it times out — if it ever does. Bounded, so a
   * hung server cannot hold up the close; `client.close()` then aborts the request.
   */
  private async terminateSession(): Promise<void> {
    if (!(this.transport instanceof StreamableHTTPClientTransport) || this.transport.sessionId === undefined) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, TERMINATE_SESSION_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.transport.terminateSession().catch(() => undefined), bound]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The SDK client's own output-schema rule, as a warning: undefined when the result conforms. */
  private checkOutput(tool: string, raw: CallToolResult): ErrorInfo | undefined {
    const check = this.outputCheck(tool);
    if (!check) return undefined;
    let problem: string | undefined;
    if (raw.structuredContent === undefined) {
      if (!raw.isError) problem = 'it has an output schema but did not return structured content';
    } else {
      const outcome = check(raw.structuredContent);
      if (!outcome.valid) problem = `its structured content does not match its output schema: ${outcome.errorMessage}`;
    }
    if (problem === undefined) return undefined;
    return {
      code: 'OUTPUT_SCHEMA_MISMATCH',
      message: `server "${this.server}": the result of tool ${tool} was kept, but ${problem}`,
      server: this.server,
    };
  }

  private outputCheck(tool: string): JsonSchemaValidator<unknown> | undefined {
    let check = this.outputChecks.get(tool);
    if (check === undefined) {
      const schema = this.toolList.find((entry) => entry.name === tool)?.outputSchema;
      check = schema ? this.schemaValidator.getValidator<unknown>(schema) : null;
      this.outputChecks.set(tool, check);
    }
    return check ?? undefined;
  }

  private describeStartFailure(error: unknown, step: string, timeoutMs: number): ErrorInfo {
    const where = describeEndpoint(this.spec);
    const cause = errorMessage(error);
    let message: string;
    if ((error as NodeJS.ErrnoException)?.code === 'ENOCWD') {
      message = `server "${this.server}" failed to start: ${cause}`;
    } else if ((error as NodeJS.ErrnoException)?.code === 'ENOENT') {
      message = `server "${this.server}" failed to start: command not found: ${where}`;
    } else if (isTimeoutOfOurs(error)) {
      message = `server "${this.server}" did not answer ${step} within ${timeoutMs} ms (servers.${this.server}.timeoutMs); command: ${where}`;
    } else {
      message = `server "${this.server}" failed to start (${where}): ${this.exitSummary() ?? cause}`;
    }
    return withStderr({ code: 'SERVER_START_FAILED', message, server: this.server, cause }, this.stderr());
  }

  private describeCallFailure(error: unknown, what: string, options: CallOptions): ErrorInfo {
    const cause = errorMessage(error);
    // The SDK reports an aborted request as a RequestTimeout too: ask the signal first.
    if (options.signal?.aborted) {
      return { code: 'CANCELLED', message: `server "${this.server}": ${what} was cancelled (${String(options.signal.reason)})`, server: this.server, cause };
    }
    if (isPastMaxTotal(error)) {
      return {
        code: 'CALL_TIMEOUT',
        message: `server "${this.server}": ${what} ran past its maximum total time of ${options.maxTotalTimeoutMs} ms (servers.${this.server}.maxTotalTimeoutMs), though it kept reporting progress`,
        server: this.server,
        cause,
      };
    }
    if (isTimeoutOfOurs(error)) {
      return { code: 'CALL_TIMEOUT', message: `server "${this.server}": ${what} timed out after ${options.timeoutMs} ms`, server: this.server, cause };
    }
    // The SDK's own "connection closed" uses -32000, a code servers also answer with (it is the
    // first of JSON-RPC's "server error" range): only a closed session makes it a loss.
    const closed = this.connectionClosed && error instanceof McpError && error.code === ErrorCode.ConnectionClosed;
    // Any other McpError is the server's own JSON-RPC error answer: it is alive and said no.
    if (error instanceof McpError && !closed) {
      return { code: 'CALL_REJECTED', message: `server "${this.server}" rejected ${what}: ${cause}`, server: this.server, cause };
    }
    const exit = this.exitSummary();
    if (exit || this.connectionClosed) {
      return withStderr(
        { code: 'SERVER_UNAVAILABLE', message: `server "${this.server}" went away during ${what}: ${exit ?? 'connection closed'}`, server: this.server, cause },
        this.stderr(),
      );
    }
    return { code: 'CALL_FAILED', message: `server "${this.server}": ${what} failed: ${cause}`, server: this.server, cause };
  }

  private describeLoss(): ErrorInfo {
    return withStderr(
      { code: 'SERVER_UNAVAILABLE', message: `server "${this.server}" is unavailable: ${this.exitSummary() ?? 'connection closed'}`, server: this.server },
      this.stderr(),
    );
  }

  private exitSummary(): string | undefined {
    if (!(this.transport instanceof ProcessTransport)) return undefined;
    // A server the transport stopped for breaking the protocol: the reason says more than the signal.
    if (this.transport.fault !== undefined) return this.transport.fault;
    const exit = this.transport.exit;
    if (!exit) return undefined;
    return exit.signal ? `process killed by ${exit.signal}` : `process exited with code ${exit.code}`;
  }

  private stderr(): string[] {
    return this.transport instanceof ProcessTransport ? this.transport.stderrExcerpt() : [];
  }
}

function createTransport(server: string, spec: ServerSpec, hooks: ConnectionHooks): Transport {
  if (spec.kind === 'http') {
    return new StreamableHTTPClientTransport(new URL(spec.url), { requestInit: { headers: spec.headers } });
  }
  const config: ConstructorParameters<typeof ProcessTransport>[0] = {
    server,
    command: spec.command,
    args: spec.args,
    env: spec.env,
    cwd: spec.cwd,
  };
  if (spec.inheritEnv !== undefined) config.inheritEnv = spec.inheritEnv;
  if (spec.passEnv !== undefined) config.passEnv = spec.passEnv;
  if (spec.maxMessageBytes !== undefined) config.maxMessageBytes = spec.maxMessageBytes;
  if (hooks.onStderrLine) config.onStderrLine = hooks.onStderrLine;
  if (hooks.onGarbage) config.onGarbage = hooks.onGarbage;
  return new ProcessTransport(config);
}

/**
 * Progress restarts the timeout: a long call that says how far it is is not hung. `onprogress` is
 * always set, since only then does the SDK send a `progressToken` and a server report progress.
 */
function requestOptions(options: CallOptions, signal: AbortSignal | undefined): RequestOptions {
  const onProgress = options.onProgress;
  const request: RequestOptions = {
    timeout: options.timeoutMs,
    resetTimeoutOnProgress: true,
    onprogress: onProgress
      ? (progress) => {
          const reported: CallProgress = { progress: progress.progress };
          if (progress.total !== undefined) reported.total = progress.total;
          if (progress.message !== undefined) reported.message = progress.message.slice(0, MAX_PROGRESS_MESSAGE);
          onProgress(reported);
        }
      : ignoreProgress,
  };
  const abort = signal ?? options.signal;
  if (abort) request.signal = abort;
  if (options.maxTotalTimeoutMs !== undefined) request.maxTotalTimeout = options.maxTotalTimeoutMs;
  return request;
}

/** A controller of our own that follows `signal`: aborting it cancels only this call. */
function linkAbort(signal: AbortSignal | undefined): AbortController {
  const controller = new AbortController();
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener('abort', () => controller.abort(signal.reason), { once: true });
  return controller;
}

function describeEndpoint(spec: ServerSpec): string {
  // Secrets in arguments and URLs are masked: messages reach logs, reports and LLMs.
  return spec.kind === 'http' ? describeUrl(spec.url) : describeCommand(spec.command, spec.args);
}

function withStderr(info: ErrorInfo, lines: string[]): ErrorInfo {
  if (lines.length === 0) return info;
  const tail = lines.join(' | ');
  return { ...info, message: `${info.message} — stderr: ${tail}` };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
