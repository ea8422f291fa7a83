/**
 * What a server that fails to start says about itself: the clue from its
 * stderr (including the first error line, which a stack trace pushes out of
 * the tail), the limit and setting when it never answers `initialize`, and
 * never a secret from its command line.
 */
import { describe, expect, it } from 'vitest';
import { listLiveGroups } from '../../actors/process-group.js';
import { runWorkflow } from '../../src/index.js';
import { createTempDir } from '../support/fixture.js';

async function startError(server: Record<string, unknown>, timeoutMs?: number) {
  const report = await runWorkflow({ name: 'start', ...(timeoutMs ? { timeoutMs } : {}), servers: { broken: server }, tasks: [{ id: 't', server: 'broken', tool: 'noop' }] });
  expect(report.status).toBe('failed');
  expect(listLiveGroups()).toEqual([]);
  return report.error;
}

describe('start-up failures', () => {
  it("regression: a server whose script is missing shows Node's `Error: Cannot find module` line, not only the stack's tail", async () => {
    const work = createTempDir();
    const error = await startError({ command: process.execPath, args: [`${work.dir}/missing-server.js`] });
    work.remove();
    expect(error).toMatchObject({ code: 'SERVER_START_FAILED', server: 'broken' });
    expect(error?.message).toContain("Error: Cannot find module '");
    expect(error?.message).toContain('Node.js v');
  });

  it('regression: a server that never answers initialize names the limit and the setting', async () => {
    const error = await startError({ command: process.execPath, args: ['-e', 'setInterval(() => {}, 1000)'], timeoutMs: 1000 });
    expect(error).toMatchObject({ code: 'SERVER_START_FAILED', server: 'broken' });
    expect(error?.message).toContain('server "broken" did not answer initialize within 1000 ms (servers.broken.timeoutMs)');
  });

  it('regression: a failed start does not print the tokens on its command line', async () => {
    const error = await startError({
      command: process.execPath,
      args: ['-e', 'process.exit(4)', '--', '--api-key', 'sk-ant-api03-verysecretvalue', '--url=https://me:hunter2@example.com/?token=abc123'],
    });
    expect(error?.message).toContain('process exited with code 4');
    for (const secret of ['verysecretvalue', 'hunter2', 'abc123']) expect(error?.message).not.toContain(secret);
    expect(error?.message).toContain('--api-key ***');
  });
});
