/**
 * Ensemble as an aggregator MCP server: one unified interface over many
 * backends. Built on the SDK's low-level `Server` so backends' JSON Schemas
 * pass through unchanged. The backends are members of one server directory
 * shared by every client session (stdio, or each Streamable HTTP session):
 * when one dies its tools are withdrawn and every session hears
 * `notifications/tools/list_changed`; when the directory restores it, they
 * come back in the same sessions.
 */
import { randomUUID } from 'node:crypto';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  CallToolRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  ListResourcesRequestSchema,
  ListResourceTemplatesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  type LoggingLevel,
} from '@modelcontextprotocol/sdk/types.js';
import type { Observable, Subscription } from 'rxjs';
import type { BusEvent } from '../core/bus-events.js';
import { EnsembleError } from '../core/errors.js';
import { DEFAULT_CALL_TIMEOUT_MS } from '../core/workflow.js';
import { getOwn } from '../core/own.js';
import { ServerDirectory } from '../engine/server-directory.js';
import { listAllResources, listAllResourceTemplates, readAggregateResource, type ResourceContext } from './aggregate-resources.js';
import { PromptCatalog } from './aggregate-prompts.js';
import { toErrorResult } from './backend-errors.js';
import { DescriptionPins, type PinFlag } from './description-pins.js';
import { toExposedName, toNamingOptions } from './exposed-names.js';
import { forwardToolCall, unavailableMessage, type ForwardContext } from './forward-tool-call.js';
import type { HttpListener } from './http-endpoint.js';
import { parseServeConfig, readServeConfig, type ServeConfig, type ServeOptions } from './serve-config.js';
import { readStatus, STATUS_TOOL, STATUS_TOOL_NAME, toStatusResult } from './status-tool.js';
import { ToolCatalog } from './tool-catalog.js';
import { ClientRequestRouter } from './client-requests.js';
import type { ToolFilter } from './tool-filter.js';
import { EXPLAIN_TOOL, EXPLAIN_TOOL_NAME, explainWorkflow } from './explain-tool.js';
import { RUN_TOOL, RUN_TOOL_NAME, runForClient } from './run-tool.js';
import { readWorkflowArgument, type WorkflowArgumentContext } from './workflow-argument.js';
import { readWorkflowTools, type WorkflowTool } from './workflow-tools.js';
import { bindInputs } from '../workflow/bind-inputs.js';

export interface AggregatorConfig extends ServeOptions {
  /** Servers as in a workflow file; an entry may add `allow` / `deny` tool lists. */
  servers?: Record<string, unknown>;
  /** Servers as Claude Code, Claude Desktop and Cursor write them (`{ command, args, env }` or `{ type: "http", url }`). */
  mcpServers?: Record<string, unknown>;
  /** A serve config file (JSON or YAML) with `servers` or `mcpServers`; options given here win over the file's. */
  config?: string;
  /** Allow/deny lists by server, added to those the entries declare. */
  tools?: Record<string, ToolFilter>;
  /** Folder relative paths resolve against (default: the config file's, else cwd). */
  dir?: string;
  /** A folder of workflow files: each becomes a tool `workflow__<name>` taking the workflow's `inputs`. */
  workflows?: string;
  /** Where the aggregator says what happens to its backends (withdrawn, restored, withheld); default: nowhere. */
  log?: (line: string) => void;
}

export interface Aggregator {
  /** Serves one client session over a transport (`StdioServerTransport`, an in-memory pair, …). */
  connect(transport: Transport): Promise<void>;
  /** Serves Streamable HTTP at `http://host:port/mcp` (host default 127.0.0.1; port 0 picks a free one). */
  listen(options: { http: { host?: string; port: number; token?: string; maxBodyBytes?: number } }): Promise<HttpListener>;
  /** Resolves once every backend has served or failed once (what a client lists first is then complete). */
  ready(): Promise<void>;
  /** Every server event of the backends' directory: lifecycle, membership, logs. */
  readonly events$: Observable<BusEvent>;
  /** Closes every session and listener, then every backend process. */
  close(): Promise<void>;
}

const VERSION = '0.1.0';

/**
 * Creates the aggregator over the configured backends (they start now).
 *
 * @example
 * const aggregator = createAggregator({ mcpServers: { fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '.'] } } });
 * await aggregator.connect(new StdioServerTransport());
 */
export function createAggregator(options: AggregatorConfig): Aggregator {
  const config = resolveConfig(options);
  const naming = toNamingOptions(config);
  const pins = new DescriptionPins({ ...(config.pinFile ? { file: config.pinFile } : {}), ...(config.acceptChanged !== undefined ? { acceptChanged: config.acceptChanged } : {}) });
  const log = options.log ?? (() => undefined);
  const sessions = new Set<Server>();
  const initialized = new WeakSet<Server>();
  const listeners = new Set<HttpListener>();

  const broadcast = (send: (server: Server) => Promise<void>) => {
    for (const server of sessions) if (initialized.has(server)) send(server).catch(() => undefined);
  };
  const notify = (level: LoggingLevel, message: string) => {
    log(message);
    broadcast((server) => server.sendLoggingMessage({ level, logger: 'ensemble', data: message }));
  };

  // The aggregator's own tools; workflow tools join once their folder is read.
  const reserved = new Set([STATUS_TOOL_NAME, EXPLAIN_TOOL_NAME, RUN_TOOL_NAME]);
  let workflowTools = new Map<string, WorkflowTool>();
  const catalog = new ToolCatalog({
    naming,
    filters: config.filters,
    pins,
    reserved,
    onWithheld: (flag: PinFlag) =>
      notify('warning', `server "${flag.server}": tool "${flag.tool}" changed its description or schema since it was pinned (sha256 ${flag.pinned.slice(0, 12)}… → ${flag.seen.slice(0, 12)}…); withheld until accepted (--accept-changed)`),
  });
  const directory = new ServerDirectory({ servers: config.servers, timeoutMs: config.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, id: `serve-${randomUUID()}` });
  const timeoutOf = (server: string) => getOwn(config.servers, server)?.timeoutMs ?? config.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
  const forward: ForwardContext = { directory, catalog, timeoutOf, clientRequests: new ClientRequestRouter(), scope: { runId: 'serve', workspace: config.dir, timeoutMs: config.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, calls: new Map() } };
  const resources: ResourceContext = { directory, servers: () => Object.keys(config.servers), timeoutOf };
  const prompts = new PromptCatalog(resources, naming);
  const workflowContext: WorkflowArgumentContext = { servers: directory.servers, dir: config.dir };
  const toFailure = (error: unknown) => toErrorResult(error instanceof Error ? error.message : String(error));
  const loadingWorkflows =
    options.workflows === undefined
      ? Promise.resolve()
      : readWorkflowTools(options.workflows, directory.servers, naming, log).then(
          (tools) => {
            for (const name of tools.keys()) reserved.add(name);
            workflowTools = tools;
            log(`serving ${tools.size} workflow${tools.size === 1 ? '' : 's'} as tools: ${[...tools.keys()].join(', ')}`);
          },
          (error: unknown) => log(`cannot read the workflows folder ${options.workflows}: ${error instanceof Error ? error.message : String(error)}`),
        );

  const hasServed = (server: string) => directory.router.pool(server)?.members.some((member) => member.served) ?? false;
  const membership: Subscription = directory.bus.events$.subscribe((event) => {
    let changed = false;
    if (event.type === 'server.joined' || event.type === 'server.restored' || event.type === 'server.tools') {
      changed = catalog.update(event.server, event.tools);
      if (event.type === 'server.restored') log(`server "${event.server}" restored: ${event.tools.length} tools`);
    } else if (event.type === 'server.withdrawn') {
      changed = catalog.update(event.server, event.tools, event.error);
      log(`server "${event.server}" withdrawn: ${event.error.message}`);
    } else if (event.type === 'server.state' && event.state === 'unavailable' && event.error && !hasServed(event.server)) {
      // A server that never served: no withdrawal will come, but calls and the status name its cause.
      changed = catalog.update(event.server, [], event.error);
      log(`server "${event.server}" unavailable: ${event.error.message}`);
    }
    if (!changed) return;
    broadcast((server) => server.sendToolListChanged());
    if (event.type !== 'server.tools') {
      broadcast((server) => server.sendResourceListChanged());
      broadcast((server) => server.sendPromptListChanged());
    }
  });

  const createSession = (): Server => {
    const server = new Server(
      { name: 'ensemble', title: 'Ensemble', version: VERSION },
      {
        capabilities: { tools: { listChanged: true }, resources: { listChanged: true }, prompts: { listChanged: true }, logging: {} },
        instructions: `Tools of several MCP servers, named <server>${naming.separator}<tool>. Call ${STATUS_TOOL_NAME} to see the servers, their states and the original names of shortened tools.`,
      },
    );
    server.oninitialized = () => initialized.add(server);
    server.onclose = () => sessions.delete(server);
    server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: [STATUS_TOOL, EXPLAIN_TOOL, RUN_TOOL, ...[...workflowTools.values()].map((entry) => entry.tool), ...catalog.listClientTools()] }));
    server.setRequestHandler(CallToolRequestSchema, async (request, extra) => {
      const { name } = request.params;
      const args = request.params.arguments ?? {};
      if (name === STATUS_TOOL_NAME) return toStatusResult(readStatus(directory, catalog, pins, workflowTools));
      if (name === EXPLAIN_TOOL_NAME) return readWorkflowArgument(workflowContext, args.workflow).then(explainWorkflow, toFailure);
      if (name === RUN_TOOL_NAME) {
        const inputs = args.inputs ?? {};
        if (!isRecord(inputs)) return toErrorResult('the "inputs" argument must be an object');
        let workflow;
        try {
          workflow = bindInputs(await readWorkflowArgument(workflowContext, args.workflow), inputs);
        } catch (error) {
          return toFailure(error);
        }
        return runForClient(directory, workflow, extra);
      }
      const defined = workflowTools.get(name);
      if (defined) {
        let workflow;
        try {
          workflow = bindInputs(defined.workflow, args);
        } catch (error) {
          return toFailure(error);
        }
        return runForClient(directory, workflow, extra);
      }
      const entry = catalog.find(name);
      if (entry) return forwardToolCall(forward, entry, request.params, extra, server);
      const withheld = pins.listFlags().find((flag) => toExposedName(flag.server, flag.tool, naming) === name);
      if (withheld) return toErrorResult(`server "${withheld.server}": tool "${withheld.tool}" is withheld: its description or schema changed since it was pinned; restart with --accept-changed to accept it`);
      const gone = catalog.findWithdrawn(name);
      if (gone) return toErrorResult(unavailableMessage(gone.server, gone.tool, gone.error?.message));
      throw new McpError(ErrorCode.InvalidParams, `unknown tool "${name}"; tools/list gives the tools served now`);
    });
    server.setRequestHandler(ListResourcesRequestSchema, () => listAllResources(resources));
    server.setRequestHandler(ListResourceTemplatesRequestSchema, () => listAllResourceTemplates(resources));
    server.setRequestHandler(ReadResourceRequestSchema, (request, extra) => readAggregateResource(resources, request.params.uri, extra.signal));
    server.setRequestHandler(ListPromptsRequestSchema, () => prompts.list());
    server.setRequestHandler(GetPromptRequestSchema, (request, extra) => prompts.get(request.params.name, request.params.arguments, extra.signal));
    sessions.add(server);
    return server;
  };

  let closing: Promise<void> | undefined;
  const readyPromise = new Promise<void>((resolve) => {
    const pending = new Set(Object.keys(config.servers));
    if (pending.size === 0) resolve();
    directory.acquire([...pending], {
      send: (answer) => {
        if (answer.type !== 'server.ready' && answer.type !== 'server.unavailable') return;
        pending.delete(answer.server);
        if (pending.size === 0) resolve();
      },
    });
  });

  return {
    events$: directory.bus.events$,
    ready: () => Promise.all([readyPromise, loadingWorkflows]).then(() => undefined),
    async connect(transport) {
      await createSession().connect(transport);
    },
    async listen({ http }) {
      // Loaded on first use: the SDK's Streamable HTTP server transport brings Hono's Node adapter
      // and undici (≈ 60 ms of start-up) that stdio serving and the library's runs never need.
      const { listenHttp } = await import('./http-endpoint.js');
      const listener = await listenHttp({ ...http, host: http.host ?? '127.0.0.1', createSession });
      listeners.add(listener);
      return listener;
    },
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...listeners].map((listener) => listener.close()));
        await Promise.allSettled([...sessions].map((server) => server.close()));
        await directory.close();
        membership.unsubscribe();
      })();
      return closing;
    },
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function resolveConfig(options: AggregatorConfig): ServeConfig {
  const given = [options.servers, options.mcpServers, options.config].filter((item) => item !== undefined).length;
  if (given !== 1) throw new EnsembleError('USAGE', 'createAggregator takes exactly one of servers, mcpServers or config');
  const dir = options.dir ?? process.cwd();
  const base: ServeConfig = options.config !== undefined ? readServeConfig(options.config) : parseServeConfig(options.servers !== undefined ? { servers: options.servers } : { mcpServers: options.mcpServers }, { dir });
  // Backends of an aggregator may ask its clients (elicitation, sampling): their sessions say they can.
  const servers = Object.fromEntries(Object.entries(base.servers).map(([name, spec]) => [name, { ...spec, forwardsClientRequests: true }]));
  const merged: ServeConfig = { ...base, servers };
  for (const key of ['separator', 'maxToolNameLength', 'reservePrefix', 'pinFile', 'acceptChanged', 'timeoutMs'] as const) {
    if (options[key] !== undefined) Object.assign(merged, { [key]: options[key] });
  }
  if (options.tools) merged.filters = { ...base.filters, ...options.tools };
  return merged;
}
