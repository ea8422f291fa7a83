/**
 * `ensemble explain <file> [--json] [--pattern <p>]`: how a workflow would
 * run, without running it: the pattern the selection guide picks and why,
 * the parallel groups, and the servers.
 */
import process from 'node:process';
import { EnsembleError, toErrorInfo } from '../core/errors.js';
import { getOwn } from '../core/own.js';
import type { Workflow } from '../core/workflow.js';
import { isRunPattern, RUN_PATTERNS, selectPattern, type PatternChoice, type SelectPatternOptions } from '../planning/select-pattern.js';
import { defineCliCommand } from './cli-command.js';
import { exitCodeOfError } from './exit-codes.js';
import { formatError } from './format-error.js';

export const explainCommand = defineCliCommand({
  name: 'explain',
  usage: 'explain <file> [options]',
  summary: 'Show which pattern a workflow would run with, and why, without starting anything',
  options: {
    file: { type: 'positional', description: 'the workflow file', required: true },
    json: { type: 'boolean', description: 'print exactly one JSON object on stdout' },
    // A string checked here rather than a citty enum: the same message and exit status as `run --pattern`.
    pattern: { type: 'string', valueHint: 'name', description: `force the primary pattern: ${listChoices(RUN_PATTERNS)}` },
  },
  examples: ['ensemble explain flow.yaml', 'ensemble explain flow.yaml --pattern parallel --json'],
  async run(args) {
    let workflow: Workflow;
    let choice: PatternChoice;
    try {
      const options: SelectPatternOptions = args.pattern === undefined ? {} : { force: readForcedPattern(args.pattern) };
      // Loaded here, not with the definition: `explain --help` needs no zod or yaml.
      const { readWorkflowFile } = await import('../workflow/read-workflow.js');
      workflow = await readWorkflowFile(args.file);
      choice = selectPattern(workflow, options);
    } catch (error) {
      const info = toErrorInfo(error);
      if (args.json) process.stdout.write(`${JSON.stringify({ pattern: null, with: [], reasons: [], groups: [], error: info })}\n`);
      else process.stderr.write(`${formatError(info)}\n`);
      process.exitCode = exitCodeOfError(error);
      return;
    }
    if (args.json) process.stdout.write(`${JSON.stringify(choice)}\n`);
    else process.stdout.write(formatExplanation(choice, workflow));
  },
});

function readForcedPattern(value: string): SelectPatternOptions['force'] {
  if (isRunPattern(value)) return value;
  throw new EnsembleError('USAGE', `--pattern: expected ${listChoices(RUN_PATTERNS)}, got "${value}"`, { field: '--pattern' });
}

/** `a, b or c` */
function listChoices(values: readonly string[]): string {
  return values.length > 1 ? `${values.slice(0, -1).join(', ')} or ${values.at(-1)}` : values.join('');
}

/**
 * The human reading of a pattern choice, one item a line.
 *
 * @example
 * formatExplanation(selectPattern(workflow), workflow)
 * // pattern: parallel
 * // with: multi-server
 * // reasons:
 * //   - group 1 holds 2 independent tasks (a, b)
 * //   - tasks use 2 servers (fs, api)
 * // groups:
 * //   group 1: a, b
 * //   group 2: c
 * // servers:
 * //   fs (3 replicas)
 * //   api
 */
export function formatExplanation(choice: PatternChoice, workflow: Workflow): string {
  const lines = [`pattern: ${choice.pattern}`, `with: ${choice.with.length > 0 ? choice.with.join(', ') : 'none'}`, 'reasons:'];
  for (const reason of choice.reasons) lines.push(`  - ${reason}`);
  lines.push(choice.groups.length > 0 ? 'groups:' : 'groups: none');
  choice.groups.forEach((group, index) => lines.push(`  group ${index + 1}: ${group.join(', ')}`));
  lines.push('servers:');
  for (const name of choice.servers) {
    const replicas = getOwn(workflow.servers, name)?.replicas ?? 1;
    lines.push(`  ${name}${replicas > 1 ? ` (${replicas} replicas)` : ''}`);
  }
  return `${lines.join('\n')}\n`;
}
