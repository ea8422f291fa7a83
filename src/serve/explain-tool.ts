/**
 * `ensemble_explain`: what the pattern selection guide makes of a workflow
 * (the primary pattern, the ones alongside it, the reasons, the parallel
 * groups) without running it.
 */
import type { CallToolResult, Tool } from '@modelcontextprotocol/sdk/types.js';
import { selectPattern } from '../planning/select-pattern.js';
import type { Workflow } from '../core/workflow.js';
import { WORKFLOW_ARGUMENT_SCHEMA } from './workflow-argument.js';

export const EXPLAIN_TOOL_NAME = 'ensemble_explain';

export const EXPLAIN_TOOL: Tool = {
  name: EXPLAIN_TOOL_NAME,
  title: 'Explain a workflow',
  description: 'How Ensemble would run a workflow over the servers behind this aggregator: the coordination pattern it picks, why, and which tasks run together. Nothing is run.',
  inputSchema: { type: 'object', properties: { workflow: WORKFLOW_ARGUMENT_SCHEMA }, required: ['workflow'] },
  outputSchema: {
    type: 'object',
    properties: {
      workflow: { type: 'string' },
      pattern: { type: 'string' },
      with: { type: 'array', items: { type: 'string' } },
      reasons: { type: 'array', items: { type: 'string' } },
      groups: { type: 'array', items: { type: 'array', items: { type: 'string' } } },
      servers: { type: 'array', items: { type: 'string' } },
    },
    required: ['workflow', 'pattern', 'with', 'reasons', 'groups', 'servers'],
  },
  annotations: { readOnlyHint: true, openWorldHint: false },
};

export function explainWorkflow(workflow: Workflow): CallToolResult {
  const choice = selectPattern(workflow);
  const explanation = { workflow: workflow.name, pattern: choice.pattern, with: choice.with, reasons: choice.reasons, groups: choice.groups, servers: choice.servers };
  const groups = choice.groups.map((group, index) => `  ${index + 1}. ${group.join(', ')}`).join('\n');
  const text = [`pattern: ${choice.pattern}${choice.with.length > 0 ? ` (with ${choice.with.join(', ')})` : ''}`, ...choice.reasons.map((reason) => `- ${reason}`), 'groups:', groups].join('\n');
  return { content: [{ type: 'text', text }], structuredContent: explanation };
}
