/**
 * Orchestration as tools, through `ensemble serve` as a child process:
 * `ensemble_explain` and `ensemble_run` take a workflow (object or YAML
 * text) over the aggregator's own backends, and `--workflows DIR` serves each
 * workflow file as a tool `workflow__<name>` whose input schema is the
 * workflow's `inputs`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ProgressNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTempDir, FIXTURE_SERVER, ROOT } from '../support/fixture.js';
import { connectStdio, namesOf, textOf, writeConfig, type WatchedClient } from './serve-client.js';

const WORKFLOWS = join(ROOT, 'test/serve/workflows');

describe('ensemble serve: orchestration as tools', () => {
  const temp = createTempDir('ensemble-serve-orchestration-');
  const logFile = join(temp.dir, 'fx.jsonl');
  let serve: WatchedClient & { stderr: () => string };

  const logged = (event: string) => (existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string; tool?: string }) : []).filter((line) => line.event === event);

  beforeAll(async () => {
    const config = writeConfig(temp.dir, { servers: { fx: { command: process.execPath, args: [FIXTURE_SERVER, '--log-file', logFile] }, other: { command: process.execPath, args: [FIXTURE_SERVER, '--name', 'other'] } } });
    serve = await connectStdio(config, '--workflows', WORKFLOWS);
  });

  afterAll(async () => {
    await serve?.close();
    temp.remove();
  });

  it('lists a workflow with inputs as a tool whose input schema is its inputs, and leaves out an invalid one', () => {
    const names = namesOf(serve.tools());
    expect(names).toEqual(expect.arrayContaining(['ensemble_status', 'ensemble_explain', 'ensemble_run', 'workflow__greet', 'fx__echo']));
    expect(names).not.toContain('workflow__broken');
    expect(serve.stderr()).toMatch(/workflow broken\.yaml is not served: .*unknown input "nope"/);
    const greet = serve.tools().find((tool) => tool.name === 'workflow__greet')!;
    expect(greet.inputSchema).toEqual({
      type: 'object',
      properties: { name: { type: 'string', description: 'Who to greet' }, punctuation: { type: 'string', default: '!' } },
      required: ['name'],
      additionalProperties: false,
    });
  });

  it('lists the workflows served as tools in ensemble_status', async () => {
    const status = await serve.client.callTool({ name: 'ensemble_status', arguments: {} });
    expect((status.structuredContent as { workflows: unknown[] }).workflows).toEqual([{ name: 'workflow__greet', workflow: 'greet', file: join(WORKFLOWS, 'greet.yaml'), inputs: ['name', 'punctuation'] }]);
  });

  it('runs a workflow tool with the given inputs, its result the run output', async () => {
    const result = await serve.client.callTool({ name: 'workflow__greet', arguments: { name: 'Ada' } });
    expect(result.isError).toBeFalsy();
    expect(textOf(result)).toBe('hello Ada!');
    expect(result.structuredContent).toMatchObject({ workflow: 'greet', status: 'completed', tasks: [{ id: 'hello' }, { id: 'shout' }] });
    expect(textOf(await serve.client.callTool({ name: 'workflow__greet', arguments: { name: 'Bo', punctuation: '?' } }))).toBe('hello Bo?');
  });

  it('answers a workflow tool called without a required input with an isError naming it', async () => {
    const result = await serve.client.callTool({ name: 'workflow__greet', arguments: {} });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/input "name" is required/);
  });

  it('explains a workflow given as YAML text: pattern, reasons and groups', async () => {
    const yaml = ['tasks:', '  - { id: a, server: fx, tool: echo, args: { text: a } }', '  - { id: b, server: other, tool: echo, args: { text: b } }', '  - { id: c, server: fx, tool: echo, args: { text: "{{ tasks.a.text }}{{ tasks.b.text }}" }, needs: [a, b] }'].join('\n');
    const result = await serve.client.callTool({ name: 'ensemble_explain', arguments: { workflow: yaml } });
    expect(result.isError).toBeFalsy();
    // c reads results from two servers: data flows between them, so the guide picks the multi-server coordinator.
    expect(result.structuredContent).toMatchObject({ pattern: 'multi-server', with: [], groups: [['a', 'b'], ['c']], servers: ['fx', 'other'] });
    expect((result.structuredContent as { reasons: string[] }).reasons).toContain('group 1 holds 2 independent tasks (a, b)');
  });

  it('runs a workflow object over the shared backends, with one progress notification per task', async () => {
    const progress: { progress: number; total?: number; message?: string }[] = [];
    // Recorded as they arrive, not through `onprogress`: the SDK client (1.32) runs notification
    // handlers a microtask late, so one read in the same chunk as the response finds its
    // progress handler already gone. The server sends them all before the result; that is what counts.
    serve.client.setNotificationHandler(ProgressNotificationSchema, (notification) => {
      const { progressToken: _token, ...rest } = notification.params;
      progress.push(rest);
    });
    const workflow = { name: 'pair', tasks: [{ id: 'one', server: 'fx', tool: 'echo', args: { text: '1' } }, { id: 'two', server: 'other', tool: 'echo', args: { text: '{{ tasks.one.text }}2' } }], output: '{{ tasks.two.text }}' };
    const result = await serve.client.callTool({ name: 'ensemble_run', arguments: { workflow } }, undefined, { onprogress: () => undefined });
    expect(textOf(result)).toBe('12');
    expect(result.structuredContent).toMatchObject({ status: 'completed', pattern: 'multi-server' });
    expect(progress).toEqual([
      { progress: 1, total: 2, message: 'task "one" completed' },
      { progress: 2, total: 2, message: 'task "two" completed' },
    ]);
  });

  it('answers a failed run with isError and the report', async () => {
    const result = await serve.client.callTool({ name: 'ensemble_run', arguments: { workflow: { tasks: [{ id: 'x', server: 'fx', tool: 'fail', args: { message: 'nope' } }] } } });
    expect(result.isError).toBe(true);
    expect(result.structuredContent).toMatchObject({ status: 'failed', tasks: [{ id: 'x', status: 'failed' }] });
  });

  it('refuses a workflow that declares servers of its own, and an invalid one, naming the field', async () => {
    const own = await serve.client.callTool({ name: 'ensemble_run', arguments: { workflow: { servers: { mine: { command: 'node' } }, tasks: [{ id: 'a', server: 'mine', tool: 'x', args: {} }] } } });
    expect(own.isError).toBe(true);
    expect(textOf(own)).toMatch(/declare mine in the serve config/);
    const invalid = await serve.client.callTool({ name: 'ensemble_explain', arguments: { workflow: { tasks: [{ id: 'a', server: 'nope', tool: 'x', args: {} }] } } });
    expect(invalid.isError).toBe(true);
    expect(textOf(invalid)).toMatch(/tasks\[0\]\.server: unknown server "nope"/);
  });

  it('cancels the run when the client cancels the call: the backend call is cancelled too', async () => {
    const controller = new AbortController();
    const call = serve.client.callTool({ name: 'ensemble_run', arguments: { workflow: { tasks: [{ id: 'wait', server: 'fx', tool: 'hang', args: {} }] } } }, undefined, { signal: controller.signal });
    const settled = call.then(() => 'resolved', (error: unknown) => (error instanceof Error ? error.name : 'rejected'));
    await vi.waitFor(() => expect(logged('call').some((line) => line.tool === 'hang')).toBe(true), { timeout: 10_000, interval: 20 });
    controller.abort('user gave up');
    expect(await settled).not.toBe('resolved');
    await vi.waitFor(() => expect(logged('cancelled').some((line) => line.tool === 'hang')).toBe(true), { timeout: 10_000, interval: 20 });
    // The session still serves.
    expect(textOf(await serve.client.callTool({ name: 'fx__echo', arguments: { text: 'after' } }))).toBe('after');
  });
});
