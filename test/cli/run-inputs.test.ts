/**
 * A workflow's declared inputs, given to `ensemble run --inputs` and to `runWorkflow`: bound before
 * any server starts; a missing or mistyped input is INVALID_ARGUMENTS (exit 2) naming it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { runWorkflow } from '../../src/index.js';
import { runEnsemble, writeWorkflowFile } from '../support/cli.js';
import { createTempDir, fixtureServer } from '../support/fixture.js';

const temp = createTempDir('ensemble-inputs-');
afterAll(() => temp.remove());

const document = {
  name: 'greet',
  inputs: { name: { type: 'string' }, times: { type: 'integer', default: 2 } },
  servers: { fx: fixtureServer() },
  tasks: [{ id: 'hello', server: 'fx', tool: 'echo', args: { text: 'hello {{ inputs.name }} ×{{ inputs.times }}' } }],
};
const file = writeWorkflowFile(temp.dir, 'greet.json', JSON.stringify(document));

describe('workflow inputs outside serve', () => {
  it('ensemble run --inputs binds them, defaults included', async () => {
    const result = await runEnsemble(temp.dir, 'run', file, '--inputs', '{"name":"Ada"}', '--quiet');
    expect(result).toMatchObject({ code: 0, stdout: 'hello Ada ×2\n' });
  });

  it('a missing input exits 2 naming it, and --inputs that is not a JSON object is a usage error', async () => {
    const missing = await runEnsemble(temp.dir, 'run', file, '--json');
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout)).toMatchObject({ error: { code: 'INVALID_ARGUMENTS', field: 'inputs.name' } });
    const bad = await runEnsemble(temp.dir, 'run', file, '--inputs', '[1]');
    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--inputs: expected a JSON object') });
  });

  it('runWorkflow takes them as an option', async () => {
    const report = await runWorkflow(document, { inputs: { name: 'Grace', times: 3 } });
    expect(report.output).toBe('hello Grace ×3');
    await expect(runWorkflow(document, { inputs: { name: 'Grace', times: 'three' } })).rejects.toThrow(/input "times" must be an integer/);
  });
});
