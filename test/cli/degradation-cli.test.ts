/**
 * `ensemble run` on a workflow whose primary server crashes mid-run and is
 * stood in for by the built-in files: the notification line is printed as it
 * happens (between the task lines, on stderr), `--json` reports the run as
 * degraded with what served each task and every notification, and a degraded
 * run exits 0.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/index.js';
import { runEnsemble } from '../support/cli.js';
import { createTempDir, fixtureServer } from '../support/fixture.js';

const temp = createTempDir('ensemble-degradation-cli-');
afterAll(() => temp.remove());


const ensemble = (...args: string[]) => runEnsemble(temp.dir, ...args);

/**
 * A workflow in its own folder: the fixture (crashing on its 2nd call) writes
 * into `ws`, and so do the built-in files standing in for it. Built-in files
 * are ready at once, so the fallback is up before the crash whatever the load.
 */
function writeCrashingFlow(name: string): { path: string; workspace: string } {
  const folder = join(temp.dir, name);
  mkdirSync(folder);
  const server = fixtureServer('--crash-on-call', '2');
  const flow = `name: ${name}
workspace: ws
servers:
  primary:
    command: ${JSON.stringify(server.command)}
    args: ${JSON.stringify(server.args)}
    cwd: ws
    fallback:
      - builtin: files
    recovery: { initialDelayMs: 600000, maxDelayMs: 600000 }
tasks:
  - { id: first, server: primary, tool: write_file, args: { path: first.txt, content: by the primary } }
  - { id: second, server: primary, tool: write_file, args: { path: second.txt, content: retried }, idempotent: true }
  - { id: third, server: primary, tool: write_file, args: { path: third.txt, content: by the fallback } }
`;
  const path = join(folder, 'workflow.yaml');
  writeFileSync(path, flow);
  return { path, workspace: join(folder, 'ws') };
}

describe('ensemble run on a degraded run', () => {
  it('prints the notification when it happens, between the task lines, and exits 0', async () => {
    const { path, workspace } = writeCrashingFlow('progress');
    const result = await ensemble('run', path);

    expect(result.code).toBe(0);
    const lines = result.stderr.split('\n');
    const lineOf = (pattern: RegExp) => {
      const index = lines.findIndex((line) => pattern.test(line));
      expect(index, `a stderr line matching ${pattern}\n${result.stderr}`).toBeGreaterThanOrEqual(0);
      return index;
    };
    const first = lineOf(/^ {2}✓ first {2}primary\.write_file {2}[\d.]+ ms$/);
    // The crash is told once, on the server's line; the notification then points at it.
    expect(result.stderr.split('process exited with code 1').length - 1, result.stderr).toBe(1);
    const notice = lineOf(/^ {2}! server "primary" is unavailable \(as above\); its calls now go to builtin:files; reduced functionality, no fallback for: .*\becho\b/);
    const second = lineOf(/^ {2}✓ second {2}primary\.write_file {2}[\d.]+ ms {2}\(served by builtin:files\)$/);
    const third = lineOf(/^ {2}✓ third {2}primary\.write_file {2}[\d.]+ ms {2}\(served by builtin:files\)$/);
    expect(first).toBeLessThan(notice);
    expect(notice).toBeLessThan(second);
    expect(second).toBeLessThan(third);
    expect(result.stderr).toMatch(/^degraded: 3 completed in [\d.]+ ms$/m);
    expect(result.stderr).toMatch(/^■ degraded$/m);
    expect(result.stdout).toBe('wrote first.txt\nwrote second.txt (7 bytes)\nwrote third.txt (15 bytes)\n');
    expect(['first', 'second', 'third'].map((name) => readFileSync(join(workspace, `${name}.txt`), 'utf8'))).toEqual(['by the primary', 'retried', 'by the fallback']);
  });

  it('reports status degraded, what served each task and every notification with --json, and exits 0', async () => {
    const { path } = writeCrashingFlow('json');
    const result = await ensemble('run', path, '--json');

    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!) as RunReport;
    expect(report.status).toBe('degraded');
    expect(report.error).toBeUndefined();
    expect(report.tasks.map((task) => [task.id, task.status, task.servedBy])).toEqual([
      ['first', 'completed', 'primary'],
      ['second', 'completed', 'builtin:files'],
      ['third', 'completed', 'builtin:files'],
    ]);
    expect(report.notifications).toHaveLength(1);
    expect(report.notifications[0]).toMatchObject({ level: 'warning', server: 'primary', at: expect.any(Number) });
    expect(report.notifications[0]!.message).toMatch(/^server "primary" is unavailable \(.*process exited with code 1.*\); its calls now go to builtin:files; reduced functionality, no fallback for: /);
  });
});
