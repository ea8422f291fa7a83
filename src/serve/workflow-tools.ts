/**
 * `--workflows DIR`: every workflow file in the folder (`.yaml`, `.yml`,
 * `.json`) becomes one tool, `workflow__<name>` (the configured separator), whose input schema is the
 * workflow's declared `inputs`: a user defines a multi-server operation once
 * and calls it from any client as a single tool. The workflows run on the
 * aggregator's servers, which they use without declaring them.
 */
import { readdir } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import type { Tool } from '@modelcontextprotocol/sdk/types.js';
import type { ServerSpec, Workflow } from '../core/workflow.js';
import { toInputSchema } from '../workflow/bind-inputs.js';
import { readWorkflowFile } from '../workflow/read-workflow.js';
import { toExposedName, type NamingOptions } from './exposed-names.js';

/** The tools' "server": `workflow__<name>` with the default separator. */
export const WORKFLOW_TOOL_SERVER = 'workflow';

export interface WorkflowTool {
  tool: Tool;
  workflow: Workflow;
}

const WORKFLOW_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/**
 * Reads every workflow file of a folder, in name order. A file that is not
 * a valid workflow is left out and said through `log`, so one bad file does
 * not keep the others from being served.
 */
export async function readWorkflowTools(dir: string, servers: Readonly<Record<string, ServerSpec>>, naming: NamingOptions, log: (line: string) => void): Promise<Map<string, WorkflowTool>> {
  const folder = resolve(dir);
  const files = (await readdir(folder, { withFileTypes: true }))
    .filter((entry) => entry.isFile() && WORKFLOW_EXTENSIONS.has(extname(entry.name).toLowerCase()))
    .map((entry) => entry.name)
    .sort();
  const tools = new Map<string, WorkflowTool>();
  for (const file of files) {
    let workflow: Workflow;
    try {
      workflow = await readWorkflowFile(join(folder, file), { servers });
    } catch (error) {
      log(`workflow ${file} is not served: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    const own = Object.keys(workflow.servers).filter((name) => !Object.hasOwn(servers, name));
    if (own.length > 0) {
      log(`workflow ${file} is not served: it declares servers of its own (${own.join(', ')}); declare them in the serve config`);
      continue;
    }
    // Named like backend tools (and shortened the same way when too long or odd).
    const name = toExposedName(WORKFLOW_TOOL_SERVER, workflow.name, naming);
    if (tools.has(name)) {
      log(`workflow ${file} is not served: another workflow already has the tool name "${name}"`);
      continue;
    }
    tools.set(name, { tool: toWorkflowTool(name, file, workflow), workflow });
  }
  return tools;
}

function toWorkflowTool(name: string, file: string, workflow: Workflow): Tool {
  const tasks = workflow.tasks.map((task) => `${task.id} (${task.server}.${task.tool})`).join(', ');
  return {
    name,
    title: `Workflow ${workflow.name}`,
    description: `Runs the Ensemble workflow "${workflow.name}" (${file})${tasks ? `: ${tasks}` : ''}. Returns its output as text and its report as structured content.`,
    inputSchema: toInputSchema(workflow),
    annotations: { readOnlyHint: false, openWorldHint: true },
  };
}
