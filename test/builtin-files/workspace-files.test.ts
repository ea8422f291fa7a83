/**
 * The workspace file operations: what they do, and every way a path could
 * leave the workspace (`..`, absolute paths, symbolic links to files and
 * folders, dangling links, NUL) being refused before anything is touched.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EnsembleError, type ErrorCode } from '../../src/core/errors.js';
import {
  editWorkspaceFile,
  listWorkspaceDirectory,
  readWorkspaceFile,
  writeWorkspaceFile,
} from '../../actors/workspace-files.js';

let base: string;
let root: string;
let outside: string;

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ensemble-workspace-')));
  root = join(base, 'ws');
  outside = join(base, 'outside');
  mkdirSync(join(root, 'notes'), { recursive: true });
  mkdirSync(join(outside, 'dir'), { recursive: true });
  writeFileSync(join(root, 'notes', 'a.md'), 'alpha\nbeta\ngamma\n');
  writeFileSync(join(outside, 'secret.txt'), 'secret');
  writeFileSync(join(outside, 'dir', 'inner.txt'), 'inner');
});

afterEach(() => {
  rmSync(base, { recursive: true, force: true });
});

/** Awaits a rejection and returns it as an EnsembleError with the expected code. */
async function expectError(promise: Promise<unknown>, code: ErrorCode): Promise<EnsembleError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(EnsembleError);
  expect((error as EnsembleError).code).toBe(code);
  return error as EnsembleError;
}

async function expectRefused(promise: Promise<unknown>, given: string): Promise<EnsembleError> {
  const error = await expectError(promise, 'PATH_OUTSIDE_WORKSPACE');
  expect(error.message).toContain(JSON.stringify(given));
  expect(error.message).toContain(root);
  expect(error.field).toBe('path');
  return error;
}

describe('paths', () => {
  it('resolves a relative path against the real root', async () => {
    await expect(readWorkspaceFile(root, 'notes/a.md')).resolves.toBe('alpha\nbeta\ngamma\n');
    await expect(writeWorkspaceFile(root, './notes//b.md', 'b')).resolves.toEqual({ path: join(root, 'notes', 'b.md'), bytes: 1 });
    await expect(listWorkspaceDirectory(root, '')).resolves.toHaveLength(1);
    await expect(listWorkspaceDirectory(root, '.')).resolves.toHaveLength(1);
  });

  it('accepts ".." that stays inside the workspace', async () => {
    await expect(readWorkspaceFile(root, 'notes/../notes/a.md')).resolves.toBe('alpha\nbeta\ngamma\n');
  });

  it.each(['../outside/secret.txt', 'a/../../outside/secret.txt', 'notes/../../x', '..', '../ws/notes/a.md'])('refuses "%s", whose ".." leaves the root', async (path) => {
    await expectRefused(readWorkspaceFile(root, path), path);
    await expectRefused(writeWorkspaceFile(root, path, 'pwned'), path);
  });

  it('refuses an absolute path outside the root', async () => {
    const path = join(outside, 'secret.txt');
    await expectRefused(readWorkspaceFile(root, path), path);
    await expectRefused(writeWorkspaceFile(root, path, 'pwned'), path);
    await expectRefused(readWorkspaceFile(root, '/etc/passwd'), '/etc/passwd');
    expect(readFileSync(path, 'utf8')).toBe('secret');
  });

  it('refuses an absolute path that climbs out of the root with ".."', async () => {
    const path = `${root}/../outside/secret.txt`;
    await expectRefused(readWorkspaceFile(root, path), path);
  });

  it('accepts an absolute path inside the root', async () => {
    await expect(readWorkspaceFile(root, join(root, 'notes', 'a.md'))).resolves.toBe('alpha\nbeta\ngamma\n');
    await expect(writeWorkspaceFile(root, join(root, 'new', 'deep', 'file.md'), 'x')).resolves.toEqual({ path: join(root, 'new', 'deep', 'file.md'), bytes: 1 });
  });

  it('works when the root itself is reached through a symbolic link', async () => {
    const linkedRoot = join(base, 'ws-link');
    symlinkSync(root, linkedRoot);
    await expect(writeWorkspaceFile(linkedRoot, 'notes/a.md', 'one')).resolves.toEqual({ path: join(root, 'notes', 'a.md'), bytes: 3 });
    await expect(readWorkspaceFile(linkedRoot, join(linkedRoot, 'notes', 'a.md'))).resolves.toBe('one');
    await expect(readWorkspaceFile(linkedRoot, join(root, 'notes', 'a.md'))).resolves.toBe('one');
  });

  it('refuses a path holding NUL', async () => {
    const error = await expectRefused(readWorkspaceFile(root, 'notes/a.md\0.txt'), 'notes/a.md\0.txt');
    expect(error.message).toMatch(/NUL/);
  });

  it('says clearly when the workspace root does not exist', async () => {
    const error = await expectError(readWorkspaceFile(join(base, 'missing'), 'a.md'), 'TOOL_ERROR');
    expect(error.message).toMatch(/workspace .*missing.* cannot be opened/);
  });
});

describe('symbolic links', () => {
  it('refuses reading and writing through a link to a file outside', async () => {
    symlinkSync(join(outside, 'secret.txt'), join(root, 'secret-link'));
    await expectRefused(readWorkspaceFile(root, 'secret-link'), 'secret-link');
    await expectRefused(writeWorkspaceFile(root, 'secret-link', 'pwned'), 'secret-link');
    await expectRefused(editWorkspaceFile(root, 'secret-link', { old: 'secret', new: 'pwned' }), 'secret-link');
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('refuses reading, writing and listing through a link to a folder outside', async () => {
    symlinkSync(join(outside, 'dir'), join(root, 'dir-link'));
    await expectRefused(readWorkspaceFile(root, 'dir-link/inner.txt'), 'dir-link/inner.txt');
    await expectRefused(writeWorkspaceFile(root, 'dir-link/new.txt', 'pwned'), 'dir-link/new.txt');
    await expectRefused(writeWorkspaceFile(root, 'dir-link/sub/new.txt', 'pwned'), 'dir-link/sub/new.txt');
    await expectRefused(listWorkspaceDirectory(root, 'dir-link'), 'dir-link');
    expect(existsSync(join(outside, 'dir', 'new.txt'))).toBe(false);
    expect(existsSync(join(outside, 'dir', 'sub'))).toBe(false);
  });

  it('refuses a link to a folder outside deep in the path', async () => {
    mkdirSync(join(root, 'a', 'b'), { recursive: true });
    symlinkSync(join(outside, 'dir'), join(root, 'a', 'b', 'c'));
    await expectRefused(readWorkspaceFile(root, 'a/b/c/inner.txt'), 'a/b/c/inner.txt');
    await expectRefused(writeWorkspaceFile(root, join(root, 'a/b/c/x/y.txt'), 'pwned'), join(root, 'a/b/c/x/y.txt'));
    expect(existsSync(join(outside, 'dir', 'x'))).toBe(false);
  });

  it('refuses a relative link that climbs out', async () => {
    symlinkSync('../outside/secret.txt', join(root, 'relative-link'));
    await expectRefused(readWorkspaceFile(root, 'relative-link'), 'relative-link');
  });

  it('follows a link that stays inside the workspace', async () => {
    symlinkSync(join(root, 'notes'), join(root, 'notes-link'));
    symlinkSync('notes/a.md', join(root, 'a-link.md'));
    await expect(readWorkspaceFile(root, 'notes-link/a.md')).resolves.toBe('alpha\nbeta\ngamma\n');
    await expect(readWorkspaceFile(root, 'a-link.md')).resolves.toBe('alpha\nbeta\ngamma\n');
    await writeWorkspaceFile(root, 'notes-link/b.md', 'through the link');
    expect(readFileSync(join(root, 'notes', 'b.md'), 'utf8')).toBe('through the link');
  });

  it('refuses writing through a dangling link that points outside', async () => {
    symlinkSync(join(outside, 'missing.txt'), join(root, 'dangling'));
    symlinkSync(join(outside, 'no-such-dir'), join(root, 'dangling-dir'));
    await expectRefused(writeWorkspaceFile(root, 'dangling', 'pwned'), 'dangling');
    await expectRefused(writeWorkspaceFile(root, 'dangling-dir/x.txt', 'pwned'), 'dangling-dir/x.txt');
    expect(existsSync(join(outside, 'missing.txt'))).toBe(false);
    expect(existsSync(join(outside, 'no-such-dir'))).toBe(false);
  });

  it('writes through a dangling link that points inside, to where it points', async () => {
    symlinkSync(join(root, 'later', 'file.md'), join(root, 'later-link'));
    const written = await writeWorkspaceFile(root, 'later-link', 'now');
    expect(written.path).toBe(join(root, 'later', 'file.md'));
    expect(readFileSync(join(root, 'later', 'file.md'), 'utf8')).toBe('now');
  });

  it('gives a clear error for a loop of links', async () => {
    symlinkSync(join(root, 'loop-b'), join(root, 'loop-a'));
    symlinkSync(join(root, 'loop-a'), join(root, 'loop-b'));
    const error = await expectError(writeWorkspaceFile(root, 'loop-a', 'x'), 'TOOL_ERROR');
    expect(error.message).toMatch(/symbolic links/);
  });
});

describe('very long names', () => {
  const longName = 'x'.repeat(300);

  it('gives a clear error for a 300-character name on read, write, edit and list', async () => {
    const attempts = [
      () => readWorkspaceFile(root, longName),
      () => writeWorkspaceFile(root, `notes/${longName}`, 'x'),
      () => editWorkspaceFile(root, longName, { old: 'a', new: 'b' }),
      () => listWorkspaceDirectory(root, longName),
    ];
    for (const attempt of attempts) {
      const error = await expectError(attempt(), 'TOOL_ERROR');
      expect(error.message).toMatch(/too long/);
      expect(error.message).toMatch(/300 bytes in one name/);
      // The path is shown shortened, not in full.
      expect(error.message.length).toBeLessThan(400);
    }
  });
});

describe('readWorkspaceFile', () => {
  it('reads a file whole', async () => {
    await expect(readWorkspaceFile(root, 'notes/a.md')).resolves.toBe('alpha\nbeta\ngamma\n');
  });

  it('reads a range of lines: offset (1-based) and limit', async () => {
    await expect(readWorkspaceFile(root, 'notes/a.md', { offset: 2, limit: 1 })).resolves.toBe('beta\n');
    await expect(readWorkspaceFile(root, 'notes/a.md', { offset: 2 })).resolves.toBe('beta\ngamma\n');
    await expect(readWorkspaceFile(root, 'notes/a.md', { limit: 2 })).resolves.toBe('alpha\nbeta\n');
    await expect(readWorkspaceFile(root, 'notes/a.md', { offset: 10 })).resolves.toBe('');
  });

  it('reads the last lines', async () => {
    await expect(readWorkspaceFile(root, 'notes/a.md', { tail: 2 })).resolves.toBe('beta\ngamma\n');
    writeFileSync(join(root, 'no-newline.txt'), 'one\ntwo');
    await expect(readWorkspaceFile(root, 'no-newline.txt', { tail: 1 })).resolves.toBe('two');
  });

  it('says so when the file is missing or is a folder', async () => {
    expect((await expectError(readWorkspaceFile(root, 'notes/missing.md'), 'TOOL_ERROR')).message).toMatch(/no such file/);
    expect((await expectError(readWorkspaceFile(root, 'notes'), 'TOOL_ERROR')).message).toMatch(/is a folder/);
  });
});

describe('writeWorkspaceFile', () => {
  it('writes a file, creating its folders inside the root', async () => {
    const written = await writeWorkspaceFile(root, 'out/deep/report.md', '# Report ✓\n');
    expect(written).toEqual({ path: join(root, 'out', 'deep', 'report.md'), bytes: Buffer.byteLength('# Report ✓\n') });
    expect(readFileSync(join(root, 'out', 'deep', 'report.md'), 'utf8')).toBe('# Report ✓\n');
  });

  it('replaces what was there', async () => {
    await writeWorkspaceFile(root, 'notes/a.md', 'short');
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('short');
  });

  it('says so when a part of the path is a file', async () => {
    const error = await expectError(writeWorkspaceFile(root, 'notes/a.md/x.txt', 'x'), 'TOOL_ERROR');
    expect(error.message).toMatch(/not a folder/);
  });
});

describe('editWorkspaceFile', () => {
  it('replaces text found exactly once', async () => {
    const edited = await editWorkspaceFile(root, 'notes/a.md', { old: 'beta', new: 'BETA' });
    expect(edited.replacements).toBe(1);
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('alpha\nBETA\ngamma\n');
  });

  it('fails when the text is not found', async () => {
    const error = await expectError(editWorkspaceFile(root, 'notes/a.md', { old: 'delta', new: 'x' }), 'TOOL_ERROR');
    expect(error.message).toMatch(/not found/);
  });

  it('fails when the text occurs more than once, unless replaceAll', async () => {
    writeFileSync(join(root, 'twice.txt'), 'a-b-a');
    const error = await expectError(editWorkspaceFile(root, 'twice.txt', { old: 'a', new: 'c' }), 'TOOL_ERROR');
    expect(error.message).toMatch(/occurs 2 times/);
    expect(readFileSync(join(root, 'twice.txt'), 'utf8')).toBe('a-b-a');
    const edited = await editWorkspaceFile(root, 'twice.txt', { old: 'a', new: 'c', replaceAll: true });
    expect(edited.replacements).toBe(2);
    expect(readFileSync(join(root, 'twice.txt'), 'utf8')).toBe('c-b-c');
  });

  it('inserts replacement text literally ($& is not a pattern)', async () => {
    await editWorkspaceFile(root, 'notes/a.md', { old: 'beta', new: '$&$1' });
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('alpha\n$&$1\ngamma\n');
  });

  it('applies several edits in order, and writes nothing when one fails', async () => {
    await editWorkspaceFile(root, 'notes/a.md', [
      { old: 'alpha', new: 'one' },
      { old: 'one\nbeta', new: 'two' },
    ]);
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('two\ngamma\n');
    const error = await expectError(editWorkspaceFile(root, 'notes/a.md', [{ old: 'two', new: 'three' }, { old: 'missing', new: 'x' }]), 'TOOL_ERROR');
    expect(error.message).toMatch(/edit 2 of 2/);
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('two\ngamma\n');
  });

  it('checks without writing on a dry run', async () => {
    const edited = await editWorkspaceFile(root, 'notes/a.md', { old: 'beta', new: 'BETA' }, { dryRun: true });
    expect(edited.replacements).toBe(1);
    expect(readFileSync(join(root, 'notes', 'a.md'), 'utf8')).toBe('alpha\nbeta\ngamma\n');
  });

  it('refuses an empty text to replace', async () => {
    await expectError(editWorkspaceFile(root, 'notes/a.md', { old: '', new: 'x' }), 'TOOL_ERROR');
  });
});

describe('listWorkspaceDirectory', () => {
  it('lists files and folders sorted by name', async () => {
    writeFileSync(join(root, 'b.txt'), '');
    await expect(listWorkspaceDirectory(root, '.')).resolves.toEqual([
      { name: 'b.txt', kind: 'file', escaped: false, validUtf8: true },
      { name: 'notes', kind: 'directory', escaped: false, validUtf8: true },
    ]);
  });

  it('lists names that are not valid UTF-8 escaped, without crashing', async () => {
    const rootBytes = Buffer.from(`${root}/`);
    writeFileSync(Buffer.concat([rootBytes, Buffer.from([0x66, 0xff, 0x2e, 0x74])]), 'latin');
    writeFileSync(Buffer.concat([rootBytes, Buffer.from('é-'), Buffer.from([0xc3])]), 'truncated');
    const entries = await listWorkspaceDirectory(root, '.');
    expect(entries).toContainEqual({ name: 'f\\xff.t', kind: 'file', escaped: true, validUtf8: false });
    expect(entries).toContainEqual({ name: 'é-\\xc3', kind: 'file', escaped: true, validUtf8: false });
    expect(entries).toContainEqual({ name: 'notes', kind: 'directory', escaped: false, validUtf8: true });
  });

  it('escapes control characters so a name cannot pass for two entries', async () => {
    writeFileSync(join(root, 'two\nlines'), '');
    const entries = await listWorkspaceDirectory(root, '.');
    expect(entries).toContainEqual({ name: 'two\\x0alines', kind: 'file', escaped: true, validUtf8: true });
  });

  it('says so when the path is a file', async () => {
    const error = await expectError(listWorkspaceDirectory(root, 'notes/a.md'), 'TOOL_ERROR');
    expect(error.message).toMatch(/not a folder/);
  });
});
