/**
 * The built-in files actor on the server port: it reports ready, answers
 * every call with one `server.result` (to `replyTo` or its parent), takes
 * each well-known server's tool names and argument shapes, and turns every
 * failure, a refused path first of all, into an `isError` result.
 */
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { assign, createActor, sendTo, setup, waitFor, type Actor } from 'xstate';
import { createBuiltinFilesActor } from '../../actors/builtin-files.actor.js';
import { BUILTIN_FILE_TOOLS } from '../../src/core/builtin-files.js';
import type { BusPayload } from '../../src/core/bus-events.js';
import type { ServerCommand, ServerReport } from '../../src/core/server-port.js';

let base: string;
let root: string;
let published: BusPayload[];
let parent: Actor<ReturnType<typeof createParent>>;

/** A tiny coordinating machine: forwards commands to the files actor and keeps every report. */
function createParent(publish: (event: BusPayload) => void) {
  return setup({
    types: { context: {} as { reports: ServerReport[] }, events: {} as ServerCommand | ServerReport | { type: 'stop' } },
    actors: { files: createBuiltinFilesActor({ publish }) },
  }).createMachine({
    context: { reports: [] },
    initial: 'running',
    states: {
      running: {
        invoke: { id: 'files', src: 'files', input: () => ({ name: 'builtin:files', root, runId: 'run-1' }) },
        on: {
          'server.call': { actions: sendTo('files', ({ event }) => event) },
          'server.read': { actions: sendTo('files', ({ event }) => event) },
          'server.cancel': { actions: sendTo('files', ({ event }) => event) },
          stop: { target: 'stopped' },
          '*': { actions: assign({ reports: ({ context, event }) => [...context.reports, event as ServerReport] }) },
        },
      },
      stopped: {},
    },
  });
}

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ensemble-builtin-files-')));
  root = join(base, 'ws');
  mkdirSync(join(root, 'notes'), { recursive: true });
  mkdirSync(join(base, 'outside'));
  writeFileSync(join(root, 'notes', 'a.md'), 'alpha\nbeta\ngamma\n');
  writeFileSync(join(base, 'outside', 'secret.txt'), 'secret');
  published = [];
  parent = createActor(createParent((event) => published.push(event)));
  parent.start();
});

afterEach(() => {
  parent.stop();
  rmSync(base, { recursive: true, force: true });
});

let nextCallId = 0;

/** Sends a call through the parent and waits for its one reply. */
async function call(tool: string, args: Record<string, unknown>): Promise<Extract<ServerReport, { type: 'server.result' }>> {
  const callId = `call-${++nextCallId}`;
  parent.send({ type: 'server.call', callId, tool, args, task: 't1' });
  const snapshot = await waitFor(parent, (state) => state.context.reports.some((report) => 'callId' in report && report.callId === callId));
  const replies = snapshot.context.reports.filter((report) => 'callId' in report && report.callId === callId);
  expect(replies).toHaveLength(1);
  expect(replies[0]!.type).toBe('server.result');
  return replies[0] as Extract<ServerReport, { type: 'server.result' }>;
}

describe('lifecycle', () => {
  it('reports server.ready to its parent with the built-in tools, and publishes ready', async () => {
    const snapshot = await waitFor(parent, (state) => state.context.reports.length > 0);
    const ready = snapshot.context.reports[0];
    expect(ready).toMatchObject({ type: 'server.ready', server: 'builtin:files', replica: 1 });
    expect((ready as Extract<ServerReport, { type: 'server.ready' }>).tools.map((tool) => tool.name)).toEqual([...BUILTIN_FILE_TOOLS]);
    expect(published[0]).toMatchObject({ type: 'server.state', server: 'builtin:files', replica: 1, state: 'ready' });
  });

  it('publishes closed when stopped, and drops the reply of a call still in flight', async () => {
    parent.send({ type: 'server.call', callId: 'late', tool: 'Write', args: { file_path: 'late.md', content: 'x' } });
    parent.send({ type: 'stop' });
    expect(published.at(-1)).toEqual({ type: 'server.state', server: 'builtin:files', replica: 1, state: 'closed' });
    // The write still happens: once its file is on disk, let its continuation run, then look.
    await vi.waitFor(() => expect(readFileSync(join(root, 'late.md'), 'utf8')).toBe('x'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(published.filter((event) => event.type === 'server.call.result')).toEqual([]);
  });

  it('publishes every call it served on the bus', async () => {
    const reply = await call('read_file', { path: 'notes/a.md' });
    expect(published).toContainEqual(
      expect.objectContaining({ type: 'server.call.result', server: 'builtin:files', callId: reply.callId, tool: 'read_file', task: 't1', result: reply.result }),
    );
  });

  it('answers a resource read with server.failed: it has no resources', async () => {
    parent.send({ type: 'server.read', callId: 'read-1', uri: 'file:///notes/a.md' });
    const snapshot = await waitFor(parent, (state) => state.context.reports.some((report) => 'callId' in report && report.callId === 'read-1'));
    expect(snapshot.context.reports.at(-1)).toMatchObject({ type: 'server.failed', callId: 'read-1', error: { code: 'CALL_FAILED' } });
  });
});

describe("Claude Code's tools", () => {
  it('Write { file_path, content }', async () => {
    const reply = await call('Write', { file_path: 'out/report.md', content: 'hello' });
    expect(reply).toMatchObject({ server: 'builtin:files', result: { isError: false, text: 'wrote out/report.md (5 bytes)' } });
    expect(readFileSync(join(root, 'out', 'report.md'), 'utf8')).toBe('hello');
  });

  it('Read { file_path, offset?, limit? }', async () => {
    expect((await call('Read', { file_path: 'notes/a.md' })).result).toMatchObject({ isError: false, text: 'alpha\nbeta\ngamma\n' });
    expect((await call('Read', { file_path: join(root, 'notes', 'a.md'), offset: 2, limit: 1 })).result.text).toBe('beta\n');
  });

  it('Edit { file_path, old_string, new_string, replace_all? }', async () => {
    expect((await call('Edit', { file_path: 'notes/a.md', old_string: 'beta', new_string: 'BETA' })).result).toMatchObject({
      isError: false,
      text: 'edited notes/a.md (1 replacement)',
    });
    writeFileSync(join(root, 'twice.txt'), 'a a');
    expect((await call('Edit', { file_path: 'twice.txt', old_string: 'a', new_string: 'b' })).result).toMatchObject({ isError: true });
    expect((await call('Edit', { file_path: 'twice.txt', old_string: 'a', new_string: 'b', replace_all: true })).result.text).toBe('edited twice.txt (2 replacements)');
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('alpha\nBETA\ngamma\n');
    expect(readFileSync(join(root, 'twice.txt'), 'utf8')).toBe('b b');
  });
});

describe("the filesystem server's tools", () => {
  it('read_text_file { path, head?, tail? }', async () => {
    expect((await call('read_text_file', { path: 'notes/a.md' })).result.text).toBe('alpha\nbeta\ngamma\n');
    expect((await call('read_text_file', { path: 'notes/a.md', head: 1 })).result.text).toBe('alpha\n');
    expect((await call('read_text_file', { path: 'notes/a.md', tail: 1 })).result.text).toBe('gamma\n');
  });

  it('write_file { path, content }', async () => {
    expect((await call('write_file', { path: 'b.md', content: 'bee' })).result).toMatchObject({ isError: false, text: 'wrote b.md (3 bytes)' });
    expect(readFileSync(join(root, 'b.md'), 'utf8')).toBe('bee');
  });

  it('edit_file { path, edits: [{ oldText, newText }] }', async () => {
    const reply = await call('edit_file', { path: 'notes/a.md', edits: [{ oldText: 'alpha', newText: 'one' }, { oldText: 'gamma', newText: 'three' }] });
    expect(reply.result).toMatchObject({ isError: false, text: 'edited notes/a.md (2 replacements)' });
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('one\nbeta\nthree\n');
  });

  it('list_directory { path }', async () => {
    writeFileSync(join(root, 'b.txt'), '');
    expect((await call('list_directory', { path: '.' })).result).toMatchObject({ isError: false, text: '[FILE] b.txt\n[DIR] notes' });
  });

  it('lists a name that is not valid UTF-8 escaped and marked', async () => {
    writeFileSync(Buffer.concat([Buffer.from(`${root}/notes/`), Buffer.from([0x66, 0xff, 0x2e, 0x74])]), '');
    const reply = await call('list_directory', { path: 'notes' });
    expect(reply.result.text).toBe('[FILE] a.md\n[FILE] f\\xff.t  (name is not valid UTF-8; shown escaped)');
  });
});

describe('its own tools', () => {
  it('read_file { path } (a JSON file also gives json)', async () => {
    writeFileSync(join(root, 'data.json'), '{"n":1}');
    expect((await call('read_file', { path: 'data.json' })).result).toMatchObject({ isError: false, text: '{"n":1}', json: { n: 1 } });
  });

  it('write_file, edit_file { path, old_string, new_string }, list_directory', async () => {
    expect((await call('write_file', { path: 'new/c.md', content: 'see' })).result.text).toBe('wrote new/c.md (3 bytes)');
    expect((await call('edit_file', { path: 'new/c.md', old_string: 'see', new_string: 'sea' })).result.text).toBe('edited new/c.md (1 replacement)');
    expect((await call('list_directory', { path: 'new' })).result.text).toBe('[FILE] c.md');
    expect(readFileSync(join(root, 'new', 'c.md'), 'utf8')).toBe('sea');
  });
});

describe('failures are isError results, not server.failed', () => {
  it.each([
    ['Read', { file_path: '../outside/secret.txt' }],
    ['read_text_file', { path: 'notes/../../outside/secret.txt' }],
    ['Write', { file_path: '/etc/ensemble-should-not-exist', content: 'x' }],
    ['write_file', { path: 'a\0b', content: 'x' }],
  ])('%s refuses a path outside the workspace: %j', async (tool, args) => {
    const reply = await call(tool, args);
    expect(reply.result.isError).toBe(true);
    expect(reply.result.text).toMatch(/is refused/);
    expect(reply.result.text).toContain(root);
  });

  it('refuses a symbolic link to a file outside', async () => {
    symlinkSync(join(base, 'outside', 'secret.txt'), join(root, 'link'));
    const reply = await call('Edit', { file_path: 'link', old_string: 'secret', new_string: 'pwned' });
    expect(reply.result).toMatchObject({ isError: true });
    expect(reply.result.text).toMatch(/symbolic link/);
    expect(readFileSync(join(base, 'outside', 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('reports a missing file', async () => {
    expect((await call('Read', { file_path: 'missing.md' })).result).toMatchObject({ isError: true, text: expect.stringMatching(/no such file/) });
  });

  it('reports an unknown tool', async () => {
    expect((await call('delete_file', { path: 'notes/a.md' })).result).toMatchObject({ isError: true, text: expect.stringMatching(/unknown tool "delete_file"/) });
  });

  it.each([
    ['Write', { file_path: 'a.md' }, /"content" must be a string/],
    ['Read', {}, /"file_path" must be a string/],
    ['read_file', { path: 42 }, /"path" must be a string/],
    ['Read', { file_path: 'notes/a.md', offset: -1 }, /"offset" must be a whole number/],
    ['edit_file', { path: 'notes/a.md', edits: [{ oldText: 'a' }] }, /"edits\[0\]\.newText" must be a string/],
    ['Edit', { file_path: 'notes/a.md', old_string: 'beta', new_string: 'x', replace_all: 'yes' }, /"replace_all" must be true or false/],
  ])('reports bad arguments to %s: %j', async (tool, args, message) => {
    expect((await call(tool, args)).result).toMatchObject({ isError: true, text: expect.stringMatching(message) });
  });
});

describe('replies', () => {
  it('go to replyTo when the call names one', async () => {
    const received: ServerReport[] = [];
    parent.send({ type: 'server.call', callId: 'direct', tool: 'Read', args: { file_path: 'notes/a.md' }, replyTo: { send: (report) => received.push(report) } });
    await expect.poll(() => received.length).toBe(1);
    expect(received[0]).toMatchObject({ type: 'server.result', callId: 'direct', result: { text: 'alpha\nbeta\ngamma\n' } });
    expect(parent.getSnapshot().context.reports.some((report) => 'callId' in report && report.callId === 'direct')).toBe(false);
  });

  it('carry the callId of their call when several are in flight', async () => {
    const calls = Array.from({ length: 5 }, (_, index) => ({ type: 'server.call' as const, callId: `many-${index}`, tool: 'write_file', args: { path: `many/${index}.txt`, content: 'x'.repeat(index) } }));
    for (const command of calls) parent.send(command);
    const snapshot = await waitFor(parent, (state) => state.context.reports.filter((report) => report.type === 'server.result').length === 5);
    for (const [index, command] of calls.entries()) {
      const reply = snapshot.context.reports.find((report) => 'callId' in report && report.callId === command.callId);
      expect(reply).toMatchObject({ type: 'server.result', result: { text: `wrote many/${index}.txt (${index} bytes)` } });
    }
  });
});
