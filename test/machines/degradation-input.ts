/**
 * The server the degradation tests put behind the degradation machine:
 * primary `cc` (Claude Code's tools), falling back to the server `fs` and,
 * in some tests, to the built-in files.
 */
import type { DegradationInput } from '../../machines/degradation.machine.js';
import type { ErrorCode, ErrorInfo } from '../../src/core/errors.js';
import type { ToolInfo } from '../../src/core/results.js';
import type { FallbackSpec, StdioServerSpec } from '../../src/core/workflow.js';

export const stdio = (command: string, replicas = 1): StdioServerSpec => ({ kind: 'stdio', command, args: [], env: {}, cwd: '/tmp', replicas });

/** `fs` serves Write as write_file, mapping Claude Code's arguments. */
export const FS_FALLBACK: FallbackSpec = {
  kind: 'server',
  server: 'fs',
  tools: { Write: { tool: 'write_file', args: { path: '{{ args.file_path }}', content: '{{ args.content }}' } } },
};

/** The built-in files: no process, so ready from the start; they know Read and Write by name. */
export const BUILTIN_FILES: FallbackSpec = { kind: 'builtin', builtin: 'files', tools: {} };

/** What `cc` advertises while it serves: one tool `fs` maps, one only the built-in files know, one nothing else serves. */
export const CC_TOOLS: ToolInfo[] = [{ name: 'Write' }, { name: 'Read' }, { name: 'Bash' }];

export function createDegradationInput(chain: FallbackSpec[]): DegradationInput {
  return { name: 'cc', chain };
}

export const failure = (message: string, code: ErrorCode = 'SERVER_UNAVAILABLE', server = 'cc'): ErrorInfo => ({ code, message, server });
