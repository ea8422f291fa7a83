/**
 * Regression, as a user met it: a FIFO inside the workspace hung `ensemble
 * run` forever (the built-in files opened it and waited for a writer), and
 * after SIGTERM the run said "cancelled" but the process stayed alive for 20
 * minutes. The CLI runs as a real process on a workflow whose primary server
 * never starts, so the built-in files serve its tasks.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { runEnsemble } from '../support/cli.js';
import { createTempDir, fixtureServer, ROOT } from '../support/fixture.js';

let temp: { dir: string; remove: () => void };

beforeEach(() => {
  temp = createTempDir('ensemble-fifo-cli-');
  mkdirSync(join(temp.dir, 'ws'));
  execFileSync('mkfifo', [join(temp.dir, 'ws', 'pipe')]);
});

afterEach(() => temp.remove());

/** A workflow: `primary` exits at start (the built-in files stand in); `latch` serves `hang`. */
function writeFlow(tasks: string): string {
  const primary = fixtureServer('--exit-at-start', '1');
  const latch = fixtureServer();
  const path = join(temp.dir, 'workflow.yaml');
  writeFileSync(
    path,
    `name: fifo
workspace: ws
servers:
  primary:
    command: ${JSON.stringify(primary.command)}
    args: ${JSON.stringify(primary.args)}
    fallback:
      - builtin: files
    recovery: { initialDelayMs: 600000, maxDelayMs: 600000 }
  latch:
    command: ${JSON.stringify(latch.command)}
    args: ${JSON.stringify(latch.args)}
tasks:
${tasks}`,
  );
  return path;
}

it('ensemble run with a FIFO in the workspace finishes: the built-in files refuse it at once', async () => {
  const path = writeFlow(`  - { id: pipe, server: primary, tool: Read, args: { file_path: pipe } }\n`);
  const result = await runEnsemble(temp.dir, 'run', path, '--json');
  const report = JSON.parse(result.stdout) as { status: string; tasks: { id: string; servedBy?: string; text?: string; error?: { message: string } }[] };
  expect(report.status).toBe('failed');
  expect(result.code).toBe(1);
  expect(JSON.stringify(report.tasks[0])).toContain('cannot read \\"pipe\\": it is a FIFO, not a regular file');
});

it('after SIGTERM, ensemble run exits (the built-in files left nothing pending)', async () => {
  const path = writeFlow(
    `  - { id: pipe, server: primary, tool: Read, args: { file_path: pipe }, optional: true }\n  - { id: wait, server: latch, tool: hang, args: {}, needs: [] }\n`,
  );
  const child = spawn(process.execPath, [join(ROOT, 'bin/ensemble.js'), 'run', path], { cwd: temp.dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Once `wait` hangs on the latch and the FIFO task is answered, the run has nothing left but the hang.
  const seen = new Set<string>();
  for await (const line of createInterface({ input: child.stderr! })) {
    if (/^ {2}… wait /.test(line)) seen.add('wait');
    if (/^ {2}✗ pipe .*it is a FIFO/.test(line)) seen.add('pipe');
    if (seen.size === 2) break;
  }
  expect([...seen].sort()).toEqual(['pipe', 'wait']);
  child.kill('SIGTERM');
  expect(await exited).toBe(130);
});
