/**
 * `ensemble_status`, the aggregator's own tool: the backends and their
 * states, how many tools each exposes, every name that is not plain
 * `server__tool` (shortened or disambiguated) with its original, and the
 * tools withheld because their description or schema changed since pinned,
 * and the workflows served as tools.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ServerDirectory } from '../engine/server-directory.js';
import type { DescriptionPins } from './description-pins.js';
import type { ToolCatalog } from './tool-catalog.js';
import type { WorkflowTool } from './workflow-tools.js';

export const STATUS_TOOL_NAME = 'ensemble_status';

export const STATUS_TOOL: Tool = {
  name: STATUS_TOOL_NAME,
  title: 'Ensemble status',
  description:
    'Backends behind this Ensemble aggregator: their states and tool counts, the original names of shortened tools, the tools withheld because their description or schema changed since it was pinned, and the workflows served as tools.',
  inputSchema: { type: 'object', properties: {} },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

export interface StatusReport {
  backends: { server: string; state: string; replicas: { replica: number; state: string }[]; tools: number; error?: string }[];
  names: { name: string; server: string; tool: string }[];
  withheld: { server: string; tool: string; pinned: string; seen: string; reason: string }[];
  /** Workflows served as tools (`--workflows`): the tool, the workflow, its file and its inputs. */
  workflows: { name: string; workflow: string; file?: string; inputs: string[] }[];
}

export function readStatus(directory: ServerDirectory, catalog: ToolCatalog, pins: DescriptionPins, workflows: ReadonlyMap<string, WorkflowTool> = new Map()): StatusReport {
  const members = directory.listMembers();
  const exposed = catalog.list();
  const backends = Object.keys(directory.servers).map((server) => {
    const replicas = members.filter((member) => member.server === server).map((member) => ({ replica: member.replica, state: member.state }));
    const state = replicas.some((replica) => replica.state === 'serving') ? 'serving' : (replicas[0]?.state ?? 'not started');
    const error = catalog.errorOf(server)?.message;
    const tools = exposed.filter((entry) => entry.server === server).length;
    return error && state !== 'serving' ? { server, state, replicas, tools, error } : { server, state, replicas, tools };
  });
  return {
    backends,
    names: exposed.filter((entry) => entry.shortened).map((entry) => ({ name: entry.name, server: entry.server, tool: entry.tool.name })),
    withheld: pins.listFlags().map((flag) => ({ ...flag, reason: 'description or schema changed since it was pinned; accept with --accept-changed (or acceptChanged in the config)' })),
    workflows: [...workflows].map(([name, { workflow }]) => ({ name, workflow: workflow.name, ...(workflow.file !== undefined ? { file: workflow.file } : {}), inputs: Object.keys(workflow.inputs ?? {}) })),
  };
}

export function toStatusResult(report: StatusReport): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(report, null, 2) }], structuredContent: { ...report } };
}
