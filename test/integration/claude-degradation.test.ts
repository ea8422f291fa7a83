/**
 * Graceful degradation with real servers: Claude Code (`claude mcp serve`)
 * as the primary and `@modelcontextprotocol/server-filesystem` as its
 * fallback, with Claude's Write and Read mapped onto the filesystem server's
 * write_file and read_text_file. The test kills Claude Code's process in the
 * middle of the run (its pid comes from the bus); the remaining writes must
 * land on disk through the fallback, and the report must say so.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listLiveGroups } from '../../actors/process-group.js';
import { runWorkflow, type BusEvent, type BusEventOf } from '../../src/index.js';
import { createTempDir, ROOT } from '../support/fixture.js';
import { taskOf } from '../support/bus-record.js';

const CLAUDE = join(ROOT, 'node_modules/.bin/claude');
const FILESYSTEM = join(ROOT, 'node_modules/@modelcontextprotocol/server-filesystem/dist/index.js');

/** Claude Code takes one to three seconds to start. */
const TIMEOUT = 60_000;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  expect(listLiveGroups()).toEqual([]);
});

function createSandbox(): { workspace: string; home: string; gate: string } {
  const { dir, remove } = createTempDir('ensemble-claude-degradation-');
  cleanups.push(remove);
  const workspace = join(dir, 'workspace');
  const gate = join(dir, 'gate');
  mkdirSync(workspace);
  mkdirSync(gate);
  return { workspace, home: join(dir, 'home'), gate };
}

/**
 * Claude Code, held at start until the file `<gate>/go` exists (a shell
 * loop, then `exec`: the pid on the bus is Claude's own). The degradation
 * machine reports a primary ready without waiting for its fallback, and a
 * primary lost before the fallback process is up fails its calls; holding
 * Claude until both filesystem processes are ready keeps that race out of
 * this test. CLAUDE_CONFIG_DIR: see claude-code.test.ts.
 */
function heldClaudeServer(sandbox: { workspace: string; home: string; gate: string }) {
  return {
    command: '/bin/sh',
    args: ['-c', 'until [ -e "$0/go" ]; do sleep 0.01; done; exec "$@"', sandbox.gate, CLAUDE, 'mcp', 'serve'],
    cwd: sandbox.workspace,
    env: {
      HOME: sandbox.home,
      CLAUDE_CONFIG_DIR: join(sandbox.home, '.claude'),
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
  };
}

const isStarted = (server: string) => (event: BusEvent): event is BusEventOf<'server.state'> =>
  event.type === 'server.state' && event.server === server && event.state === 'serving' && event.tools !== undefined;

describe('Claude Code with the filesystem server as its fallback', () => {
  it(
    'lands the remaining writes through the fallback when Claude Code is killed during the run',
    async () => {
      const sandbox = createSandbox();
      const file = (name: string) => join(sandbox.workspace, name);
      const events: BusEvent[] = [];
      let fsStarts = 0;
      let killed: number | undefined;

      const report = await runWorkflow(
        {
          name: 'claude-degradation',
          workspace: sandbox.workspace,
          servers: {
            claude: {
              ...heldClaudeServer(sandbox),
              // Writing the same content to the same new file twice is harmless: a Write in flight when Claude dies may be retried.
              idempotentTools: ['Write', 'Read'],
              // Stays down for the rest of the run, so every later call is the fallback's.
              recovery: { initialDelayMs: 600_000, maxDelayMs: 600_000 },
              fallback: [
                {
                  server: 'fs',
                  tools: {
                    Write: { tool: 'write_file', args: { path: '{{ args.file_path }}', content: '{{ args.content }}' } },
                    Read: { tool: 'read_text_file', args: { path: '{{ args.file_path }}' } },
                  },
                },
              ],
            },
            fs: { command: process.execPath, args: [FILESYSTEM, sandbox.workspace] },
          },
          // New files only: Claude Code refuses to Write over a file it has not Read.
          tasks: [
            { id: 'one', server: 'claude', tool: 'Write', args: { file_path: file('one.md'), content: '# One\n' } },
            { id: 'two', server: 'claude', tool: 'Write', args: { file_path: file('two.md'), content: '# Two\n' } },
            { id: 'three', server: 'claude', tool: 'Write', args: { file_path: file('three.md'), content: '# Three\n' } },
            { id: 'four', server: 'claude', tool: 'Write', args: { file_path: file('four.md'), content: '# Four\n' } },
            { id: 'check', server: 'claude', tool: 'Read', args: { file_path: file('three.md') } },
          ],
        },
        {
          trace: true,
          onEvent: (event) => {
            events.push(event);
            // The filesystem server (one process, shared by its own tasks and the fallback) is up: let Claude start.
            if (isStarted('fs')(event) && ++fsStarts === 1) writeFileSync(join(sandbox.gate, 'go'), '');
            // Kill Claude Code as soon as the second write is done; its pid is on the bus.
            if (event.type === 'task.completed' && event.task.id === 'two') {
              killed = events.find(isStarted('claude'))?.pid;
              process.kill(killed!, 'SIGKILL');
            }
          },
        },
      );

      expect(killed).toBeGreaterThan(0);
      expect(report.status).toBe('degraded');
      expect(report.error).toBeUndefined();
      expect(report.tasks.map((task) => [task.id, task.status, task.servedBy])).toEqual([
        ['one', 'completed', 'claude'],
        ['two', 'completed', 'claude'],
        ['three', 'completed', 'fs'],
        ['four', 'completed', 'fs'],
        ['check', 'completed', 'fs'],
      ]);

      // Every file is on disk, whoever wrote it.
      expect(readdirSync(sandbox.workspace).sort()).toEqual(['four.md', 'one.md', 'three.md', 'two.md']);
      expect(['one', 'two', 'three', 'four'].map((name) => readFileSync(file(`${name}.md`), 'utf8'))).toEqual(['# One\n', '# Two\n', '# Three\n', '# Four\n']);
      // Claude's own results are kept as it gave them; the fallback's are the filesystem server's.
      expect(taskOf(report, 'one').json).toMatchObject({ type: 'create', filePath: file('one.md') });
      expect(taskOf(report, 'three').text).toContain('Successfully wrote to');
      expect(taskOf(report, 'check').text).toBe('# Three\n');

      const notices = report.notifications.filter((entry) => entry.server === 'claude');
      expect(notices).toHaveLength(1);
      expect(notices[0]!.level).toBe('warning');
      expect(notices[0]!.message).toContain('server "claude" is unavailable (');
      expect(notices[0]!.message).toContain('process killed by SIGKILL');
      expect(notices[0]!.message).toContain('its calls now go to fs');
      // Reduced functionality: Claude's tools that the mapping does not cover.
      expect(notices[0]!.message).toMatch(/reduced functionality, no fallback for: .*\bEdit\b.*\bBash\b|reduced functionality, no fallback for: .*\bBash\b.*\bEdit\b/);
      expect(notices[0]!.message).not.toMatch(/no fallback for: .*\b(Write|Read)\b/);

      // On the bus: Claude went unavailable after "two", and the writes after it were the filesystem server's.
      const unavailableAt = events.findIndex((event) => event.type === 'server.state' && event.server === 'claude' && event.state === 'unavailable');
      const twoAt = events.findIndex((event) => event.type === 'task.completed' && event.task.id === 'two');
      expect(unavailableAt).toBeGreaterThan(twoAt);
      const writers = events
        .filter((event): event is BusEventOf<'server.call.result'> => event.type === 'server.call.result' && event.tool !== 'resources/read')
        .map((event) => `${event.task}:${event.server}.${event.tool}`);
      expect(writers).toEqual(['one:claude.Write', 'two:claude.Write', 'three:fs.write_file', 'four:fs.write_file', 'check:fs.read_text_file']);
    },
    TIMEOUT,
  );
});
