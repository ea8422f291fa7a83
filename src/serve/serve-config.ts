/**
 * The config `ensemble serve` reads: the servers map as workflow files have
 * it (`{ servers: { fs: { command, args } } }`), or the `mcpServers` JSON that
 * Claude Code, Claude Desktop and Cursor use, so a user points it at the
 * config they already have. Either form may add, per server, `allow` / `deny`
 * tool lists, and at the top the aggregator's own options.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';
import { EnsembleError } from '../core/errors.js';
import type { ServerSpec } from '../core/workflow.js';
import { parseServers } from '../workflow/parse-workflow.js';
import { MAX_WORKFLOW_BYTES } from '../workflow/read-workflow.js';
import type { ToolFilter } from './tool-filter.js';

/** Options the config file may set; the same names as `createAggregator`'s. */
export interface ServeOptions {
  separator?: string;
  maxToolNameLength?: number;
  reservePrefix?: number;
  pinFile?: string;
  acceptChanged?: boolean | string[];
  timeoutMs?: number;
}

export interface ServeConfig extends ServeOptions {
  servers: Record<string, ServerSpec>;
  /** Allow/deny lists by server; servers without one expose every tool. */
  filters: Record<string, ToolFilter>;
  /** Folder the config's relative paths resolved against. */
  dir: string;
}

const OPTION_KEYS = ['separator', 'maxToolNameLength', 'reservePrefix', 'pinFile', 'acceptChanged', 'timeoutMs'] as const;
/** Keys of an `mcpServers` entry Ensemble reads; `type` says stdio or http, the rest are the workflow's. */
const MCP_ENTRY_TYPES = new Set(['stdio', 'http', 'streamable-http']);

/** Reads and validates a config file (JSON or YAML). */
export function readServeConfig(file: string): ServeConfig {
  let text: string;
  try {
    text = readConfigText(file);
  } catch (error) {
    throw new EnsembleError('WORKFLOW_NOT_FOUND', `cannot read serve config ${file}: ${(error as Error).message}`, { file, cause: error });
  }
  let raw: unknown;
  try {
    raw = parseConfigText(text);
  } catch (error) {
    throw new EnsembleError('YAML_SYNTAX', `serve config ${file} is not valid JSON or YAML: ${(error as Error).message}`, { file, cause: error });
  }
  return parseServeConfig(raw, { dir: dirname(resolve(file)), file });
}

/**
 * Validates a config given as data: `{ servers }` or `{ mcpServers }`.
 *
 * @example
 * parseServeConfig({ mcpServers: { fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '.'] } } }, { dir: process.cwd() })
 */
export function parseServeConfig(raw: unknown, options: { dir: string; file?: string }): ServeConfig {
  const where = options.file ? { file: options.file } : {};
  if (!isRecord(raw)) throw new EnsembleError('INVALID_WORKFLOW', 'a serve config is an object with "servers" or "mcpServers"', where);
  const hasServers = raw.servers !== undefined;
  const hasMcp = raw.mcpServers !== undefined;
  if (hasServers === hasMcp) {
    throw new EnsembleError('INVALID_WORKFLOW', 'a serve config has exactly one of "servers" (as in workflow files) or "mcpServers" (as Claude Code, Claude Desktop and Cursor write it)', where);
  }
  const key = hasServers ? 'servers' : 'mcpServers';
  const entries = raw[key];
  if (!isRecord(entries)) throw new EnsembleError('INVALID_WORKFLOW', `"${key}" must be an object of servers by name`, { ...where, field: key });

  const filters: Record<string, ToolFilter> = {};
  const servers: Record<string, unknown> = {};
  for (const [name, entry] of Object.entries(entries)) {
    if (!isRecord(entry)) throw new EnsembleError('INVALID_WORKFLOW', `${key}.${name} must be an object`, { ...where, field: `${key}.${name}` });
    const { allow, deny, ...rest } = entry;
    const filter: ToolFilter = {};
    if (allow !== undefined) filter.allow = toNames(allow, `${key}.${name}.allow`, where);
    if (deny !== undefined) filter.deny = toNames(deny, `${key}.${name}.deny`, where);
    if (filter.allow || filter.deny) filters[name] = filter;
    servers[name] = withServeDefaults(hasMcp ? fromMcpEntry(rest, `${key}.${name}`, where) : rest);
  }
  const config: ServeConfig = { servers: parseServers({ servers }, { dir: options.dir, ...where }), filters, dir: options.dir };
  for (const option of OPTION_KEYS) {
    if (raw[option] !== undefined) Object.assign(config, { [option]: raw[option] });
  }
  const unknown = Object.keys(raw).filter((name) => name !== key && !(OPTION_KEYS as readonly string[]).includes(name));
  if (unknown.length > 0) throw new EnsembleError('INVALID_WORKFLOW', `unknown key${unknown.length > 1 ? 's' : ''} in serve config: ${unknown.join(', ')} (known: ${key}, ${OPTION_KEYS.join(', ')})`, { ...where, field: unknown[0]! });
  if (config.pinFile !== undefined) config.pinFile = resolve(options.dir, String(config.pinFile));
  return config;
}

/**
 * Servers behind `serve` start with it and come back after a death: clients
 * hold sessions for hours, so a backend that stays down is the exception.
 */
function withServeDefaults(entry: Record<string, unknown>): Record<string, unknown> {
  return { start: 'eager', recovery: {}, ...entry };
}

/** An `mcpServers` entry (`{ command, args, env }` or `{ type: "http", url, headers }`) as a workflow server. */
function fromMcpEntry(entry: Record<string, unknown>, field: string, where: { file?: string }): Record<string, unknown> {
  const { type, ...rest } = entry;
  if (type !== undefined && (typeof type !== 'string' || !MCP_ENTRY_TYPES.has(type))) {
    throw new EnsembleError('INVALID_WORKFLOW', `${field}.type must be "stdio" or "http" (Ensemble does not speak the old SSE transport)`, { ...where, field: `${field}.type` });
  }
  return rest;
}

function toNames(value: unknown, field: string, where: { file?: string }): string[] {
  if (!Array.isArray(value) || !value.every((item): item is string => typeof item === 'string' && item.length > 0)) {
    throw new EnsembleError('INVALID_WORKFLOW', `${field} must be a list of tool names (a "*" matches any characters)`, { ...where, field });
  }
  return value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * JSON first (the `mcpServers` files clients write are JSON), YAML only when that fails: `yaml` is
 * 72 CommonJS files, loaded here on demand so importing Ensemble does not pay for them.
 */
function parseConfigText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    const yaml = createRequire(import.meta.url)('yaml') as typeof import('yaml');
    return yaml.parse(text);
  }
}

/**
 * The config file's text, read like a workflow file: opened without blocking (a FIFO would wait
 * for a writer forever) and refused unless it is a regular file of at most MAX_WORKFLOW_BYTES
 * (`/dev/zero` must not be read to exhaustion).
 */
function readConfigText(file: string): string {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) throw new Error('it is not a regular file (a folder, pipe, socket or device)');
    if (stats.size > MAX_WORKFLOW_BYTES) throw new Error(`it is larger than ${MAX_WORKFLOW_BYTES} bytes`);
    return readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
}
