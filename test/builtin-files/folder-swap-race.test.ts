/**
 * Regression: a folder of the workspace swapped for a symbolic link to an
 * outside folder between check and use (`renameat2(RENAME_EXCHANGE)` in a
 * tight loop) let 343 of 1,500 reads return the outside file and 391 of
 * 1,500 writes land outside. The swapper here is a real process (python3 with
 * ctypes: Node has no renameat2, coreutils 9.1 no `mv --exchange`) that
 * exchanges `ws/d` (a folder) and `ws/l` (a link to `outside/`) until it is
 * told to stop, while 1,000 reads and 1,000 writes go through the built-in
 * files. Nothing outside may be read or written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { callBuiltinFileTool } from '../../actors/builtin-files.js';

const MARKER = 'OUTSIDE-MARKER-never-to-be-read';
const CALLS = 1_000;
/** Calls in flight at once, so the walks of several calls interleave with the swaps. */
const CONCURRENCY = 8;

const SWAPPER = `
import ctypes, os, signal, sys
libc = ctypes.CDLL(None, use_errno=True)
a, b = os.fsencode(sys.argv[1]), os.fsencode(sys.argv[2])
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
swaps = 0
def swap():
    global swaps
    if libc.renameat2(-100, a, -100, b, 2) != 0:
        sys.stderr.write('renameat2 failed: errno %d\\n' % ctypes.get_errno())
        sys.exit(1)
    swaps += 1
swap()
sys.stdout.write('ready\\n')
sys.stdout.flush()
while not stop:
    swap()
sys.stdout.write('swaps %d\\n' % swaps)
sys.stdout.flush()
`;

let base: string;
let root: string;
let outside: string;
let swapper: ChildProcess | undefined;
const failures = new Set<string>();

beforeEach(() => {
  base = realpathSync(mkdtempSync(join(tmpdir(), 'ensemble-swap-')));
  root = join(base, 'ws');
  outside = join(base, 'outside');
  mkdirSync(join(root, 'd'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(root, 'd', 'f.txt'), 'inside');
  writeFileSync(join(outside, 'f.txt'), MARKER);
  symlinkSync(outside, join(root, 'l'));
});

afterEach(() => {
  swapper?.kill('SIGKILL');
  swapper = undefined;
  rmSync(base, { recursive: true, force: true });
});

/** Starts the swapper; resolves once it has swapped once, with a function that stops it and gives its swap count. */
async function startSwapping(): Promise<() => Promise<number>> {
  const child = spawn('python3', ['-c', SWAPPER, join(root, 'd'), join(root, 'l')], { stdio: ['ignore', 'pipe', 'inherit'] });
  swapper = child;
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const first = await lines.next();
  expect(first.value).toBe('ready');
  return async () => {
    child.kill('SIGTERM');
    const last = await lines.next();
    return Number(String(last.value).replace('swaps ', ''));
  };
}

/** Runs `count` calls, `CONCURRENCY` at a time, and tallies their results. */
async function tally(count: number, makeCall: (index: number) => Promise<{ text: string; isError: boolean }>): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const result = await makeCall(next++);
      if (result.isError && !/is refused/.test(result.text)) failures.add(result.text);
      const key = result.isError ? (/is refused/.test(result.text) ? 'refused' : 'failed') : result.text.startsWith('wrote') ? 'written' : result.text;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, lane));
  return counts;
}

it('reads and writes never reach outside while a folder is swapped for a link to outside in a loop', async () => {
  const stop = await startSwapping();
  const reads = await tally(CALLS, () => callBuiltinFileTool(root, 'read_file', { path: 'd/f.txt' }));
  const writes = await tally(CALLS, (index) => callBuiltinFileTool(root, 'write_file', { path: `d/w-${index}.txt`, content: MARKER }));
  const swaps = await stop();

  if (failures.size > 0) console.log('other failures:', [...failures]);
  console.log(`folder swap race: ${swaps} swaps; reads ${JSON.stringify(Object.fromEntries(reads))}; writes ${JSON.stringify(Object.fromEntries(writes))}`);
  // Nothing outside was read...
  expect(reads.get(MARKER)).toBeUndefined();
  expect([...reads.keys()].sort()).toEqual(expect.arrayContaining(['inside']));
  for (const key of reads.keys()) expect(['inside', 'refused', 'failed']).toContain(key);
  // ...nor written: the outside folder holds what it held.
  expect(readdirSync(outside)).toEqual(['f.txt']);
  expect(readFileSync(join(outside, 'f.txt'), 'utf8')).toBe(MARKER);
  // The race was run: calls met the link (refused) and the folder (served).
  expect(reads.get('refused') ?? 0).toBeGreaterThan(0);
  expect(writes.get('refused') ?? 0).toBeGreaterThan(0);
  expect(writes.get('written') ?? 0).toBeGreaterThan(0);
  // Every write that said so landed in the folder, wherever the swaps left it.
  const folder = lstatSync(join(root, 'd')).isDirectory() ? join(root, 'd') : join(root, 'l');
  expect(readdirSync(folder).filter((name) => name.startsWith('w-'))).toHaveLength(writes.get('written')!);
  // And no write left its temporary file behind.
  expect(readdirSync(folder).filter((name) => name.startsWith('.ensemble-'))).toEqual([]);
});
