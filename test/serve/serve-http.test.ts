/**
 * `ensemble serve --http`: Streamable HTTP at /mcp, one session per client,
 * every session over the same backends (one of them itself an HTTP server,
 * given as `mcpServers` `{ type: "http", url }`).
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, FIXTURE_SERVER, isProcessAlive } from '../support/fixture.js';
import { connectHttp, EVERYTHING, namesOf, startHttpServe, textOf, writeConfig, type WatchedClient } from './serve-client.js';

describe('ensemble serve over Streamable HTTP', () => {
  const temp = createTempDir('ensemble-serve-http-');
  const httpBackend = spawn(process.execPath, [FIXTURE_SERVER, '--http', '0', '--name', 'remote'], { stdio: ['ignore', 'pipe', 'ignore'] });
  let serve: Awaited<ReturnType<typeof startHttpServe>>;
  let alice: WatchedClient;
  let bob: WatchedClient;

  beforeAll(async () => {
    const backendUrl = await new Promise<string>((resolve) => {
      createInterface({ input: httpBackend.stdout! }).on('line', (line) => {
        const match = /^listening (\S+)$/.exec(line);
        if (match) resolve(match[1]!);
      });
    });
    const config = writeConfig(temp.dir, {
      mcpServers: {
        remote: { type: 'http', url: backendUrl, allow: ['echo'] },
        everything: { command: process.execPath, args: [EVERYTHING, 'stdio'], allow: ['echo', 'get-sum'] },
        victim: { command: process.execPath, args: [FIXTURE_SERVER], allow: ['echo', 'pids'] },
      },
    });
    serve = await startHttpServe(config);
    [alice, bob] = await Promise.all([connectHttp(serve.url), connectHttp(serve.url)]);
  });

  afterAll(async () => {
    await Promise.allSettled([alice?.close(), bob?.close()]);
    await serve?.stop();
    httpBackend.kill('SIGTERM');
    temp.remove();
  });

  it('serves the same backends to every session, an HTTP backend among them', async () => {
    for (const client of [alice, bob]) {
      expect(namesOf(client.tools()).sort()).toEqual(['ensemble_explain', 'ensemble_run', 'ensemble_status', 'everything__echo', 'everything__get-sum', 'remote__echo', 'victim__echo', 'victim__pids']);
    }
    expect(textOf(await alice.client.callTool({ name: 'remote__echo', arguments: { text: 'over two hops of HTTP' } }))).toBe('over two hops of HTTP');
    expect(textOf(await bob.client.callTool({ name: 'everything__echo', arguments: { message: 'hi' } }))).toContain('hi');
  });

  it('answers a body that is not JSON with a JSON-RPC parse error, and keeps serving', async () => {
    const response = await fetch(serve.url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{ not json' });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32700 } });
    expect(textOf(await alice.client.callTool({ name: 'victim__echo', arguments: { text: 'still serving' } }))).toBe('still serving');
  });

  it('tells every session when a backend dies and when it is back', async () => {
    const { pid } = JSON.parse(textOf(await alice.client.callTool({ name: 'victim__pids', arguments: {} }))) as { pid: number };
    const before = [alice.listChanged(), bob.listChanged()];
    process.kill(pid, 'SIGKILL');
    await Promise.all([alice, bob].map((client) => client.waitForTools((tools) => !namesOf(tools).includes('victim__echo'))));
    expect([alice.listChanged(), bob.listChanged()].every((count, index) => count > before[index]!)).toBe(true);
    const refused = await bob.client.callTool({ name: 'victim__echo', arguments: { text: 'x' } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/server "victim"/);
    expect(textOf(await bob.client.callTool({ name: 'remote__echo', arguments: { text: 'unaffected' } }))).toBe('unaffected');

    await Promise.all([alice, bob].map((client) => client.waitForTools((tools) => namesOf(tools).includes('victim__echo'))));
    expect(textOf(await alice.client.callTool({ name: 'victim__echo', arguments: { text: 'back' } }))).toBe('back');
    expect(textOf(await bob.client.callTool({ name: 'victim__echo', arguments: { text: 'back for bob' } }))).toBe('back for bob');
  });

  it('stops on SIGTERM with exit code 0, leaving no backend process behind', async () => {
    const { pid } = JSON.parse(textOf(await alice.client.callTool({ name: 'victim__pids', arguments: {} }))) as { pid: number };
    const exit = new Promise<number | null>((resolve) => serve.child.once('exit', (code) => resolve(code)));
    serve.child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(isProcessAlive(pid)).toBe(false);
  });
});
