/**
 * What a backend's fallback serves while it is down stays listed, and calls
 * to it are served by the fallback (through the directory's call router, with
 * its tool and argument mapping).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, FIXTURE_SERVER } from '../support/fixture.js';
import { connectStdio, namesOf, textOf, writeConfig, type WatchedClient } from './serve-client.js';

describe('ensemble serve with a fallback chain', () => {
  const temp = createTempDir('ensemble-serve-fallback-');
  let served: WatchedClient;

  beforeAll(async () => {
    const config = writeConfig(temp.dir, {
      servers: {
        primary: {
          command: process.execPath,
          args: [FIXTURE_SERVER, '--name', 'primary'],
          allow: ['echo', 'pids'],
          fallback: [{ server: 'backup', tools: { echo: { tool: 'echo', args: { text: 'backup says {{ args.text }}' } } } }],
          // Stays down for the test: what serves is the fallback, not a restart.
          recovery: { initialDelayMs: 600_000 },
        },
        backup: { command: process.execPath, args: [FIXTURE_SERVER, '--name', 'backup'], allow: ['noop'] },
      },
    });
    served = await connectStdio(config);
  });

  afterAll(async () => {
    await served?.close();
    temp.remove();
  });

  it('keeps listing what the fallback serves while the backend is down, and routes calls to it', async () => {
    expect(textOf(await served.client.callTool({ name: 'primary__echo', arguments: { text: 'hi' } }))).toBe('hi');
    const { pid } = JSON.parse(textOf(await served.client.callTool({ name: 'primary__pids', arguments: {} }))) as { pid: number };
    const before = served.listChanged();
    process.kill(pid, 'SIGKILL');

    const degraded = await served.waitForTools((tools) => !namesOf(tools).includes('primary__pids'));
    expect(namesOf(degraded).sort()).toEqual(['backup__noop', 'ensemble_explain', 'ensemble_run', 'ensemble_status', 'primary__echo']);
    // Never listed without it on the way (no flicker between the death and the withdrawal).
    for (const list of served.history) expect(namesOf(list)).toContain('primary__echo');
    // The schema is still the primary's own.
    expect(degraded.find((tool) => tool.name === 'primary__echo')?.inputSchema).toMatchObject({ properties: { text: { type: 'string' } } });
    expect(textOf(await served.client.callTool({ name: 'primary__echo', arguments: { text: 'hi' } }))).toBe('backup says hi');
    // One change, one notification (read before the reply above, which came after it on the same stream).
    expect(served.listChanged() - before).toBe(1);
    const refused = await served.client.callTool({ name: 'primary__pids', arguments: {} });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/server "primary"/);
  });
});
