/**
 * Regressions: what a workspace may hold that is not a plain file, and what
 * a refusal may say. A hard link inside the workspace overwrote the outside
 * file it shares an inode with; a FIFO hung the run forever; `/dev/zero` was
 * read to 512 MB; file reads had no size cap; refusals printed the outside
 * path a link led to, to an LLM-driven caller.
 */
import { execFileSync } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callBuiltinFileTool } from '../../actors/builtin-files.js';
import { DEFAULT_MAX_READ_BYTES, listWorkspaceDirectory, readWorkspaceFile } from '../../actors/workspace-files.js';
import { EnsembleError } from '../../src/core/errors.js';

let base: string;
let root: string;
let outside: string;
let socketServer: Server | undefined;

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ensemble-hostile-')));
  root = join(base, 'ws');
  outside = join(base, 'outside-place');
  mkdirSync(root);
  mkdirSync(join(outside, 'dir'), { recursive: true });
  writeFileSync(join(outside, 'secret.txt'), 'secret');
});

afterEach(async () => {
  await new Promise<void>((resolve) => (socketServer ? socketServer.close(() => resolve()) : resolve()));
  socketServer = undefined;
  rmSync(base, { recursive: true, force: true });
});

/** Every built-in operation on one path, as a model would call them. */
function everyOperation(path: string) {
  return {
    read: () => callBuiltinFileTool(root, 'Read', { file_path: path }),
    write: () => callBuiltinFileTool(root, 'Write', { file_path: path, content: 'pwned' }),
    edit: () => callBuiltinFileTool(root, 'Edit', { file_path: path, old_string: 'secret', new_string: 'pwned' }),
  };
}

describe('hard links', () => {
  it('refuses to read, write or edit a hard link to a file outside, and leaves that file as it was', async () => {
    linkSync(join(outside, 'secret.txt'), join(root, 'hard.txt'));
    for (const [name, operation] of Object.entries(everyOperation('hard.txt'))) {
      const result = await operation();
      expect(result.isError, name).toBe(true);
      expect(result.text, name).toMatch(/"hard.txt" is refused: it has 2 hard links/);
    }
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
    expect(statSync(join(outside, 'secret.txt')).nlink).toBe(2);
  });
});

describe('files that are not regular files', () => {
  it('refuses a FIFO at once, without blocking, on read, write and edit', async () => {
    execFileSync('mkfifo', [join(root, 'pipe')]);
    for (const [name, operation] of Object.entries(everyOperation('pipe'))) {
      const result = await operation();
      expect(result, name).toMatchObject({ isError: true, text: 'cannot ' + (name === 'edit' ? 'read' : name) + ' "pipe": it is a FIFO, not a regular file' });
    }
    // A folder holding one still lists.
    await expect(listWorkspaceDirectory(root, '.')).resolves.toEqual([{ name: 'pipe', kind: 'other', escaped: false, validUtf8: true }]);
  });

  it('refuses a socket', async () => {
    const server = createServer();
    socketServer = server;
    await new Promise<void>((resolve) => server.listen(join(root, 'sock'), resolve));
    expect(await everyOperation('sock').read()).toMatchObject({ isError: true, text: 'cannot read "sock": it is not a regular file (a socket, or a device with nothing behind it)' });
    expect(await everyOperation('sock').write()).toMatchObject({ isError: true, text: 'cannot write "sock": it is a socket, not a regular file' });
  });

  it('refuses a device such as /dev/zero, reading nothing from it', async () => {
    // The test runs as root (mknod needs it); /dev/zero is character device 1,5.
    execFileSync('mknod', [join(root, 'zero'), 'c', '1', '5']);
    expect(await everyOperation('zero').read()).toMatchObject({ isError: true, text: 'cannot read "zero": it is a device, not a regular file' });
    expect(await everyOperation('zero').write()).toMatchObject({ isError: true, text: 'cannot write "zero": it is a device, not a regular file' });
  });

  it('refuses a link to /dev/zero as outside the workspace', async () => {
    symlinkSync('/dev/zero', join(root, 'zero-link'));
    expect(await everyOperation('zero-link').read()).toMatchObject({ isError: true, text: expect.stringMatching(/"zero-link" is refused: it leads outside the workspace/) });
  });
});

describe('size caps', () => {
  it('reads a file of exactly maxReadBytes and refuses one byte more', async () => {
    writeFileSync(join(root, 'ten.txt'), '0123456789');
    await expect(readWorkspaceFile(root, 'ten.txt', { maxReadBytes: 10 })).resolves.toBe('0123456789');
    const error = await readWorkspaceFile(root, 'ten.txt', { maxReadBytes: 9 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(EnsembleError);
    expect(error).toMatchObject({ code: 'TOOL_ERROR', message: 'cannot read "ten.txt": it is 10 bytes, more than the limit of 9 (maxReadBytes); read a range of its lines from a smaller file' });
  });

  it('refuses a huge (sparse) file by its size, by default above 8 MiB, and as an edit too', async () => {
    writeFileSync(join(root, 'huge.bin'), '');
    truncateSync(join(root, 'huge.bin'), 4 * 1024 * 1024 * 1024);
    expect(DEFAULT_MAX_READ_BYTES).toBe(8 * 1024 * 1024);
    expect(await everyOperation('huge.bin').read()).toMatchObject({ isError: true, text: expect.stringMatching(/it is 4294967296 bytes, more than the limit of 8388608 \(maxReadBytes\)/) });
    expect(await everyOperation('huge.bin').edit()).toMatchObject({ isError: true, text: expect.stringMatching(/more than the limit of 8388608/) });
  });

  it('takes maxReadBytes and maxListEntries from the call', async () => {
    for (const name of ['a', 'b', 'c']) writeFileSync(join(root, name), 'xx');
    expect(await callBuiltinFileTool(root, 'read_file', { path: 'a' }, { maxReadBytes: 1 })).toMatchObject({ isError: true, text: expect.stringMatching(/limit of 1 \(maxReadBytes\)/) });
    expect(await callBuiltinFileTool(root, 'list_directory', { path: '.' }, { maxListEntries: 3 })).toMatchObject({ isError: false, text: '[FILE] a\n[FILE] b\n[FILE] c' });
    expect(await callBuiltinFileTool(root, 'list_directory', { path: '.' }, { maxListEntries: 2 })).toMatchObject({
      isError: true,
      text: 'cannot list ".": it holds more than 2 entries (the limit, maxListEntries); list a folder inside it',
    });
  });
});

describe('refusals never name a place outside', () => {
  it('names the path as given and the workspace, never where a link led', async () => {
    symlinkSync(join(outside, 'secret.txt'), join(root, 'file-link'));
    symlinkSync(join(outside, 'dir'), join(root, 'dir-link'));
    symlinkSync('../outside-place/dir', join(root, 'relative-link'));
    symlinkSync(join(outside, 'missing'), join(root, 'dangling-link'));
    linkSync(join(outside, 'secret.txt'), join(root, 'hard.txt'));
    const results = [
      ...Object.values(everyOperation('file-link')),
      ...Object.values(everyOperation('dir-link/x.txt')),
      ...Object.values(everyOperation('relative-link/x.txt')),
      ...Object.values(everyOperation('dangling-link')),
      ...Object.values(everyOperation('hard.txt')),
      () => callBuiltinFileTool(root, 'list_directory', { path: 'dir-link' }),
      () => callBuiltinFileTool(root, 'list_directory', { path: 'relative-link' }),
    ];
    for (const operation of results) {
      const result = await operation();
      expect(result.isError).toBe(true);
      expect(result.text).toMatch(/is refused/);
      expect(result.text).not.toContain('outside-place');
    }
    expect(readFileSync(join(outside, 'secret.txt'), 'utf8')).toBe('secret');
  });

  it('does not pass on Node\'s own message, which names /proc/self/fd paths', async () => {
    const result = await callBuiltinFileTool(root, 'Read', { file_path: 'missing/deeper.txt' });
    expect(result).toMatchObject({ isError: true, text: 'cannot read "missing/deeper.txt": no such file or folder' });
  });
});
