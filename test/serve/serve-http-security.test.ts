/**
 * `ensemble serve --http` security: a bearer token from the variable
 * `--token-env` names (checked whenever set, required off loopback), the
 * DNS-rebinding guard on `Host` and `Origin`, bounded bodies, malformed
 * JSON-RPC answered with the server still serving, and backends spawned with
 * an argument array (shell metacharacters reach the process as text).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTempDir, FIXTURE_SERVER, ROOT } from '../support/fixture.js';
import { connectHttp, namesOf, SERVE_ENTRY, startHttpServeWith, textOf, writeConfig, type WatchedClient } from './serve-client.js';

const TOKEN = 'test-token-0123456789';
const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INITIALIZE = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } });

/** A POST with headers fetch will not let us set (Host). */
function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers: { ...MCP_HEADERS, ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.once('error', reject);
    req.end(body);
  });
}

describe('ensemble serve over HTTP: security', () => {
  const temp = createTempDir('ensemble-serve-security-');
  // Read by the shell if the command ever went through one: `;` ends the command, `$( )` runs one.
  const marker = join(temp.dir, 'PWNED');
  const config = writeConfig(temp.dir, {
    servers: { meta: { command: process.execPath, args: [FIXTURE_SERVER, '--name', `x; touch ${marker} $(touch ${marker}2) \`touch ${marker}3\``] } },
  });
  let serve: Awaited<ReturnType<typeof startHttpServeWith>>;
  let client: WatchedClient;
  let hostPort: string;

  beforeAll(async () => {
    serve = await startHttpServeWith({ config, env: { ...process.env, ENSEMBLE_TOKEN: TOKEN } });
    hostPort = new URL(serve.url).host;
    client = await connectHttp(serve.url, { authorization: `Bearer ${TOKEN}` });
  });

  afterAll(async () => {
    await client?.close();
    await serve?.stop();
    temp.remove();
  });

  it('serves a client that sends the token', async () => {
    expect(namesOf(client.tools())).toContain('meta__echo');
    expect(textOf(await client.client.callTool({ name: 'meta__echo', arguments: { text: 'authorized' } }))).toBe('authorized');
  });

  it('answers 401 to a request without the token or with a wrong one', async () => {
    const missing = await fetch(serve.url, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    const wrong = await fetch(serve.url, { method: 'POST', headers: { ...MCP_HEADERS, authorization: 'Bearer not-the-token' }, body: INITIALIZE });
    expect(wrong.status).toBe(401);
  });

  it('refuses a foreign Host (DNS rebinding) and a foreign Origin with 403, even with the token', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const rebound = await post(serve.url, { ...auth, host: `evil.example:${new URL(serve.url).port}` }, INITIALIZE);
    expect(rebound.status).toBe(403);
    expect(rebound.body).toMatch(/DNS-rebinding/);
    const foreign = await post(serve.url, { ...auth, origin: 'http://evil.example' }, INITIALIZE);
    expect(foreign.status).toBe(403);
    const localhost = await post(serve.url, { ...auth, host: `localhost:${new URL(serve.url).port}`, origin: `http://${hostPort}` }, INITIALIZE);
    expect(localhost.status).toBe(200);
  });

  it('answers an oversized body with 413 and malformed JSON-RPC with an error, and keeps serving', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const huge = await post(serve.url, auth, JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ping', params: { pad: 'x'.repeat(5 * 1024 * 1024) } }));
    expect(huge.status).toBe(413);
    const notRpc = await post(serve.url, auth, JSON.stringify({ hello: 'world' }));
    expect(notRpc.status).toBe(400);
    expect(JSON.parse(notRpc.body)).toMatchObject({ jsonrpc: '2.0', error: { code: expect.any(Number) } });
    const batchOfJunk = await post(serve.url, auth, '[1, 2, 3]');
    expect(batchOfJunk.status).toBe(400);
    expect(textOf(await client.client.callTool({ name: 'meta__echo', arguments: { text: 'still serving' } }))).toBe('still serving');
  });

  it('spawns backends with an argument array: shell metacharacters in an argument are never run', () => {
    expect(namesOf(client.tools())).toContain('meta__echo');
    for (const suffix of ['', '2', '3']) expect(existsSync(`${marker}${suffix}`)).toBe(false);
  });

  it('refuses to bind a non-loopback host without a token, saying how to give one', async () => {
    const { ENSEMBLE_TOKEN: _unset, ...env } = process.env;
    const child = spawn(process.execPath, ['--import', 'tsx', SERVE_ENTRY, '--config', config, '--http', '0.0.0.0:0'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    expect(code).toBe(2);
    expect(stderr).toMatch(/refusing to serve HTTP on 0\.0\.0\.0, which is not a loopback address, without a bearer token: set the environment variable ENSEMBLE_TOKEN/);
  });

  it('binds a non-loopback host with a token from the variable --token-env names', async () => {
    const { ENSEMBLE_TOKEN: _unset, ...env } = process.env;
    const open = await startHttpServeWith({ config, http: '0.0.0.0:0', env: { ...env, MY_TOKEN: TOKEN }, flags: ['--token-env', 'MY_TOKEN'] });
    try {
      const url = open.url.replace('0.0.0.0', '127.0.0.1');
      expect((await fetch(url, { method: 'POST', headers: MCP_HEADERS, body: INITIALIZE })).status).toBe(401);
      const remote = await connectHttp(url, { authorization: `Bearer ${TOKEN}` });
      expect(namesOf(remote.tools())).toContain('meta__echo');
      await remote.close();
    } finally {
      await open.stop();
    }
  });
});
