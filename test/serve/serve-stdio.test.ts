/**
 * `ensemble serve` over stdio, as a client sees it: a real SDK `Client`
 * against the serve child, over real backends (the fixture server and
 * `@modelcontextprotocol/server-everything`) in their own processes.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { CallToolResultSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEFAULT_NAMING, toShortenedName } from '../../src/serve/exposed-names.js';
import { toAggregateUri } from '../../src/serve/resource-uris.js';
import { createTempDir, FIXTURE_SERVER, isProcessAlive } from '../support/fixture.js';
import { connectStdio, EVERYTHING, MEMORY, namesOf, textOf, writeConfig, type WatchedClient } from './serve-client.js';

const LONG = 'a-backend-whose-name-alone-takes-most-of-the-sixty-four-chars';

describe('ensemble serve over stdio', () => {
  const temp = createTempDir('ensemble-serve-');
  const log = join(temp.dir, 'fix.jsonl');
  const victimLog = join(temp.dir, 'victim.jsonl');
  let served: WatchedClient & { stderr: () => string };
  let direct: Client;
  let directTools: Tool[];

  beforeAll(async () => {
    const config = writeConfig(temp.dir, {
      mcpServers: {
        fix: { command: process.execPath, args: [FIXTURE_SERVER, '--name', 'fix', '--log-file', log], deny: ['crash', 'spew'] },
        everything: { command: process.execPath, args: [EVERYTHING, 'stdio'] },
        [LONG]: { command: process.execPath, args: [FIXTURE_SERVER], allow: ['echo', 'add'] },
        victim: { command: process.execPath, args: [FIXTURE_SERVER, '--name', 'victim', '--log-file', victimLog], allow: ['echo', 'pids', 'sleep'] },
        // Calls time out after 2 s unless progress keeps them alive.
        patient: { command: process.execPath, args: [EVERYTHING, 'stdio'], timeoutMs: 2_000, allow: ['trigger-long-running-operation'] },
        memory: { command: process.execPath, args: [MEMORY], env: { MEMORY_FILE_PATH: join(temp.dir, 'memory.jsonl') } },
        broken: { command: process.execPath, args: [FIXTURE_SERVER, '--exit-at-start', '3'] },
      },
    });
    served = await connectStdio(config);
    direct = new Client({ name: 'direct', version: '0' });
    await direct.connect(new StdioClientTransport({ command: process.execPath, args: [FIXTURE_SERVER] }));
    directTools = (await direct.listTools()).tools;
  });

  afterAll(async () => {
    await served?.close();
    await direct?.close();
    temp.remove();
  });

  it('lists every backend tool as server__tool with its schemas, annotations and title unchanged', () => {
    const names = namesOf(served.tools());
    expect(names).toContain('ensemble_status');
    expect(names).toEqual(expect.arrayContaining(['fix__echo', 'fix__add', 'everything__echo', 'everything__get-sum', 'victim__echo']));
    for (const original of directTools.filter((tool) => !['crash', 'spew'].includes(tool.name))) {
      const listed = served.tools().find((tool) => tool.name === `fix__${original.name}`);
      expect(listed, original.name).toBeDefined();
      const { name: _name, description, ...rest } = listed!;
      const { name: _original, description: originalDescription, ...originalRest } = original;
      expect(rest).toEqual(originalRest);
      expect(description).toBe(`[from fix] ${originalDescription}`);
    }
  });

  it('serves the other backends while one cannot start, and ensemble_status says why', async () => {
    expect(namesOf(served.tools())).toEqual(expect.arrayContaining(['memory__create_entities', 'memory__read_graph']));
    expect(namesOf(served.tools()).some((name) => name.startsWith('broken__'))).toBe(false);
    const status = JSON.parse(textOf(await served.client.callTool({ name: 'ensemble_status', arguments: {} }))) as { backends: { server: string; state: string; error?: string }[] };
    const broken = status.backends.find((backend) => backend.server === 'broken');
    expect(broken?.state).not.toBe('serving');
    expect(broken?.error).toMatch(/server "broken" failed to start.*exited with code 3/);
    expect(textOf(await served.client.callTool({ name: 'memory__read_graph', arguments: {} }))).toContain('entities');
  });

  it('applies allow and deny lists per server', () => {
    const names = namesOf(served.tools());
    expect(names).not.toContain('fix__crash');
    expect(names).not.toContain('fix__spew');
    expect(names.filter((name) => name.startsWith('victim__')).sort()).toEqual(['victim__echo', 'victim__pids', 'victim__sleep']);
  });

  it('routes a call to its backend and returns the result unchanged', async () => {
    const through = await served.client.callTool({ name: 'fix__add', arguments: { a: 2, b: 3 } });
    const straight = await direct.callTool({ name: 'add', arguments: { a: 2, b: 3 } });
    expect(through).toEqual(straight);
    const everything = await served.client.callTool({ name: 'everything__get-sum', arguments: { a: 1, b: 41 } });
    expect(textOf(everything)).toContain('42');
  });

  it('shortens names over 64 characters deterministically, and ensemble_status maps them back', async () => {
    const expected = toShortenedName(LONG, 'echo', DEFAULT_NAMING);
    expect(expected.length).toBeLessThanOrEqual(64);
    const listed = served.tools().filter((tool) => tool.description?.startsWith(`[from ${LONG}: `));
    expect(namesOf(listed).sort()).toEqual([toShortenedName(LONG, 'add', DEFAULT_NAMING), expected].sort());
    for (const tool of listed) expect(tool.name).toMatch(/^[A-Za-z0-9_-]{1,64}$/);
    const result = await served.client.callTool({ name: expected, arguments: { text: 'through a short name' } });
    expect(textOf(result)).toBe('through a short name');
    const status = await served.client.callTool({ name: 'ensemble_status', arguments: {} });
    const report = JSON.parse(textOf(status)) as { names: { name: string; server: string; tool: string }[]; backends: { server: string; state: string }[] };
    expect(report.names).toContainEqual({ name: expected, server: LONG, tool: 'echo' });
    expect(report.backends.map((backend) => [backend.server, backend.state])).toEqual(expect.arrayContaining([['fix', 'serving'], ['everything', 'serving']]));
  });

  it("passes server-everything's progress notifications through to the client's own token", async () => {
    const progress: number[] = [];
    const result = await served.client.callTool({ name: 'everything__trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } }, CallToolResultSchema, {
      onprogress: (update) => progress.push(update.progress),
    });
    expect(result.isError).not.toBe(true);
    // Steps 1 and 2 come 100 ms before the result. Step 3 comes just before it, and the SDK client (1.32) drops
    // a progress notification that it reads in the same chunk as the result: it handles the response at once and
    // the notification a microtask later, after the call's progress handler is gone. Direct clients lose it too.
    expect(progress.slice(0, 2)).toEqual([1, 2]);
    expect(progress.length).toBeLessThanOrEqual(3);
  });

  it('lets progress keep a backend call alive past its timeout', async () => {
    const progress: number[] = [];
    // 5 s of work, progress every 0.5 s, against a 2 s timeout that each progress notification resets.
    const result = await served.client.callTool({ name: 'patient__trigger-long-running-operation', arguments: { duration: 5, steps: 10 } }, CallToolResultSchema, {
      onprogress: (update) => progress.push(update.progress),
      timeout: 60_000,
    });
    expect(result.isError).not.toBe(true);
    expect(textOf(result)).toContain('Long running operation completed');
    expect(progress.length).toBeGreaterThanOrEqual(9);
  });

  it("cancels the backend call when the client cancels its call", async () => {
    const controller = new AbortController();
    const call = served.client.callTool({ name: 'fix__hang', arguments: {} }, CallToolResultSchema, { signal: controller.signal });
    await vi.waitFor(() => expect(readFileSync(log, 'utf8')).toContain('"tool":"hang"'));
    controller.abort('user pressed stop');
    await expect(call).rejects.toThrow(/user pressed stop/);
    await vi.waitFor(() => expect(readFileSync(log, 'utf8')).toContain('"event":"cancelled"'));
    // The session and the backend still serve.
    expect(textOf(await served.client.callTool({ name: 'fix__echo', arguments: { text: 'still here' } }))).toBe('still here');
  });

  it('aggregates resources under ensemble:// URIs and reads them back from their backend', async () => {
    const { resources } = await served.client.listResources();
    const alpha = resources.find((resource) => resource.uri === toAggregateUri('fix', 'fixture://notes/alpha'));
    expect(alpha).toBeDefined();
    const read = await served.client.readResource({ uri: alpha!.uri });
    expect(read.contents).toEqual([{ uri: alpha!.uri, mimeType: 'text/plain', text: 'alpha notes' }]);
    const { resourceTemplates } = await served.client.listResourceTemplates();
    const echo = resourceTemplates.find((template) => template.uriTemplate.startsWith(toAggregateUri('fix', 'fixture://echo/')));
    expect(echo).toBeDefined();
    const word = await served.client.readResource({ uri: echo!.uriTemplate.replace('{word}', 'hello') });
    expect(word.contents[0]).toMatchObject({ text: 'hello' });
  });

  it("aggregates prompts as server__prompt and gets them from their backend", async () => {
    const { prompts } = await served.client.listPrompts();
    const simple = prompts.find((prompt) => prompt.name.startsWith('everything__'));
    expect(simple).toBeDefined();
    const got = await served.client.getPrompt({ name: simple!.name, arguments: Object.fromEntries((simple!.arguments ?? []).filter((arg) => arg.required).map((arg) => [arg.name, 'x'])) });
    expect(got.messages.length).toBeGreaterThan(0);
  });

  it('withdraws a killed backend (list_changed, tools gone, calls answer isError naming it) and brings it back in the same session', async () => {
    const { pid } = JSON.parse(textOf(await served.client.callTool({ name: 'victim__pids', arguments: {} }))) as { pid: number };
    const before = served.listChanged();
    const inFlight = served.client.callTool({ name: 'victim__sleep', arguments: { ms: 600_000 } });
    await vi.waitFor(() => expect(readFileSync(victimLog, 'utf8')).toContain('"tool":"sleep"'));
    process.kill(pid, 'SIGKILL');

    // The call in flight answers, naming the server and the cause, instead of hanging.
    const lost = await inFlight;
    expect(lost.isError).toBe(true);
    expect(textOf(lost)).toMatch(/server "victim": tool "sleep" failed: .*SIGKILL/);

    const withdrawn = await served.waitForTools((tools) => !namesOf(tools).includes('victim__echo'));
    expect(served.listChanged()).toBeGreaterThan(before);
    expect(namesOf(withdrawn)).toContain('fix__echo');
    const refused = await served.client.callTool({ name: 'victim__echo', arguments: { text: 'anyone?' } });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/server "victim".*SIGKILL/);
    // The other backends and the session are untouched.
    expect(textOf(await served.client.callTool({ name: 'fix__echo', arguments: { text: 'fine' } }))).toBe('fine');

    const afterWithdrawal = served.listChanged();
    await served.waitForTools((tools) => namesOf(tools).includes('victim__echo'));
    expect(served.listChanged()).toBeGreaterThan(afterWithdrawal);
    expect(textOf(await served.client.callTool({ name: 'victim__echo', arguments: { text: 'back' } }))).toBe('back');
    const again = JSON.parse(textOf(await served.client.callTool({ name: 'victim__pids', arguments: {} }))) as { pid: number };
    expect(again.pid).not.toBe(pid);
    expect(isProcessAlive(pid)).toBe(false);
  });
});
