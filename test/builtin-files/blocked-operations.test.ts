/**
 * Regression: task and run `timeoutMs` did not apply to the built-in file
 * operations, and a cancel did not end one, so a blocked file system call
 * hung the run forever.
 *
 * A real blocked file system: every thread of libuv's pool (where Node runs
 * `open`, `realpath`, `read`…) is held by a blocking `open` of a FIFO that has
 * no writer yet, so any file operation started after them waits, as it would
 * on a hung network mount. Each test releases the pool (a child process opens
 * the FIFOs for writing) before it ends.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { callBuiltinFileTool } from '../../actors/builtin-files.js';
import { writeWorkspaceFile } from '../../actors/workspace-files.js';
import type { ToolResult } from '../../src/core/results.js';
import type { ServerReply, ServerReport } from '../../src/core/server-port.js';
import type { StdioServerSpec } from '../../src/core/workflow.js';
import { CallRouter, type RunScope } from '../../src/engine/call-router.js';

/** libuv's pool size: the FIFO opens needed to hold every thread. */
const POOL_THREADS = Number(process.env.UV_THREADPOOL_SIZE ?? 4);

let base: string;
let root: string;
let release: (() => Promise<void>) | undefined;

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ensemble-blocked-')));
  root = join(base, 'ws');
  mkdirSync(root);
});

afterEach(async () => {
  await release?.();
  release = undefined;
  rmSync(base, { recursive: true, force: true });
});

/** Holds every pool thread in a blocking FIFO open; `release` frees them and waits until they are free. */
function blockFileSystem(): void {
  const fifos = Array.from({ length: POOL_THREADS }, (_, index) => join(base, `block-${index}`));
  for (const fifo of fifos) execFileSync('mkfifo', [fifo]);
  const held: Promise<FileHandle>[] = fifos.map((fifo) => open(fifo, 'r'));
  release = async () => {
    release = undefined;
    // Opening each FIFO for writing (in another process: ours has no thread left) ends each blocking open.
    const writer = spawn('sh', ['-c', 'for f; do : > "$f"; done', 'sh', ...fifos], { stdio: 'ignore' });
    await new Promise((resolve) => writer.once('exit', resolve));
    for (const handle of await Promise.all(held)) await handle.close();
  };
}

describe('a built-in file call on a blocked file system', () => {
  it('ends at its timeout with CALL_TIMEOUT', async () => {
    blockFileSystem();
    const error = await callBuiltinFileTool(root, 'Read', { file_path: 'a.txt' }, { timeoutMs: 50 }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ code: 'CALL_TIMEOUT', message: 'builtin:files: Read timed out after 50 ms' });
  });

  it('ends at once with CANCELLED when its signal is aborted', async () => {
    blockFileSystem();
    const controller = new AbortController();
    const call = callBuiltinFileTool(root, 'write_file', { path: 'a.txt', content: 'x' }, { signal: controller.signal });
    controller.abort('run cancelled');
    await expect(call).rejects.toMatchObject({ code: 'CANCELLED', message: 'builtin:files: write_file was cancelled (run cancelled)' });
  });

  it('is refused before it starts when its signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort('too late');
    await expect(callBuiltinFileTool(root, 'write_file', { path: 'a.txt', content: 'x' }, { signal: controller.signal })).rejects.toMatchObject({ code: 'CANCELLED' });
    expect(existsSync(join(root, 'a.txt'))).toBe(false);
  });

  it('never commits a write aborted while it waited, once the file system answers again', async () => {
    blockFileSystem();
    const controller = new AbortController();
    const write = writeWorkspaceFile(root, 'late.txt', 'should never land', { signal: controller.signal }).then(
      () => 'written',
      (reason: unknown) => reason,
    );
    controller.abort('cancelled while blocked');
    await release!();
    expect(await write).toBe('cancelled while blocked');
    expect(existsSync(join(root, 'late.txt'))).toBe(false);
  });

  it('answers normally when the file system is not blocked (the timeout does not fire)', async () => {
    const result: ToolResult = await callBuiltinFileTool(root, 'write_file', { path: 'a.txt', content: 'x' }, { timeoutMs: 60_000 });
    expect(result).toMatchObject({ isError: false, text: 'wrote a.txt (1 bytes)' });
    expect(readFileSync(join(root, 'a.txt'), 'utf8')).toBe('x');
  });
});

describe('the call router gives a built-in file call its timeout and cancel', () => {
  /** A router whose server `docs` is down for good, with the built-in files as its fallback. */
  function createRouter(spec: Partial<StdioServerSpec> = {}) {
    const router = new CallRouter();
    const pool = router.addPool('docs', { kind: 'stdio', replicas: 1, command: 'unused', args: [], env: {}, cwd: '/', fallback: [{ kind: 'builtin', builtin: 'files', tools: {} }], ...spec });
    router.updateMember(pool.members[0]!, { state: 'unavailable', error: { code: 'SERVER_UNAVAILABLE', message: 'server "docs" is down', server: 'docs' }, final: true });
    const scope: RunScope = { runId: 'r', workspace: root, timeoutMs: 60_000, calls: new Map() };
    const replies = new Map<string, (reply: ServerReply) => void>();
    const requester = { send: (event: ServerReport) => 'callId' in event && replies.get(event.callId)?.(event) };
    const call = (callId: string, timeoutMs?: number): Promise<ServerReply> => {
      const reply = new Promise<ServerReply>((resolve) => replies.set(callId, resolve));
      router.request({ type: 'server.call', server: 'docs', callId, tool: 'Write', args: { file_path: `${callId}.txt`, content: 'x' }, ...(timeoutMs ? { timeoutMs } : {}) }, requester, scope);
      return reply;
    };
    return { router, scope, call };
  }

  it("fails the call with CALL_TIMEOUT at the task's timeoutMs", async () => {
    const { call } = createRouter();
    blockFileSystem();
    expect(await call('c1', 50)).toMatchObject({ type: 'server.failed', server: 'docs', error: { code: 'CALL_TIMEOUT', server: 'docs', message: 'builtin:files: Write timed out after 50 ms' } });
  });

  it("fails the call with CALL_TIMEOUT at the server's timeoutMs", async () => {
    const { call } = createRouter({ timeoutMs: 40 });
    blockFileSystem();
    expect(await call('c1')).toMatchObject({ type: 'server.failed', error: { code: 'CALL_TIMEOUT', message: 'builtin:files: Write timed out after 40 ms' } });
  });

  it('fails the call with CANCELLED on a cancel, and on the end of the run', async () => {
    const { router, scope, call } = createRouter();
    blockFileSystem();
    const cancelled = call('c1');
    router.request({ type: 'server.cancel', server: 'docs', callId: 'c1', reason: 'task cancelled' }, { send: () => undefined }, scope);
    expect(await cancelled).toMatchObject({ type: 'server.failed', error: { code: 'CANCELLED', server: 'docs', message: 'builtin:files: Write was cancelled (task cancelled)' } });
    const abandoned = call('c2');
    router.abandon(scope, 'run cancelled');
    expect(await abandoned).toMatchObject({ type: 'server.failed', error: { code: 'CANCELLED', message: 'builtin:files: Write was cancelled (run cancelled)' } });
    expect(scope.calls.size).toBe(0);
  });
});
