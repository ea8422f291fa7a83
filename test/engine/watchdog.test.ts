/**
 * No server outlives Ensemble: when the Ensemble process is killed with
 * SIGKILL (no exit handler runs), the watchdog notices its pipe closing and
 * ends every server's process group, including a server that ignores stdin
 * EOF and traps SIGTERM, and a server's grandchild.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { createTempDir, fixtureServer, isProcessAlive, ROOT } from '../support/fixture.js';

const CHILD = join(ROOT, 'test/support/ensemble-child.ts');
const CLI = join(ROOT, 'bin/ensemble.js');

interface Pids {
  pid: number;
  grandchild: number | null;
}

describe('the server watchdog', () => {
  it('ends every server within a second or two of Ensemble being killed with SIGKILL, even one that ignores stdin EOF and SIGTERM', async () => {
    const workflow = {
      name: 'killed',
      pattern: 'parallel',
      servers: {
        stubborn: fixtureServer('--ignore-stdin-eof', '--ignore-sigterm'),
        wrapper: fixtureServer('--spawn-grandchild'),
        plain: fixtureServer(),
      },
      tasks: [
        { id: 'p1', server: 'stubborn', tool: 'pids', needs: [] },
        { id: 'p2', server: 'wrapper', tool: 'pids', needs: [] },
        { id: 'p3', server: 'plain', tool: 'pids', needs: [] },
        // Calls in flight when Ensemble dies (`needs: []`: a graph, so every task may run at once).
        { id: 'h1', server: 'stubborn', tool: 'hang', needs: [] },
        { id: 'h2', server: 'wrapper', tool: 'hang', needs: [] },
        { id: 'h3', server: 'plain', tool: 'hang', needs: [] },
      ],
    };
    const ensemble = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(workflow)], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const pids: number[] = [];
    let watchdog: number | null = null;
    try {
      for await (const line of createInterface({ input: ensemble.stdout })) {
        const message = JSON.parse(line) as { pids?: Pids; watchdog?: number | null; report?: unknown };
        if (message.report) throw new Error(`the run ended by itself: ${line}`);
        if (message.pids) {
          pids.push(message.pids.pid);
          if (message.pids.grandchild !== null) pids.push(message.pids.grandchild);
        }
        if ('watchdog' in message) {
          watchdog = message.watchdog ?? null;
          break;
        }
      }
      expect(pids).toHaveLength(4);
      for (const pid of pids) expect(isProcessAlive(pid), `server ${pid} alive before the kill`).toBe(true);

      const exited = new Promise((resolve) => ensemble.once('exit', resolve));
      ensemble.kill('SIGKILL');
      await exited;
      // The watchdog sends SIGTERM, then SIGKILL half a second later: well inside two seconds.
      await vi.waitFor(
        () => {
          for (const pid of pids) expect(isProcessAlive(pid), `server ${pid} alive after Ensemble was killed`).toBe(false);
        },
        { timeout: 2_000, interval: 50 },
      );
      expect(watchdog, 'the watchdog pid').not.toBeNull();
      await vi.waitFor(() => expect(isProcessAlive(watchdog!), 'the watchdog itself').toBe(false), { timeout: 2_000, interval: 50 });
    } finally {
      // Whatever failed, leave nothing behind.
      if (ensemble.exitCode === null && ensemble.signalCode === null) ensemble.kill('SIGKILL');
      for (const pid of pids) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it.each(['SIGTERM', 'SIGINT'] as const)('leaves no server behind when the CLI gets %s with calls in flight', async (signal) => {
    const work = createTempDir();
    const log = join(work.dir, 'events.jsonl');
    const file = join(work.dir, 'workflow.yaml');
    // JSON is YAML: the workflow file as the CLI reads it.
    writeFileSync(
      file,
      JSON.stringify({
        name: 'signalled',
        pattern: 'parallel',
        servers: {
          stubborn: fixtureServer('--ignore-stdin-eof', '--ignore-sigterm', '--log-file', log),
          wrapper: fixtureServer('--spawn-grandchild', '--log-file', log),
        },
        tasks: [
          { id: 'h1', server: 'stubborn', tool: 'hang', needs: [] },
          { id: 'h2', server: 'wrapper', tool: 'hang', needs: [] },
        ],
      }),
    );
    const cli = spawn(process.execPath, [CLI, 'run', file, '--quiet'], { cwd: ROOT, stdio: 'ignore' });
    const exited = new Promise((resolve) => cli.once('exit', resolve));
    const pids: number[] = [];
    try {
      // Both hang calls reached their servers: the log shows two `call` events.
      await vi.waitFor(
        () => {
          const events = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as { event: string; pid: number; grandchild?: number | null }) : [];
          expect(events.filter((event) => event.event === 'call')).toHaveLength(2);
          pids.splice(0, pids.length, ...events.filter((event) => event.event === 'start').flatMap((event) => [event.pid, ...(event.grandchild ? [event.grandchild] : [])]));
        },
        { timeout: 30_000, interval: 50 },
      );
      expect(pids).toHaveLength(3);
      cli.kill(signal);
      await exited;
      await vi.waitFor(
        () => {
          for (const pid of pids) expect(isProcessAlive(pid), `server ${pid} alive after the CLI exited`).toBe(false);
        },
        { timeout: 2_000, interval: 50 },
      );
    } finally {
      if (cli.exitCode === null && cli.signalCode === null) cli.kill('SIGKILL');
      for (const pid of pids) if (isProcessAlive(pid)) process.kill(pid, 'SIGKILL');
      work.remove();
    }
  });
});
