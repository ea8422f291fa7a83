/**
 * The tools of the built-in `files` fallback, and the names other servers
 * give the same operations, so `- builtin: files` can stand in for Claude
 * Code or the filesystem server without a mapping.
 */
import { getOwn } from './own.js';

export const BUILTIN_FILE_TOOLS = ['read_file', 'write_file', 'edit_file', 'list_directory'] as const;

export type BuiltinFileTool = (typeof BUILTIN_FILE_TOOLS)[number];

/** Tool names of well-known servers that the built-in operations understand as they are. */
export const BUILTIN_FILE_ALIASES: Readonly<Record<string, BuiltinFileTool>> = {
  // Claude Code (`claude mcp serve`): { file_path, content } / { file_path } / { file_path, old_string, new_string, replace_all }
  Write: 'write_file',
  Read: 'read_file',
  Edit: 'edit_file',
  // @modelcontextprotocol/server-filesystem: { path, content } / { path } / { path, edits: [{ oldText, newText }] }
  read_text_file: 'read_file',
  write_file: 'write_file',
  edit_file: 'edit_file',
  list_directory: 'list_directory',
  read_file: 'read_file',
};

/** The built-in operation a tool name stands for, if any. */
export function toBuiltinFileTool(tool: string): BuiltinFileTool | undefined {
  // Own keys only: a tool named `constructor` or `toString` is not a file operation.
  return getOwn(BUILTIN_FILE_ALIASES, tool);
}
