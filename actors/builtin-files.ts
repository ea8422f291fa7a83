/**
 * The built-in `files` fallback: file operations confined to a workspace,
 * with no process behind them. They stand in for Claude Code or the
 * filesystem server when those are unavailable, so they take those servers'
 * tool names and argument shapes as they are (see `BUILTIN_FILE_ALIASES`).
 * Like an MCP server, a call that fails (a path outside the workspace, a
 * missing file, an unknown tool, bad arguments) is a result with
 * `isError: true`; like an MCP client, a call that ran out of time or was
 * cancelled rejects (`CALL_TIMEOUT`, `CANCELLED`), at once, even when the
 * file system does not answer: the two channels stay apart.
 */
import { BUILTIN_FILE_ALIASES, toBuiltinFileTool, type BuiltinFileTool } from '../src/core/builtin-files.js';
import { EnsembleError } from '../src/core/errors.js';
import type { ToolInfo, ToolResult } from '../src/core/results.js';
import { toToolResult } from './tool-result.js';
import {
  editWorkspaceFile,
  listWorkspaceDirectory,
  readWorkspaceFile,
  writeWorkspaceFile,
  type FileEdit,
  type ReadWorkspaceFileOptions,
  type WorkspaceFileOptions,
} from './workspace-files.js';

/** The name the built-in files go by in replies, `servedBy` and notifications. */
export const BUILTIN_FILES_NAME = 'builtin:files';

const pathSchema = { type: 'string', description: 'a path inside the workspace' };

/** The built-in tools, with input schemas like any MCP server's. */
export const BUILTIN_FILE_TOOL_LIST: readonly (ToolInfo & { name: BuiltinFileTool })[] = [
  {
    name: 'read_file',
    description: 'Read a text file in the workspace: { path, offset?, limit? } (lines, 1-based), or { path, head?, tail? }.',
    inputSchema: { type: 'object', properties: { path: pathSchema, offset: { type: 'integer' }, limit: { type: 'integer' }, head: { type: 'integer' }, tail: { type: 'integer' } }, required: ['path'] },
  },
  {
    name: 'write_file',
    description: 'Write a text file in the workspace, creating its folders: { path, content }.',
    inputSchema: { type: 'object', properties: { path: pathSchema, content: { type: 'string' } }, required: ['path', 'content'] },
  },
  {
    name: 'edit_file',
    description: 'Replace text in a workspace file: { path, old_string, new_string, replace_all? } or { path, edits: [{ oldText, newText }] }.',
    inputSchema: { type: 'object', properties: { path: pathSchema, old_string: { type: 'string' }, new_string: { type: 'string' }, replace_all: { type: 'boolean' }, edits: { type: 'array' } }, required: ['path'] },
  },
  {
    name: 'list_directory',
    description: 'List a workspace folder as "[FILE] name" / "[DIR] name" lines: { path }.',
    inputSchema: { type: 'object', properties: { path: pathSchema } },
  },
];

/** Claude Code's tools name the path `file_path`; the others call it `path`. */
const CLAUDE_CODE_TOOLS: ReadonlySet<string> = new Set(['Read', 'Write', 'Edit']);

/** A call's limits: its time, its cancellation, and the sizes it may read and list. */
export interface BuiltinFileCallConfig {
  /** The call's timeout; it rejects with `CALL_TIMEOUT` after this many ms. */
  timeoutMs?: number;
  /** Cancels the call: it rejects with `CANCELLED`. */
  signal?: AbortSignal;
  /** Longest file read or edited, in bytes (default 8 MiB). */
  maxReadBytes?: number;
  /** Most entries a listing returns (default 10,000). */
  maxListEntries?: number;
}

/**
 * Runs one built-in file tool, by any of its names, in the workspace `root`.
 * Every failure of the operation is a result with `isError: true`; it
 * rejects only when the call times out (`CALL_TIMEOUT`) or is cancelled
 * (`CANCELLED`), and then at once: the operation stops at its next step and
 * never writes after that.
 *
 * @example
 * await callBuiltinFileTool('/tmp/ws', 'Write', { file_path: 'a.md', content: 'hi' }, { timeoutMs: 5000 }) // text: 'wrote a.md (2 bytes)'
 */
export async function callBuiltinFileTool(root: string, tool: string, args: Record<string, unknown>, config: BuiltinFileCallConfig = {}): Promise<ToolResult> {
  const { timeoutMs, signal } = config;
  const what = `${BUILTIN_FILES_NAME}: ${tool}`;
  const cancelled = () => new EnsembleError('CANCELLED', `${what} was cancelled (${String(signal?.reason)})`);
  if (signal?.aborted) throw cancelled();
  const controller = new AbortController();
  let stop!: (error: EnsembleError) => void;
  // A blocked system call cannot be interrupted: the call answers now, the operation stops at its next step.
  const stopped = new Promise<never>((_, reject) => (stop = reject));
  const onCancel = () => {
    stop(cancelled());
    controller.abort(signal?.reason);
  };
  signal?.addEventListener('abort', onCancel, { once: true });
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => {
          stop(new EnsembleError('CALL_TIMEOUT', `${what} timed out after ${timeoutMs} ms`));
          controller.abort(new Error(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);
  try {
    return await Promise.race([runOperation(root, tool, args, { ...config, signal: controller.signal }), stopped]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onCancel);
  }
}

async function runOperation(root: string, tool: string, args: Record<string, unknown>, options: WorkspaceFileOptions & { signal: AbortSignal }): Promise<ToolResult> {
  const operation = toBuiltinFileTool(tool);
  if (!operation) {
    return toErrorResult(`unknown tool "${tool}": the built-in files server knows ${Object.keys(BUILTIN_FILE_ALIASES).join(', ')}`);
  }
  const limits: WorkspaceFileOptions = {
    signal: options.signal,
    ...(options.maxReadBytes !== undefined ? { maxReadBytes: options.maxReadBytes } : {}),
    ...(options.maxListEntries !== undefined ? { maxListEntries: options.maxListEntries } : {}),
  };
  try {
    const input = typeof args === 'object' && args !== null ? args : {};
    switch (operation) {
      case 'read_file': {
        const path = readPath(tool, input);
        return toTextResult(await readWorkspaceFile(root, path, { ...readLineOptions(tool, input), ...limits }));
      }
      case 'write_file': {
        const path = readPath(tool, input);
        const written = await writeWorkspaceFile(root, path, readString(tool, input, 'content'), limits);
        return toTextResult(`wrote ${path} (${written.bytes} bytes)`);
      }
      case 'edit_file': {
        const path = readPath(tool, input);
        const dryRun = readBoolean(tool, input, 'dryRun') ?? false;
        const edited = await editWorkspaceFile(root, path, readEdits(tool, input), { ...limits, dryRun });
        const count = `${edited.replacements} replacement${edited.replacements === 1 ? '' : 's'}`;
        return toTextResult(dryRun ? `would edit ${path} (${count}; dry run, nothing written)` : `edited ${path} (${count})`);
      }
      case 'list_directory': {
        const path = input.path === undefined && input.file_path === undefined ? '.' : readPath(tool, input);
        const entries = await listWorkspaceDirectory(root, path, limits);
        return toTextResult(
          entries
            .map((entry) => {
              const mark = entry.escaped ? (entry.validUtf8 ? '  (name shown escaped)' : '  (name is not valid UTF-8; shown escaped)') : '';
              return `${entry.kind === 'directory' ? '[DIR]' : '[FILE]'} ${entry.name}${mark}`;
            })
            .join('\n'),
        );
      }
    }
  } catch (error) {
    // Aborted: the caller has its answer already (the race), this result is dropped.
    return toErrorResult(error instanceof Error ? error.message : String(error));
  }
}

// ─── Arguments ─────────────────────────────────────────────────────────────

function badArgument(tool: string, field: string, expected: string): EnsembleError {
  return new EnsembleError('TOOL_ERROR', `${tool}: argument "${field}" must be ${expected}`, { field });
}

function readPath(tool: string, args: Record<string, unknown>): string {
  // Either name is taken from any tool: a mapping may well pass one server's shape to another's name.
  const value = args.file_path ?? args.path;
  if (typeof value !== 'string') throw badArgument(tool, CLAUDE_CODE_TOOLS.has(tool) ? 'file_path' : 'path', 'a string');
  return value;
}

function readString(tool: string, args: Record<string, unknown>, field: string): string {
  const value = args[field];
  if (typeof value !== 'string') throw badArgument(tool, field, 'a string');
  return value;
}

function readBoolean(tool: string, args: Record<string, unknown>, field: string): boolean | undefined {
  const value = args[field];
  if (value !== undefined && typeof value !== 'boolean') throw badArgument(tool, field, 'true or false');
  return value;
}

function readCount(tool: string, args: Record<string, unknown>, field: string): number | undefined {
  const value = args[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw badArgument(tool, field, 'a whole number, 0 or more');
  return value;
}

/** Claude Code's `offset`/`limit` and the filesystem server's `head`/`tail`. */
function readLineOptions(tool: string, args: Record<string, unknown>): ReadWorkspaceFileOptions {
  const offset = readCount(tool, args, 'offset');
  const limit = readCount(tool, args, 'limit') ?? readCount(tool, args, 'head');
  const tail = readCount(tool, args, 'tail');
  if (tail !== undefined && (offset !== undefined || limit !== undefined)) {
    throw new EnsembleError('TOOL_ERROR', `${tool}: give "tail", or "offset"/"limit"/"head", not both`, { field: 'tail' });
  }
  return { ...(offset !== undefined ? { offset } : {}), ...(limit !== undefined ? { limit } : {}), ...(tail !== undefined ? { tail } : {}) };
}

/** `{ old_string, new_string, replace_all? }` (Claude Code, ours) or `{ edits: [{ oldText, newText }] }` (filesystem server). */
function readEdits(tool: string, args: Record<string, unknown>): FileEdit[] {
  if (args.edits !== undefined) {
    if (!Array.isArray(args.edits) || args.edits.length === 0) throw badArgument(tool, 'edits', 'a list of { oldText, newText }');
    return args.edits.map((edit: unknown, index) => {
      const item = (typeof edit === 'object' && edit !== null ? edit : {}) as Record<string, unknown>;
      return { old: readEditText(tool, item, 'oldText', index), new: readEditText(tool, item, 'newText', index) };
    });
  }
  const replaceAll = readBoolean(tool, args, 'replace_all');
  return [{ old: readString(tool, args, 'old_string'), new: readString(tool, args, 'new_string'), ...(replaceAll ? { replaceAll } : {}) }];
}

function readEditText(tool: string, item: Record<string, unknown>, field: string, index: number): string {
  const value = item[field];
  if (typeof value !== 'string') throw badArgument(tool, `edits[${index}].${field}`, 'a string');
  return value;
}

// ─── Results ───────────────────────────────────────────────────────────────

function toTextResult(text: string): ToolResult {
  return toToolResult({ content: [{ type: 'text', text }] });
}

function toErrorResult(message: string): ToolResult {
  return toToolResult({ content: [{ type: 'text', text: message }], isError: true });
}
