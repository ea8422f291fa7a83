/**
 * Which step of a fallback chain serves a call, and with what arguments.
 * Pure: the call router (src/engine/call-router.ts) asks it for every call it reroutes while the
 * degradation machine says a primary is down; the machine uses it to name the live step and the
 * tools that step cannot serve.
 */
import { toBuiltinFileTool } from '../src/core/builtin-files.js';
import { toErrorInfo, type ErrorCode, type ErrorInfo } from '../src/core/errors.js';
import { getOwn } from '../src/core/own.js';
import type { ToolInfo } from '../src/core/results.js';
import { renderValue } from '../src/core/template.js';
import type { FallbackSpec } from '../src/core/workflow.js';

export interface Route {
  /** Index of the step in the chain. */
  step: number;
  tool: string;
  args: Record<string, unknown>;
}

/** A step that serves the tool but cannot map this call's arguments (its mapping reads one the call lacks). */
export interface RouteError {
  step: number;
  error: ErrorInfo;
}

/** The name a step goes by in notifications and in a task's `servedBy`. */
export function describeStep(step: FallbackSpec): string {
  return step.kind === 'server' ? step.server : 'builtin:files';
}

/** Whether a step can serve a tool: a mapped tool, or (built-in files) a file tool it knows by name. */
export function canServe(step: FallbackSpec, tool: string): boolean {
  return Object.hasOwn(step.tools, tool) || (step.kind === 'builtin' && toBuiltinFileTool(tool) !== undefined);
}

/**
 * The first ready step able to serve the tool, with the call's arguments
 * mapped (`{{ args.x }}` reads the original call's). Undefined: nothing can.
 */
export function routeCall(chain: readonly FallbackSpec[], ready: readonly boolean[], tool: string, args: Record<string, unknown>): Route | RouteError | undefined {
  for (const [index, step] of chain.entries()) {
    if (!ready[index] || !canServe(step, tool)) continue;
    const mapping = getOwn(step.tools, tool);
    if (!mapping) return { step: index, tool, args };
    if (mapping.args === undefined) return { step: index, tool: mapping.tool, args };
    try {
      return { step: index, tool: mapping.tool, args: renderValue(mapping.args, { args }, { where: `fallback ${describeStep(step)} for ${tool}` }) };
    } catch (error) {
      return { step: index, error: toErrorInfo(error, { code: 'TEMPLATE', server: describeStep(step) }) };
    }
  }
  return undefined;
}

/** The tools a server advertises while degraded: every tool some ready step can serve. */
export function listServedTools(chain: readonly FallbackSpec[], ready: readonly boolean[], primaryTools: readonly ToolInfo[]): ToolInfo[] {
  const names = new Set<string>();
  for (const [index, step] of chain.entries()) {
    if (!ready[index]) continue;
    for (const tool of Object.keys(step.tools)) names.add(tool);
    if (step.kind === 'builtin') for (const tool of primaryTools) if (toBuiltinFileTool(tool.name)) names.add(tool.name);
  }
  // A primary that never started has no tool list: the built-in aliases stand for themselves.
  if (primaryTools.length === 0 && chain.some((step, index) => step.kind === 'builtin' && ready[index])) {
    for (const name of ['Read', 'Write', 'Edit', 'read_text_file', 'read_file', 'write_file', 'edit_file', 'list_directory']) names.add(name);
  }
  return [...names].map((name) => ({ name }));
}

/** Primary tools no ready step can serve: the reduced functionality to announce. */
export function listUnservedTools(chain: readonly FallbackSpec[], ready: readonly boolean[], primaryTools: readonly ToolInfo[]): string[] {
  return primaryTools.map((tool) => tool.name).filter((name) => !chain.some((step, index) => ready[index] && canServe(step, name)));
}

/** Errors that mean the server, not the call, is the trouble: worth a fallback. */
const UNAVAILABLE_CODES: ReadonlySet<ErrorCode> = new Set(['SERVER_UNAVAILABLE', 'SERVER_START_FAILED', 'CALL_TIMEOUT', 'HEALTH_CHECK_FAILED', 'CIRCUIT_OPEN']);

export function isUnavailability(code: ErrorCode): boolean {
  return UNAVAILABLE_CODES.has(code);
}
