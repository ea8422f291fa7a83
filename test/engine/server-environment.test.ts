/**
 * A server does not see Ensemble's environment: it gets the SDK's default
 * allowlist (HOME, PATH, …) plus its declared `env`; `passEnv` passes named
 * variables and `inheritEnv: true` passes them all. Checked with the
 * fixture's `env` tool, which reports the server's real environment.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runWorkflow } from '../../src/index.js';
import { fixtureServer } from '../support/fixture.js';

const SECRET = 'ENSEMBLE_TEST_SECRET';

beforeEach(() => {
  process.env[SECRET] = 'hunter2';
});
afterEach(() => {
  delete process.env[SECRET];
});

async function serverEnvironment(server: Record<string, unknown>): Promise<Record<string, string>> {
  const report = await runWorkflow({ name: 'env', servers: { fx: { ...fixtureServer(), ...server } }, tasks: [{ id: 'env', server: 'fx', tool: 'env' }] });
  expect(report.status).toBe('completed');
  return report.tasks[0]!.json as Record<string, string>;
}

describe('server environment', () => {
  it('regression: a secret in Ensemble\'s environment is not passed to a server by default; HOME and PATH are', async () => {
    const env = await serverEnvironment({ env: { DECLARED: 'yes' } });
    expect(env).not.toHaveProperty(SECRET);
    expect(env.DECLARED).toBe('yes');
    expect(env.PATH).toBe(process.env.PATH);
    expect(env.HOME).toBe(process.env.HOME);
  });

  it('passes the variables named in passEnv, and only those', async () => {
    const env = await serverEnvironment({ passEnv: [SECRET, 'ENSEMBLE_NOT_SET_ANYWHERE'] });
    expect(env[SECRET]).toBe('hunter2');
    expect(env).not.toHaveProperty('ENSEMBLE_NOT_SET_ANYWHERE');
  });

  it('passes the whole environment with inheritEnv: true, declared env winning', async () => {
    const env = await serverEnvironment({ inheritEnv: true, env: { [SECRET]: 'declared' } });
    expect(env[SECRET]).toBe('declared');
    const sample = Object.keys(process.env).find((name) => name !== SECRET && !name.startsWith('npm_') && process.env[name] !== undefined);
    if (sample) expect(env[sample]).toBe(process.env[sample]);
  });

  it('refuses a passEnv entry that is not a variable name, naming the field', async () => {
    await expect(
      runWorkflow({ name: 'bad', servers: { fx: { ...fixtureServer(), passEnv: ['NOT A NAME'] } }, tasks: [{ id: 't', server: 'fx', tool: 'noop' }] }),
    ).rejects.toMatchObject({ code: 'INVALID_WORKFLOW', field: 'servers.fx.passEnv[0]' });
  });
});
