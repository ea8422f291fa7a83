/**
 * A backend built on the v2 SDK (`@modelcontextprotocol/server` 2.x, on
 * Node 20) behind `ensemble serve`, reached over stdio and over Streamable
 * HTTP, its tools listed and called through by a v1 SDK client.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, ROOT } from '../support/fixture.js';
import { connectHttp, connectStdio, namesOf, startHttpServe, textOf, writeConfig, type WatchedClient } from './serve-client.js';

const V2_SERVER = join(ROOT, 'test/serve/v2-server.mjs');

describe('ensemble serve with a v2 SDK backend', () => {
  const temp = createTempDir('ensemble-serve-v2-');
  const httpBackend = spawn(process.execPath, [V2_SERVER, '--http', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let config: string;

  beforeAll(async () => {
    const backendUrl = await new Promise<string>((resolve) => {
      createInterface({ input: httpBackend.stdout! }).on('line', (line) => {
        const match = /^listening (\S+)$/.exec(line);
        if (match) resolve(match[1]!);
      });
    });
    config = writeConfig(temp.dir, { mcpServers: { v2stdio: { command: process.execPath, args: [V2_SERVER] }, v2http: { type: 'http', url: backendUrl } } });
  });

  afterAll(() => {
    httpBackend.kill('SIGTERM');
    temp.remove();
  });

  const checkBoth = async (client: WatchedClient) => {
    expect(namesOf(client.tools())).toEqual(expect.arrayContaining(['v2stdio__greet', 'v2stdio__sdk', 'v2http__greet', 'v2http__sdk']));
    const greet = client.tools().find((tool) => tool.name === 'v2stdio__greet')!;
    expect(greet.inputSchema).toMatchObject({ type: 'object', properties: { name: { type: 'string' } }, required: ['name'] });
    expect(greet.outputSchema).toMatchObject({ type: 'object', properties: { greeting: { type: 'string' } } });
    for (const server of ['v2stdio', 'v2http']) {
      const result = await client.client.callTool({ name: `${server}__greet`, arguments: { name: 'Ada' } });
      expect(result.structuredContent).toEqual({ greeting: 'hello Ada, from the v2 SDK' });
      expect(textOf(await client.client.callTool({ name: `${server}__sdk`, arguments: {} }))).toMatch(/^2\./);
    }
  };

  it('serves a v2 backend over stdio and over HTTP to a client of serve over stdio', async () => {
    const client = await connectStdio(config);
    try {
      await checkBoth(client);
    } finally {
      await client.close();
    }
  });

  it('serves the same to a client of serve over Streamable HTTP', async () => {
    const serve = await startHttpServe(config);
    const client = await connectHttp(serve.url);
    try {
      await checkBoth(client);
    } finally {
      await client.close();
      await serve.stop();
    }
  });
});
