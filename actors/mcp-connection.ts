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
import { ErrorCode, McpError } from '@modelcontextprotocol/sdk/types.js';
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

export interface CallOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

const CLIENT_INFO = { name: 'ensemble', version: '0.1.0' };

export class McpConnection {
  private readonly client: Client;
  private readonly transport: Transport;
  private closing?: Promise<void>;
  private opened = false;
  private toolList: ToolInfo[] = [];

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
      // The SDK refetches (debounced) when the server advertises tools.listChanged and says so.
      listChanged: {
        tools: {
          onChanged: (error, tools) => {
            if (error || !tools || this.closing) return;
            this.toolList = tools as ToolInfo[];
            this.hooks.onToolsChanged?.(this.toolList);
          },
        },
      },
    });
    this.client.onclose = () => {
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

  async callTool(tool: string, args: Record<string, unknown>, options: CallOptions): Promise<ToolResult> {
    try {
      const raw = await this.client.callTool({ name: tool, arguments: args }, undefined, requestOptions(options));
      return toToolResult(raw);
    } catch (error) {
      throw this.describeCallFailure(error, `tool ${tool}`, options);
    }
  }

  async readResource(uri: string, options: CallOptions): Promise<ResourceResult> {
    try {
      return toResourceResult(uri, await this.client.readResource({ uri }, requestOptions(options)));
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

  /** Ends the session and, for stdio, the server's whole process group. */
  close(): Promise<void> {
    this.closing ??= this.client.close().catch(() => this.transport.close()).catch(() => undefined);
    return this.closing;
  }

  private describeStartFailure(error: unknown, step: string, timeoutMs: number): ErrorInfo {
    const where = describeEndpoint(this.spec);
    const cause = errorMessage(error);
    let message: string;
    if ((error as NodeJS.ErrnoException)?.code === 'ENOCWD') {
      message = `server "${this.server}" failed to start: ${cause}`;
    } else if ((error as NodeJS.ErrnoException)?.code === 'ENOENT') {
      message = `server "${this.server}" failed to start: command not found: ${where}`;
    } else if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
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
    if (error instanceof McpError && error.code === ErrorCode.RequestTimeout) {
      return { code: 'CALL_TIMEOUT', message: `server "${this.server}": ${what} timed out after ${options.timeoutMs} ms`, server: this.server, cause };
    }
    const exit = this.exitSummary();
    if (exit || (error instanceof McpError && error.code === ErrorCode.ConnectionClosed)) {
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

function requestOptions(options: CallOptions): { timeout: number; signal?: AbortSignal } {
  return options.signal ? { timeout: options.timeoutMs, signal: options.signal } : { timeout: options.timeoutMs };
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
