/**
 * Running a workflow for a client, over the aggregator's shared backends
 * (its server directory): `ensemble_run` and every `workflow__<name>` tool.
 * With a progress token the client hears one progress notification per
 * finished task; its cancellation cancels the run; the result is the run's
 * report as `structuredContent`, its output as text, `isError` when it failed.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import type { RunReport } from '../core/results.js';
import type { Workflow } from '../core/workflow.js';
import { createRun } from '../engine/create-run.js';
import type { ServerDirectory } from '../engine/server-directory.js';
import type { HandlerExtra } from './forward-tool-call.js';
import { WORKFLOW_ARGUMENT_SCHEMA } from './workflow-argument.js';

export const RUN_TOOL_NAME = 'ensemble_run';

export const RUN_TOOL: Tool = {
  name: RUN_TOOL_NAME,
  title: 'Run a workflow',
  description:
    'Runs a workflow over the servers behind this aggregator and returns its report (the output as text, every task as structured content). Reports progress per task when given a progress token; cancelling the call cancels the run.',
  inputSchema: {
    type: 'object',
    properties: { workflow: WORKFLOW_ARGUMENT_SCHEMA, inputs: { type: 'object', description: "Values for the workflow's declared inputs." } },
    required: ['workflow'],
  },
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
};

export async function runForClient(directory: ServerDirectory, workflow: Workflow, extra: HandlerExtra): Promise<CallToolResult> {
  const run = createRun(workflow, { directory, signal: extra.signal });
  const token = extra._meta?.progressToken;
  let total = workflow.tasks.length;
  let done = 0;
  let sending: Promise<unknown> = Promise.resolve();
  const subscription =
    token === undefined
      ? undefined
      : run.events$.subscribe((event) => {
          // A planner's breakdown is only known once it is made.
          if (event.type === 'run.breakdown') total = event.tasks.length;
          if (event.type !== 'task.completed' && event.type !== 'task.failed' && event.type !== 'task.skipped') return;
          done++;
          const message = `task "${event.task.id}" ${event.type.slice('task.'.length)}`;
          const params = { progressToken: token, progress: done, total, message };
          sending = sending.then(() => extra.sendNotification({ method: 'notifications/progress', params })).catch(() => undefined);
        });
  try {
    const report = await run.start();
    // A client drops progress that arrives after the result.
    await sending;
    return toRunResult(report);
  } finally {
    subscription?.unsubscribe();
  }
}

export function toRunResult(report: RunReport): CallToolResult {
  const failed = report.status === 'failed';
  const text = failed ? `run ${report.status}: ${report.error?.message ?? 'a task failed'}${report.output ? `\n${report.output}` : ''}` : report.output;
  return { content: [{ type: 'text', text }], structuredContent: { ...report }, ...(failed ? { isError: true } : {}) };
}
