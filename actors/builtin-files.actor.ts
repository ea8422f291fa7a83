/**
 * The built-in `files` server: a server actor with no process behind it,
 * serving file operations confined to the run's workspace. It stands in for
 * Claude Code or the filesystem server when they are unavailable, so it takes
 * their tool names and argument shapes as they are (see `BUILTIN_FILE_ALIASES`).
 *
 * It speaks the server port like `server.actor.ts`: `server.ready` on start,
 * exactly one reply per `server.call` / `server.read`, and every call and
 * state change published on the bus. Like an MCP server, a call that fails
 * (a path outside the workspace, a missing file, an unknown tool, bad
 * arguments) is a result with `isError: true`, not `server.failed`.
 */
import { fromCallback } from 'xstate';
import { BUILTIN_FILE_ALIASES, BUILTIN_FILE_TOOLS, toBuiltinFileTool, type BuiltinFileTool } from '../src/core/builtin-files.js';
import type { BusPayload } from '../src/core/bus-events.js';
import { EnsembleError, type ErrorInfo } from '../src/core/errors.js';
import type { ToolInfo, ToolResult } from '../src/core/results.js';
import type { ReplyTarget, ServerCommand, ServerReport } from '../src/core/server-port.js';
import { toToolResult } from './tool-result.js';
import { editWorkspaceFile, listWorkspaceDirectory, readWorkspaceFile, writeWorkspaceFile, type FileEdit, type ReadWorkspaceFileOptions } from './workspace-files.js';

export interface BuiltinFilesActorDeps {
  publish(event: BusPayload): void;
}

export interface BuiltinFilesActorInput {
  /** The name it goes by in replies and on the bus (`builtin:files`). */
  name: string;
  /** The workspace folder every path is confined to. */
  root: string;
  runId: string;
}

const TOOL_DESCRIPTIONS: Record<BuiltinFileTool, string> = {
  read_file: 'Read a text file in the workspace: { path, offset?, limit? } (lines, 1-based), or { path, head?, tail? }.',
  write_file: 'Write a text file in the workspace, creating its folders: { path, content }.',
  edit_file: 'Replace text in a workspace file: { path, old_string, new_string, replace_all? } or { path, edits: [{ oldText, newText }] }.',
  list_directory: 'List a workspace folder as "[FILE] name" / "[DIR] name" lines: { path }.',
};

const TOOLS: ToolInfo[] = BUILTIN_FILE_TOOLS.map((name) => ({ name, description: TOOL_DESCRIPTIONS[name] }));

/** Claude Code's tools name the path `file_path`; the others call it `path`. */
const CLAUDE_CODE_TOOLS: ReadonlySet<string> = new Set(['Read', 'Write', 'Edit']);

/**
 * Creates the built-in files actor logic with its bus bound.
 *
 * @example
 * const builtinFiles = createBuiltinFilesActor({ publish: bus.publish });
 * machine.provide({ actors: { builtinFiles } });
 * // spawned with input { name: 'builtin:files', root: workflow.workspace, runId }
 */
export function createBuiltinFilesActor(deps: BuiltinFilesActorDeps) {
  return fromCallback<ServerCommand, BuiltinFilesActorInput, ServerReport>(({ input, receive, sendBack }) => {
    const { name, root } = input;
    let stopped = false;

    // Replies always leave from a promise continuation: never inside a transition, ours or the caller's.
    const reply = (report: ServerReport, replyTo: ReplyTarget | undefined) => {
      if (stopped) return;
      if (replyTo) replyTo.send(report);
      else sendBack(report);
    };

    receive((command) => {
      // Nothing to restart, and a file operation is too short to be worth cancelling half-way.
      if (command.type === 'server.cancel' || command.type === 'server.restart') return;
      const task = command.task;
      const started = performance.now();
      if (command.type === 'server.read') {
        const tool = `resources/read ${command.uri}`;
        const error: ErrorInfo = { code: 'CALL_FAILED', message: `the built-in files server has no resources (asked for ${command.uri})`, server: name };
        void Promise.resolve().then(() => {
          if (stopped) return;
          deps.publish({ type: 'server.call.error', server: name, callId: command.callId, tool, error, durationMs: 0, ...(task ? { task } : {}) });
          reply({ type: 'server.failed', server: name, callId: command.callId, error, durationMs: 0 }, command.replyTo);
        });
        return;
      }
      void callBuiltinFileTool(root, command.tool, command.args).then((result) => {
        if (stopped) return;
        const durationMs = performance.now() - started;
        deps.publish({ type: 'server.call.result', server: name, callId: command.callId, tool: command.tool, result, durationMs, ...(task ? { task } : {}) });
        reply({ type: 'server.result', server: name, callId: command.callId, result, durationMs }, command.replyTo);
      });
    });

    deps.publish({ type: 'server.state', server: name, replica: 1, state: 'ready', tools: TOOLS });
    sendBack({ type: 'server.ready', server: name, replica: 1, tools: TOOLS });

    return () => {
      stopped = true;
      deps.publish({ type: 'server.state', server: name, replica: 1, state: 'closed' });
    };
  });
}

export type BuiltinFilesActorLogic = ReturnType<typeof createBuiltinFilesActor>;

/**
 * Runs one built-in file tool, by any of its names, in the workspace `root`.
 * Never rejects: every failure is a result with `isError: true`.
 *
 * @example
 * await callBuiltinFileTool('/tmp/ws', 'Write', { file_path: 'a.md', content: 'hi' }) // text: 'wrote a.md (2 bytes)'
 */
export async function callBuiltinFileTool(root: string, tool: string, args: Record<string, unknown>): Promise<ToolResult> {
  const operation = toBuiltinFileTool(tool);
  if (!operation) {
    return toErrorResult(`unknown tool "${tool}": the built-in files server knows ${Object.keys(BUILTIN_FILE_ALIASES).join(', ')}`);
  }
  try {
    const input = typeof args === 'object' && args !== null ? args : {};
    switch (operation) {
      case 'read_file': {
        const path = readPath(tool, input);
        return toTextResult(await readWorkspaceFile(root, path, readLineOptions(tool, input)));
      }
      case 'write_file': {
        const path = readPath(tool, input);
        const written = await writeWorkspaceFile(root, path, readString(tool, input, 'content'));
        return toTextResult(`wrote ${path} (${written.bytes} bytes)`);
      }
      case 'edit_file': {
        const path = readPath(tool, input);
        const dryRun = readBoolean(tool, input, 'dryRun') ?? false;
        const edited = await editWorkspaceFile(root, path, readEdits(tool, input), { dryRun });
        const count = `${edited.replacements} replacement${edited.replacements === 1 ? '' : 's'}`;
        return toTextResult(dryRun ? `would edit ${path} (${count}; dry run, nothing written)` : `edited ${path} (${count})`);
      }
      case 'list_directory': {
        const path = input.path === undefined && input.file_path === undefined ? '.' : readPath(tool, input);
        const entries = await listWorkspaceDirectory(root, path);
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
