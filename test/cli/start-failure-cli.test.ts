/**
 * A server that fails to start, as `ensemble run` shows it: exit 1, the error printed once
 * (not once per replica, again for the run and again in the summary), and the error holds the
 * server's last stderr lines including the first error line (`Error: Cannot find module …`).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runEnsemble, writeWorkflowFile } from '../support/cli.js';
import { createTempDir } from '../support/fixture.js';

const temp = createTempDir('ensemble-start-failure-cli-');
afterAll(() => temp.remove());

const missing = join(temp.dir, 'missing-server.mjs');
const flow = writeWorkflowFile(
  temp.dir,
  'missing.json',
  JSON.stringify({
    name: 'missing',
    servers: { down: { command: process.execPath, args: [missing], replicas: 2 } },
    tasks: [{ id: 'a', server: 'down', tool: 'noop' }],
  }),
);

const count = (text: string, part: string) => text.split(part).length - 1;

describe('a server that fails to start', () => {
  it('is named once, with its first error line and its last stderr line, and the run exits 1', async () => {
    const result = await runEnsemble(temp.dir, 'run', flow);
    expect(result.code).toBe(1);
    expect(count(result.stderr, `Error: Cannot find module '${missing}'`), result.stderr).toBe(1);
    expect(count(result.stderr, 'server "down" failed to start'), result.stderr).toBe(1);
    expect(result.stderr).toMatch(/Node\.js v\d+/);
    expect(result.stderr).toMatch(/^■ failed$/m);
  });

  it('is named once with --quiet too (in the summary)', async () => {
    const result = await runEnsemble(temp.dir, 'run', flow, '--quiet');
    expect(result.code).toBe(1);
    expect(count(result.stderr, `Error: Cannot find module '${missing}'`), result.stderr).toBe(1);
  });
});
