/**
 * The server the degradation tests put behind the degradation machine:
 * primary `cc` (Claude Code's tools), falling back to the server `fs`.
 */
import type { DegradationInput } from '../../machines/degradation.machine.js';
import type { FallbackSpec, ServerSpec } from '../../src/core/workflow.js';

export const stdio = (command: string): ServerSpec => ({ kind: 'stdio', command, args: [], env: {}, cwd: '/tmp', replicas: 1 });

/** `fs` serves Write as write_file, mapping Claude Code's arguments. */
export const FS_FALLBACK: FallbackSpec = {
  kind: 'server',
  server: 'fs',
  tools: { Write: { tool: 'write_file', args: { path: '{{ args.file_path }}', content: '{{ args.content }}' } } },
};

export function createDegradationInput(fallback: FallbackSpec[]): DegradationInput {
  return {
    name: 'cc',
    runId: 'r',
    timeoutMs: 1000,
    workspace: '/tmp/ws',
    spec: { ...stdio('claude'), fallback, recovery: { initialDelayMs: 10, maxDelayMs: 100, factor: 2 }, idempotentTools: [] },
    servers: { cc: stdio('claude'), fs: stdio('fs') },
  };
}
