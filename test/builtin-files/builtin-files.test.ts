/**
 * The built-in files fallback, called as the call router calls it:
 * `callBuiltinFileTool(root, tool, args)`. It takes each well-known server's
 * tool names and argument shapes, confines every path to the workspace, and
 * turns every failure, a refused path first of all, into an `isError`
 * result: it never rejects.
 */
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BUILTIN_FILE_TOOL_LIST, BUILTIN_FILES_NAME, callBuiltinFileTool } from '../../actors/builtin-files.js';
import { BUILTIN_FILE_ALIASES, BUILTIN_FILE_TOOLS } from '../../src/core/builtin-files.js';
import type { ToolResult } from '../../src/core/results.js';

let base: string;
let root: string;

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ensemble-builtin-files-')));
  root = join(base, 'ws');
  mkdirSync(join(root, 'notes'), { recursive: true });
  mkdirSync(join(base, 'outside'));
  writeFileSync(join(root, 'notes', 'a.md'), 'alpha\nbeta\ngamma\n');
  writeFileSync(join(base, 'outside', 'secret.txt'), 'secret');
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

/** One call in the workspace; it must resolve (never reject) with a tool result. */
async function call(tool: string, args: Record<string, unknown>): Promise<ToolResult> {
  const result = await callBuiltinFileTool(root, tool, args);
  expect(result).toMatchObject({ isError: expect.any(Boolean), text: expect.any(String), content: expect.any(Array) });
  return result;
}

describe('the tool list', () => {
  it('lists every built-in operation once, each with an object input schema', () => {
    expect(BUILTIN_FILE_TOOL_LIST.map((tool) => tool.name)).toEqual([...BUILTIN_FILE_TOOLS]);
    for (const tool of BUILTIN_FILE_TOOL_LIST) {
      expect(tool.description, tool.name).toBeTruthy();
      expect(tool.inputSchema?.type, tool.name).toBe('object');
    }
    expect(BUILTIN_FILES_NAME).toBe('builtin:files');
  });

  it('answers every alias, by the operation it stands for', async () => {
    writeFileSync(join(root, 'alias.txt'), 'x');
    for (const [alias, operation] of Object.entries(BUILTIN_FILE_ALIASES)) {
      const args = operation === 'list_directory' ? { path: '.' } : { path: 'alias.txt', file_path: 'alias.txt', content: 'x', old_string: 'x', new_string: 'x' };
      const result = await call(alias, args);
      expect(result.isError, `${alias}: ${result.text}`).toBe(false);
    }
  });
});

describe("Claude Code's tools", () => {
  it('Write { file_path, content }', async () => {
    expect(await call('Write', { file_path: 'out/report.md', content: 'hello' })).toMatchObject({ isError: false, text: 'wrote out/report.md (5 bytes)' });
    expect(readFileSync(join(root, 'out', 'report.md'), 'utf8')).toBe('hello');
  });

  it('Read { file_path, offset?, limit? }', async () => {
    expect(await call('Read', { file_path: 'notes/a.md' })).toMatchObject({ isError: false, text: 'alpha\nbeta\ngamma\n' });
    expect((await call('Read', { file_path: join(root, 'notes', 'a.md'), offset: 2, limit: 1 })).text).toBe('beta\n');
  });

  it('Edit { file_path, old_string, new_string, replace_all? }', async () => {
    expect(await call('Edit', { file_path: 'notes/a.md', old_string: 'beta', new_string: 'BETA' })).toMatchObject({
      isError: false,
      text: 'edited notes/a.md (1 replacement)',
    });
    writeFileSync(join(root, 'twice.txt'), 'a a');
    expect(await call('Edit', { file_path: 'twice.txt', old_string: 'a', new_string: 'b' })).toMatchObject({ isError: true });
    expect((await call('Edit', { file_path: 'twice.txt', old_string: 'a', new_string: 'b', replace_all: true })).text).toBe('edited twice.txt (2 replacements)');
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('alpha\nBETA\ngamma\n');
    expect(readFileSync(join(root, 'twice.txt'), 'utf8')).toBe('b b');
  });
});

describe("the filesystem server's tools", () => {
  it('read_text_file { path, head?, tail? }', async () => {
    expect((await call('read_text_file', { path: 'notes/a.md' })).text).toBe('alpha\nbeta\ngamma\n');
    expect((await call('read_text_file', { path: 'notes/a.md', head: 1 })).text).toBe('alpha\n');
    expect((await call('read_text_file', { path: 'notes/a.md', tail: 1 })).text).toBe('gamma\n');
  });

  it('write_file { path, content }', async () => {
    expect(await call('write_file', { path: 'b.md', content: 'bee' })).toMatchObject({ isError: false, text: 'wrote b.md (3 bytes)' });
    expect(readFileSync(join(root, 'b.md'), 'utf8')).toBe('bee');
  });

  it('edit_file { path, edits: [{ oldText, newText }] }', async () => {
    const result = await call('edit_file', { path: 'notes/a.md', edits: [{ oldText: 'alpha', newText: 'one' }, { oldText: 'gamma', newText: 'three' }] });
    expect(result).toMatchObject({ isError: false, text: 'edited notes/a.md (2 replacements)' });
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('one\nbeta\nthree\n');
  });

  it('edit_file { dryRun: true } writes nothing', async () => {
    const result = await call('edit_file', { path: 'notes/a.md', edits: [{ oldText: 'alpha', newText: 'one' }], dryRun: true });
    expect(result).toMatchObject({ isError: false, text: 'would edit notes/a.md (1 replacement; dry run, nothing written)' });
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('alpha\nbeta\ngamma\n');
  });

  it('list_directory { path }', async () => {
    writeFileSync(join(root, 'b.txt'), '');
    expect(await call('list_directory', { path: '.' })).toMatchObject({ isError: false, text: '[FILE] b.txt\n[DIR] notes' });
    // No path: the workspace itself.
    expect((await call('list_directory', {})).text).toBe('[FILE] b.txt\n[DIR] notes');
  });

  it('lists a name that is not valid UTF-8 escaped and marked', async () => {
    writeFileSync(Buffer.concat([Buffer.from(`${root}/notes/`), Buffer.from([0x66, 0xff, 0x2e, 0x74])]), '');
    expect((await call('list_directory', { path: 'notes' })).text).toBe('[FILE] a.md\n[FILE] f\\xff.t  (name is not valid UTF-8; shown escaped)');
  });
});

describe('its own tools', () => {
  it('read_file { path } (a JSON file also gives json)', async () => {
    writeFileSync(join(root, 'data.json'), '{"n":1}');
    expect(await call('read_file', { path: 'data.json' })).toMatchObject({ isError: false, text: '{"n":1}', json: { n: 1 } });
  });

  it('write_file, edit_file { path, old_string, new_string }, list_directory', async () => {
    expect((await call('write_file', { path: 'new/c.md', content: 'see' })).text).toBe('wrote new/c.md (3 bytes)');
    expect((await call('edit_file', { path: 'new/c.md', old_string: 'see', new_string: 'sea' })).text).toBe('edited new/c.md (1 replacement)');
    expect((await call('list_directory', { path: 'new' })).text).toBe('[FILE] c.md');
    expect(readFileSync(join(root, 'new', 'c.md'), 'utf8')).toBe('sea');
  });

  it('takes either path name from any tool (a mapping may pass one shape to the other name)', async () => {
    expect((await call('read_file', { file_path: 'notes/a.md', limit: 1 })).text).toBe('alpha\n');
    expect((await call('Read', { path: 'notes/a.md', offset: 3 })).text).toBe('gamma\n');
  });
});

describe('failures are isError results, never rejections', () => {
  it.each([
    ['Read', { file_path: '../outside/secret.txt' }],
    ['read_text_file', { path: 'notes/../../outside/secret.txt' }],
    ['Write', { file_path: '/etc/ensemble-should-not-exist', content: 'x' }],
    ['write_file', { path: 'a\0b', content: 'x' }],
  ])('%s refuses a path outside the workspace: %j', async (tool, args) => {
    const result = await call(tool, args);
    expect(result.isError).toBe(true);
    expect(result.text).toMatch(/is refused/);
    expect(result.text).toContain(root);
  });

  it('refuses a symbolic link to a file outside', async () => {
    symlinkSync(join(base, 'outside', 'secret.txt'), join(root, 'link'));
    const result = await call('Edit', { file_path: 'link', old_string: 'secret', new_string: 'pwned' });
    expect(result).toMatchObject({ isError: true });
    expect(result.text).toMatch(/symbolic link/);
    expect(readFileSync(join(base, 'outside', 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('reports a missing file', async () => {
    expect(await call('Read', { file_path: 'missing.md' })).toMatchObject({ isError: true, text: expect.stringMatching(/no such file/) });
  });

  it('reports an unknown tool, naming the ones it knows', async () => {
    const result = await call('delete_file', { path: 'notes/a.md' });
    expect(result).toMatchObject({ isError: true, text: expect.stringMatching(/unknown tool "delete_file"/) });
    for (const alias of Object.keys(BUILTIN_FILE_ALIASES)) expect(result.text).toContain(alias);
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('alpha\nbeta\ngamma\n');
  });

  it.each([
    ['Write', { file_path: 'a.md' }, /"content" must be a string/],
    ['Read', {}, /"file_path" must be a string/],
    ['read_file', { path: 42 }, /"path" must be a string/],
    ['Read', { file_path: 'notes/a.md', offset: -1 }, /"offset" must be a whole number/],
    ['read_text_file', { path: 'notes/a.md', head: 1, tail: 1 }, /give "tail", or "offset"\/"limit"\/"head", not both/],
    ['edit_file', { path: 'notes/a.md', edits: [{ oldText: 'a' }] }, /"edits\[0\]\.newText" must be a string/],
    ['edit_file', { path: 'notes/a.md', edits: [] }, /"edits" must be a list of \{ oldText, newText \}/],
    ['Edit', { file_path: 'notes/a.md', old_string: 'beta', new_string: 'x', replace_all: 'yes' }, /"replace_all" must be true or false/],
  ])('reports bad arguments to %s: %j', async (tool, args, message) => {
    expect(await call(tool, args)).toMatchObject({ isError: true, text: expect.stringMatching(message) });
  });

  it('resolves even when given no argument object at all', async () => {
    const result = await callBuiltinFileTool(root, 'Read', null as unknown as Record<string, unknown>);
    expect(result).toMatchObject({ isError: true, text: expect.stringMatching(/"file_path" must be a string/) });
  });
});

describe('concurrent calls', () => {
  it('each get their own result', async () => {
    const results = await Promise.all(Array.from({ length: 5 }, (_, index) => call('write_file', { path: `many/${index}.txt`, content: 'x'.repeat(index) })));
    expect(results.map((result) => result.text)).toEqual(Array.from({ length: 5 }, (_, index) => `wrote many/${index}.txt (${index} bytes)`));
    expect((await call('list_directory', { path: 'many' })).text.split('\n')).toHaveLength(5);
  });
});
