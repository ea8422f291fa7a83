/**
 * A task's arguments checked against its tool's `inputSchema` before the run starts, so a typo
 * in a workflow fails in milliseconds naming the task and field, not after the tasks before it
 * have run (or, with some servers, as a vague error from inside the tool).
 *
 * Only what is known before the run is checked: a top-level argument whose value holds a
 * placeholder (`{{ tasks.a.text }}`) counts as present with any value. Validation is the SDK's
 * own (its Ajv provider, the one it uses for output schemas), so Ensemble accepts exactly what a
 * direct SDK client would send. A schema that Ajv cannot compile is not checked: the server
 * stays the judge of its own arguments.
 */
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import type { JsonSchemaType, JsonSchemaValidator } from '@modelcontextprotocol/sdk/validation';
import { EnsembleError, type ErrorInfo } from '../core/errors.js';
import type { ToolInfo } from '../core/results.js';
import { hasPlaceholders } from '../core/template.js';
import type { TaskSpec } from '../core/workflow.js';

let validators: AjvJsonSchemaValidator | undefined;

/** The error for the first task (by position) whose literal arguments break its tool's schema. */
export function checkArguments(task: TaskSpec, index: number, tool: ToolInfo): ErrorInfo | undefined {
  const schema = tool.inputSchema;
  if (!schema || typeof schema !== 'object') return undefined;
  const templated = Object.keys(task.args).filter((key) => hasPlaceholders(task.args[key]));
  const validate = compile(templated.length === 0 ? schema : withAnyValueFor(schema, templated));
  if (!validate) return undefined;
  const args = templated.length === 0 ? task.args : { ...task.args, ...Object.fromEntries(templated.map((key) => [key, null])) };
  const result = validate(args);
  if (result.valid) return undefined;
  // Ajv names the value `data` ("data/path must be string"): in a workflow it is the task's args.
  const detail = (result.errorMessage ?? 'does not match').replace(/\bdata(?=[/ ])/g, 'args');
  return new EnsembleError('INVALID_ARGUMENTS', `task "${task.id}" (tasks[${index}].args): ${task.server}.${task.tool} ${detail}`, {
    task: task.id,
    server: task.server,
    field: `tasks[${index}].args`,
  }).toJSON();
}

function compile(schema: NonNullable<ToolInfo['inputSchema']>): JsonSchemaValidator<unknown> | undefined {
  validators ??= new AjvJsonSchemaValidator();
  try {
    // A server's schema is untyped JSON; whether it is a schema at all is Ajv's to say (compile
    // throws, caught below), as it is when the SDK checks a result against an outputSchema.
    const untrusted: object = schema;
    return validators.getValidator<unknown>(untrusted as JsonSchemaType);
  } catch {
    return undefined;
  }
}

/** The schema with each templated property allowed any value (a placeholder's value is unknown until the run). */
function withAnyValueFor(schema: NonNullable<ToolInfo['inputSchema']>, keys: string[]): NonNullable<ToolInfo['inputSchema']> {
  const properties = { ...(schema.properties ?? {}) };
  for (const key of keys) properties[key] = {};
  return { ...schema, properties };
}
