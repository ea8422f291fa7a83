/**
 * Elicitation and sampling requests a backend sends during a tool call are
 * forwarded by `ensemble serve` to the client session that made the call,
 * and the answer goes back to the backend: over stdio and over Streamable
 * HTTP, from a stdio backend and an HTTP one; another session is never asked.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CreateMessageRequestSchema, ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTempDir, ROOT } from '../support/fixture.js';
import { SERVE_ENTRY, startHttpServe, textOf, writeConfig } from './serve-client.js';

const ASKING = join(ROOT, 'test/serve/asking-server.mjs');

interface AnsweringClient {
  client: Client;
  /** The messages of the elicitation requests this client was sent. */
  asked: string[];
  sampled: number;
}

/** A client that answers elicitation with `name` and sampling with `word`, or one that declares neither capability. */
function createAnsweringClient(answers?: { name: string; word: string }): AnsweringClient {
  const client = new Client({ name: 'answering', version: '0.0.0' }, { capabilities: answers ? { elicitation: {}, sampling: {} } : {} });
  const state: AnsweringClient = { client, asked: [], sampled: 0 };
  if (answers) {
    client.setRequestHandler(ElicitRequestSchema, (request) => {
      state.asked.push(request.params.message);
      return { action: 'accept', content: { name: answers.name } };
    });
    client.setRequestHandler(CreateMessageRequestSchema, () => {
      state.sampled++;
      return { role: 'assistant', model: 'test-model', content: { type: 'text', text: answers.word } };
    });
  }
  return state;
}

describe('ensemble serve: elicitation and sampling forwarded to the calling client', () => {
  const temp = createTempDir('ensemble-serve-asks-');
  const httpBackend = spawn(process.execPath, [ASKING, '--http', '0'], { stdio: ['ignore', 'pipe', 'inherit'] });
  let config: string;
  const blockLog = join(temp.dir, 'block.log');

  beforeAll(async () => {
    const url = await new Promise<string>((resolve) => {
      createInterface({ input: httpBackend.stdout! }).on('line', (line) => {
        const match = /^listening (\S+)$/.exec(line);
        if (match) resolve(match[1]!);
      });
    });
    config = writeConfig(temp.dir, { mcpServers: { asking: { command: process.execPath, args: [ASKING, '--log-file', blockLog] }, remote: { type: 'http', url } } });
  });

  afterAll(() => {
    httpBackend.kill('SIGTERM');
    temp.remove();
  });

  it('over stdio: the backend asks, the client answers, the tool result carries the answer', async () => {
    const alice = createAnsweringClient({ name: 'Alice', word: 'blue' });
    await alice.client.connect(new StdioClientTransport({ command: process.execPath, args: ['--import', 'tsx', SERVE_ENTRY, '--config', config], cwd: ROOT, stderr: 'ignore' }));
    try {
      expect(textOf(await alice.client.callTool({ name: 'asking__ask', arguments: {} }))).toBe('hello Alice');
      expect(alice.asked).toEqual(['What is your name?']);
      expect(textOf(await alice.client.callTool({ name: 'asking__sample', arguments: {} }))).toBe('model said: blue');
      expect(textOf(await alice.client.callTool({ name: 'remote__ask', arguments: {} }))).toBe('hello Alice');
    } finally {
      await alice.client.close();
    }
  });

  it('over HTTP: only the calling session is asked; a client without the capability, or calls of two sessions in flight, get the backend a refusal', async () => {
    const serve = await startHttpServe(config);
    const alice = createAnsweringClient({ name: 'Alice', word: 'blue' });
    const bob = createAnsweringClient({ name: 'Bob', word: 'red' });
    const carol = createAnsweringClient();
    await Promise.all([alice, bob, carol].map((who) => who.client.connect(new StreamableHTTPClientTransport(new URL(serve.url)))));
    try {
      expect(textOf(await bob.client.callTool({ name: 'asking__ask', arguments: {} }))).toBe('hello Bob');
      expect(textOf(await alice.client.callTool({ name: 'remote__ask', arguments: {} }))).toBe('hello Alice');
      expect(textOf(await alice.client.callTool({ name: 'remote__sample', arguments: {} }))).toBe('model said: blue');
      expect([alice.asked.length, alice.sampled, bob.asked.length, bob.sampled]).toEqual([1, 1, 1, 0]);
      expect(textOf(await carol.client.callTool({ name: 'asking__ask', arguments: {} }))).toMatch(/^refused: .*does not support elicitation/);

      // Bob's call holds the backend session while Alice's asks: whose user to ask is unknown, so no one is asked.
      const held = new AbortController();
      const blocking = bob.client.callTool({ name: 'asking__block', arguments: {} }, undefined, { signal: held.signal }).catch(() => 'cancelled');
      await vi.waitFor(() => expect(existsSync(blockLog)).toBe(true), { timeout: 10_000, interval: 20 });
      expect(textOf(await alice.client.callTool({ name: 'asking__ask', arguments: {} }))).toMatch(/^refused: .*calls of 2 client sessions are in flight/);
      expect(alice.asked.length + bob.asked.length).toBe(2);
      held.abort();
      await blocking;
    } finally {
      await Promise.allSettled([alice, bob, carol].map((who) => who.client.close()));
      await serve.stop();
    }
  });
});
