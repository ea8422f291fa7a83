/**
 * A workflow's declared `inputs`: validated with the document, referenced as
 * `{{ inputs.x }}` in task args and the output, bound before a run.
 */
import { describe, expect, it } from 'vitest';
import { bindInputs, toInputSchema } from '../../src/workflow/bind-inputs.js';
import { parseWorkflow } from '../../src/workflow/parse-workflow.js';

const servers = { fx: { command: 'node', args: ['fx.mjs'] } };
const parse = (doc: Record<string, unknown>) => parseWorkflow({ servers, ...doc }, { file: 'wf.yaml', dir: '/tmp' });

describe('workflow inputs', () => {
  const workflow = parse({
    inputs: { city: { type: 'string', description: 'where' }, days: { type: 'integer', default: 3 } },
    tasks: [
      { id: 'a', server: 'fx', tool: 'echo', args: { text: 'weather in {{ inputs.city }} for {{ inputs.days }} days', n: '{{ inputs.days }}' } },
      { id: 'b', server: 'fx', tool: 'echo', args: { text: '{{ tasks.a.text }} ({{ inputs.city }})' } },
    ],
    output: '{{ inputs.city }}: {{ tasks.b.text }}',
  });

  it('binds values into task args and the output, leaving task placeholders for the run', () => {
    const bound = bindInputs(workflow, { city: 'Oslo' });
    expect(bound.tasks[0]!.args).toEqual({ text: 'weather in Oslo for 3 days', n: 3 });
    expect(bound.tasks[1]!.args).toEqual({ text: '{{ tasks.a.text }} (Oslo)' });
    expect(bound.output).toBe('Oslo: {{ tasks.b.text }}');
  });

  it('keeps a value that looks like a placeholder as text (escaped), so it cannot read results', () => {
    const bound = bindInputs(workflow, { city: '{{ tasks.a.text }}' });
    expect(bound.tasks[1]!.args).toEqual({ text: '{{ tasks.a.text }} (\\{{ tasks.a.text }})' });
  });

  it('names the input that is missing, of the wrong type or unknown', () => {
    expect(() => bindInputs(workflow, {})).toThrow(/input "city" is required/);
    expect(() => bindInputs(workflow, { city: 'x', days: 1.5 })).toThrow(/input "days" must be an integer/);
    expect(() => bindInputs(workflow, { city: 'x', town: 'y' })).toThrow(/unknown input "town"/);
  });

  it('gives the inputs as a JSON Schema, required when there is no default', () => {
    expect(toInputSchema(workflow)).toEqual({
      type: 'object',
      properties: { city: { type: 'string', description: 'where' }, days: { type: 'integer', default: 3 } },
      required: ['city'],
      additionalProperties: false,
    });
  });

  it('rejects a placeholder naming an undeclared input, naming the field', () => {
    expect(() => parse({ inputs: { city: { type: 'string' } }, tasks: [{ id: 'a', server: 'fx', tool: 'echo', args: { text: '{{ inputs.town }}' } }] })).toThrow(
      'wf.yaml: tasks[0].args.text: {{ inputs.town }} refers to unknown input "town" (inputs: city)',
    );
    expect(() => parse({ tasks: [{ id: 'a', server: 'fx', tool: 'echo', args: {} }], output: '{{ inputs.x }}' })).toThrow(/output: \{\{ inputs.x \}\} refers to unknown input "x" \(the workflow declares no inputs\)/);
  });

  it('rejects an input type it does not know and a default of the wrong type', () => {
    expect(() => parse({ inputs: { n: { type: 'float' } }, tasks: [{ id: 'a', server: 'fx', tool: 'echo', args: {} }] })).toThrow(/inputs\.n\.type/);
    expect(() => parse({ inputs: { n: { type: 'number', default: 'x' } }, tasks: [{ id: 'a', server: 'fx', tool: 'echo', args: {} }] })).toThrow(/inputs\.n\.default: the default of a number input must be a number/);
  });
});
