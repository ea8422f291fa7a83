/**
 * No server outlives Ensemble: when the Ensemble process is killed with
 * SIGKILL (no exit handler runs), the watchdog notices its pipe closing and
 * ends every server's process group, including a server that ignores stdin
 * EOF and traps SIGTERM, and a server's grandchild.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { fixtureServer, isProcessAlive, ROOT } from '../support/fixture.js';

const CHILD = join(ROOT, 'test/support/ensemble-child.ts');

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
        { id: 'p1', server: 'stubborn', tool: 'pids' },
        { id: 'p2', server: 'wrapper', tool: 'pids' },
        { id: 'p3', server: 'plain', tool: 'pids' },
        // Calls in flight when Ensemble dies.
        { id: 'h1', server: 'stubborn', tool: 'hang' },
        { id: 'h2', server: 'wrapper', tool: 'hang' },
        { id: 'h3', server: 'plain', tool: 'hang' },
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
});
