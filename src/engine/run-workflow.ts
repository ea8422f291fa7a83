/**
 * The one-call way to run a workflow from a Node service.
 */
import type { BusEvent } from '../core/bus-events.js';
import type { RunReport } from '../core/results.js';
import type { ServerSpec, Workflow } from '../core/workflow.js';
import { parseWorkflow } from '../workflow/parse-workflow.js';
import { readWorkflowFile } from '../workflow/read-workflow.js';
import { createRun, type RunOptions } from './create-run.js';

export interface RunWorkflowOptions extends RunOptions {
  /** Called with every bus event, in order, from the first. */
  onEvent?: (event: BusEvent) => void;
  /** For a workflow given as a plain object: the folder its relative paths resolve against (default: cwd). */
  dir?: string;
}

/** A validated `Workflow`, a path to a YAML/JSON file, or a plain workflow document. */
export type WorkflowSource = Workflow | string | Record<string, unknown>;

/**
 * Loads (if needed), validates and runs a workflow; resolves with the report.
 * Invalid input rejects with an `EnsembleError` before anything starts; a run
 * that fails resolves with `status: 'failed'` and every result so far.
 *
 * @example
 * const report = await runWorkflow('flows/copy.yaml', { onEvent: (e) => log(e.type) });
 * if (report.status === 'failed') console.error(report.error?.message);
 */
export async function runWorkflow(source: WorkflowSource, options: RunWorkflowOptions = {}): Promise<RunReport> {
  const workflow = await loadWorkflow(source, options.dir);
  const run = createRun(workflow, options);
  const subscription = options.onEvent ? run.events$.subscribe(options.onEvent) : undefined;
  try {
    return await run.start();
  } finally {
    subscription?.unsubscribe();
  }
}

/** Resolves any workflow source to a validated `Workflow`; `servers` are ones it may use without declaring (an ensemble's). */
export async function loadWorkflow(source: WorkflowSource, dir = process.cwd(), servers?: Readonly<Record<string, ServerSpec>>): Promise<Workflow> {
  const shared = servers ? { servers } : {};
  if (typeof source === 'string') return readWorkflowFile(source, shared);
  if (isValidated(source)) return source;
  return parseWorkflow(source, { dir, ...shared });
}

function isValidated(source: Workflow | Record<string, unknown>): source is Workflow {
  // A validated workflow has resolved server specs (with `kind`) and a timeout filled in.
  const servers = source.servers as Record<string, { kind?: unknown }> | undefined;
  return typeof source.timeoutMs === 'number' && typeof source.dir === 'string' && servers !== undefined && Object.values(servers).every((server) => server?.kind !== undefined);
}
