/**
 * A workflow given to `ensemble_explain` or `ensemble_run`: an object, or
 * YAML / JSON text (YAML reads JSON too), validated against the
 * aggregator's servers, which it may use without declaring them.
 */
import { EnsembleError } from '../core/errors.js';
import type { ServerSpec, Workflow } from '../core/workflow.js';
import { parseWorkflow } from '../workflow/parse-workflow.js';
import { MAX_WORKFLOW_BYTES, MAX_YAML_ALIAS_COUNT } from '../workflow/read-workflow.js';

export interface WorkflowArgumentContext {
  /** The aggregator's servers. */
  servers: Readonly<Record<string, ServerSpec>>;
  /** Folder relative paths in the workflow resolve against. */
  dir: string;
}

/** The JSON Schema of the `workflow` argument. */
export const WORKFLOW_ARGUMENT_SCHEMA = {
  description: 'A workflow, as an object or as YAML/JSON text: tasks (and an output template) over the servers behind this aggregator, which it may use without declaring them.',
  anyOf: [{ type: 'object' }, { type: 'string' }],
} as const;

/** Throws `EnsembleError` (`USAGE`, `YAML_SYNTAX`, `INVALID_WORKFLOW`) for anything that is not a valid workflow. */
export async function readWorkflowArgument(context: WorkflowArgumentContext, value: unknown): Promise<Workflow> {
  const document = typeof value === 'string' ? await parseText(value) : value;
  if (document === null || typeof document !== 'object' || Array.isArray(document)) {
    throw new EnsembleError('USAGE', 'the "workflow" argument must be a workflow object or its YAML/JSON text', { field: 'workflow' });
  }
  const workflow = parseWorkflow(document, { dir: context.dir, servers: context.servers });
  // Servers a workflow declared itself would join the shared directory and show up as tools of every session.
  const own = Object.keys(workflow.servers).filter((name) => !Object.hasOwn(context.servers, name));
  if (own.length > 0) {
    throw new EnsembleError('INVALID_WORKFLOW', `a workflow run through ensemble serve uses the aggregator's servers (${Object.keys(context.servers).join(', ')}); declare ${own.join(', ')} in the serve config instead`, { field: 'servers' });
  }
  return workflow;
}

async function parseText(text: string): Promise<unknown> {
  // Untrusted text: bounded like a workflow file.
  if (text.length > MAX_WORKFLOW_BYTES) throw new EnsembleError('INVALID_WORKFLOW', `the workflow text is longer than ${MAX_WORKFLOW_BYTES} characters`, { field: 'workflow' });
  const yaml = await import('yaml');
  const document = yaml.parseDocument(text);
  const [error] = document.errors;
  if (error) throw new EnsembleError('YAML_SYNTAX', `workflow: ${error.message.split('\n')[0] ?? error.message}`, { field: 'workflow', cause: error });
  try {
    return document.toJS({ maxAliasCount: MAX_YAML_ALIAS_COUNT });
  } catch (cause) {
    throw new EnsembleError('YAML_SYNTAX', `workflow: ${cause instanceof Error ? cause.message : String(cause)}`, { field: 'workflow', cause });
  }
}
