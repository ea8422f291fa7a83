/**
 * A workflow's declared `inputs`, given values: checked against their types,
 * defaults filled in, and bound into the `{{ inputs.<name> }}` placeholders
 * of task args and the output before the run starts (the run's own scope
 * holds only task results and context). Also the inputs as a JSON Schema,
 * for the tool `ensemble serve --workflows` lists the workflow as.
 */
import { EnsembleError } from '../core/errors.js';
import { getOwn } from '../core/own.js';
import { bindPlaceholders } from '../core/template.js';
import type { InputSpec, InputType, Workflow } from '../core/workflow.js';

/** True when a value has the JSON type an input declares. */
export function matchesInputType(value: unknown, type: InputType): boolean {
  switch (type) {
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'boolean':
      return typeof value === 'boolean';
    case 'array':
      return Array.isArray(value);
    case 'object':
      return value !== null && typeof value === 'object' && !Array.isArray(value);
  }
}

/**
 * The inputs as a tool's `inputSchema`: one property per input, required
 * when it has no default.
 *
 * @example
 * toInputSchema({ inputs: { city: { type: 'string', description: 'where' } } })
 * // { type: 'object', properties: { city: { type: 'string', description: 'where' } }, required: ['city'], additionalProperties: false }
 */
export function toInputSchema(workflow: Pick<Workflow, 'inputs'>): { type: 'object'; properties: Record<string, object>; required?: string[]; additionalProperties: false } {
  const properties: Record<string, object> = {};
  const required: string[] = [];
  for (const [name, spec] of Object.entries(workflow.inputs ?? {})) {
    properties[name] = { type: spec.type, ...(spec.description !== undefined ? { description: spec.description } : {}), ...(spec.default !== undefined ? { default: spec.default } : {}) };
    if (spec.default === undefined) required.push(name);
  }
  return { type: 'object', properties, ...(required.length > 0 ? { required } : {}), additionalProperties: false };
}

/**
 * Binds values to a workflow's inputs. Throws `EnsembleError('INVALID_ARGUMENTS')`
 * naming the input for a missing required input, a value of the wrong type
 * or a name the workflow does not declare (every problem at once).
 *
 * @example
 * const bound = bindInputs(workflow, { city: 'Oslo' })
 * bound.tasks[0].args // { q: 'weather in Oslo' } for args { q: 'weather in {{ inputs.city }}' }
 */
export function bindInputs(workflow: Workflow, given: Readonly<Record<string, unknown>> = {}): Workflow {
  const declared = workflow.inputs ?? {};
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const name of Object.keys(given)) {
    if (!Object.hasOwn(declared, name)) problems.push(`unknown input "${name}" (${describeInputs(declared)})`);
  }
  for (const [name, spec] of Object.entries(declared)) {
    const value = getOwn(given, name) ?? spec.default;
    if (value === undefined) problems.push(`input "${name}" is required (${spec.type})`);
    else if (!matchesInputType(value, spec.type)) problems.push(`input "${name}" must be ${article(spec.type)}, got ${describeValue(value)}`);
    else values[name] = value;
  }
  if (problems.length > 0) {
    const first = /"([^"]+)"/.exec(problems[0]!)?.[1];
    throw new EnsembleError('INVALID_ARGUMENTS', `workflow "${workflow.name}": ${problems.join('; ')}`, first !== undefined ? { field: `inputs.${first}` } : {});
  }
  if (Object.keys(declared).length === 0) return workflow;
  const scope = { inputs: values };
  // The bound workflow declares no inputs any more: its placeholders are filled, and binding it
  // again (a run binds whatever it is given) must not ask for them a second time.
  const { inputs: _bound, ...unbound } = workflow;
  return {
    ...unbound,
    tasks: workflow.tasks.map((task) => ({ ...task, args: bindPlaceholders(task.args, 'inputs', scope, { where: `task "${task.id}" args`, task: task.id }) })),
    ...(workflow.output !== undefined ? { output: bindPlaceholders(workflow.output, 'inputs', scope, { where: 'output' }) } : {}),
  };
}

function describeInputs(declared: Record<string, InputSpec>): string {
  const names = Object.keys(declared);
  return names.length > 0 ? `inputs: ${names.join(', ')}` : 'the workflow declares no inputs';
}

function article(type: InputType): string {
  return type === 'integer' || type === 'object' || type === 'array' ? `an ${type}` : `a ${type}`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}
