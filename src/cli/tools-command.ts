/**
 * `ensemble tools <file>`: starts a workflow file's servers, lists what each one offers (name,
 * description, input schema) and closes them again. It runs no task and calls no tool, so it is
 * the way to see what a workflow could call — though starting a server runs its command.
 */
import process from 'node:process';
import { EnsembleError, toErrorInfo } from '../core/errors.js';
import { getOwn } from '../core/own.js';
import type { ToolInfo } from '../core/results.js';
import type { ServerSpec } from '../core/workflow.js';
import type { ServerTools } from '../engine/list-server-tools.js';
import { defineCliCommand } from './cli-command.js';
import { EXIT, exitCodeOfError } from './exit-codes.js';
import { formatError } from './format-error.js';
import { suggest } from './suggest.js';

export const toolsCommand = defineCliCommand({
  name: 'tools',
  usage: 'tools <file> [options]',
  summary: "List each server's tools with their input schemas (starts the servers, runs nothing)",
  options: {
    file: { type: 'positional', description: 'a workflow file, or a serve config (servers, or mcpServers JSON)', required: true },
    server: { type: 'string', valueHint: 'name', description: 'only this server' },
    json: { type: 'boolean', description: 'print one JSON object: { servers: [{ server, tools, error }] }' },
  },
  examples: ['ensemble tools flow.yaml', 'ensemble tools flow.yaml --server fs --json'],
  async run(args) {
    const json = args.json === true;
    let listed: ServerTools[];
    try {
      const servers = await readServers(args.file);
      const names = args.server === undefined ? Object.keys(servers) : [checkServer(servers, args.server)];
      // Loaded here, not with the definition: `tools --help` must not load the engine.
      const { listServerTools } = await import('../engine/list-server-tools.js');
      listed = await listServerTools(servers, names);
    } catch (error) {
      const info = toErrorInfo(error);
      if (json) process.stdout.write(`${JSON.stringify({ servers: [], error: info })}\n`);
      else process.stderr.write(`${formatError(info)}\n`);
      process.exitCode = exitCodeOfError(error);
      return;
    }
    if (json) process.stdout.write(`${JSON.stringify({ servers: listed })}\n`);
    else process.stdout.write(formatTools(listed));
    if (listed.some((entry) => entry.error)) process.exitCode = EXIT.failed;
  },
});

/** A workflow file's servers, or a serve config's (`servers` alone, or `mcpServers` JSON). */
async function readServers(file: string): Promise<Readonly<Record<string, ServerSpec>>> {
  const { readWorkflowFile } = await import('../workflow/read-workflow.js');
  try {
    return (await readWorkflowFile(file)).servers;
  } catch (error) {
    if (!(error instanceof EnsembleError) || error.code !== 'INVALID_WORKFLOW') throw error;
    const { readServeConfig } = await import('../serve/serve-config.js');
    try {
      return readServeConfig(file).servers;
    } catch {
      throw error; // not a config either: the workflow's own complaint is the useful one
    }
  }
}

function checkServer(servers: Readonly<Record<string, ServerSpec>>, name: string): string {
  if (getOwn(servers, name)) return name;
  const guess = suggest(name, Object.keys(servers));
  throw new EnsembleError('USAGE', `--server: no server "${name}" in this file${guess ? ` (did you mean ${guess}?)` : ''}; it has: ${Object.keys(servers).join(', ')}`, { field: '--server' });
}

function formatTools(listed: ServerTools[]): string {
  const lines: string[] = [];
  for (const entry of listed) {
    if (entry.error) {
      lines.push(`${entry.server}: not started: ${entry.error.message}`, '');
      continue;
    }
    const tools = entry.tools ?? [];
    lines.push(`${entry.server}: ${tools.length} tool${tools.length === 1 ? '' : 's'}${entry.partial ? ' (served by its fallbacks; its own are unknown)' : ''}`);
    for (const tool of tools) lines.push(...formatTool(tool));
    lines.push('');
  }
  return `${lines.join('\n')}`;
}

function formatTool(tool: ToolInfo): string[] {
  const description = tool.description?.split('\n')[0]?.trim();
  const lines = [`  ${tool.name}${description ? ` — ${description}` : ''}`];
  const properties = tool.inputSchema?.properties ?? {};
  const required = new Set(tool.inputSchema?.required ?? []);
  for (const [name, schema] of Object.entries(properties)) {
    const type = typeof schema === 'object' && schema !== null && 'type' in schema ? String(schema.type) : 'any';
    lines.push(`      ${name}${required.has(name) ? '' : '?'}: ${type}`);
  }
  return lines;
}
