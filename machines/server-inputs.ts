/**
 * How coordinating machines start a server: plain, or behind the degradation
 * machine when it declares a fallback chain.
 */
import type { ServerActorInput } from '../src/core/server-port.js';
import type { ServerSpec, Workflow } from '../src/core/workflow.js';
import type { DegradationInput } from './degradation.machine.js';

export function needsDegradation(spec: ServerSpec): boolean {
  return (spec.fallback?.length ?? 0) > 0;
}

export function toServerInput(workflow: Workflow, runId: string, name: string, replica: number): ServerActorInput | DegradationInput {
  const spec = workflow.servers[name]!;
  const input: ServerActorInput = { name, replica, spec, runId, timeoutMs: workflow.timeoutMs };
  if (!needsDegradation(spec)) return input;
  return { ...input, servers: workflow.servers, workspace: workflow.workspace ?? workflow.dir };
}

/** The notification a skipped optional task gives: reduced functionality, said plainly. */
export function describeOptionalSkip(task: { id: string; server: string; tool: string }, reason: string): string {
  return `reduced functionality: optional task "${task.id}" (${task.server}.${task.tool}) skipped: ${reason}`;
}
