/**
 * Claude Code as a real MCP server (`claude mcp serve`, the native binary
 * from @anthropic-ai/claude-code), with a throwaway HOME and a workspace as
 * its cwd. Its Read / Write / Edit tools need no account and no network.
 * Also runs the demo workflow (examples/demo) from a fresh copy, twice.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { runWorkflow, type BusEvent, type RunReport } from '../../src/index.js';
import { createTempDir, fixtureServer, ROOT } from '../support/fixture.js';
import { eventsOf, taskOf, taskTrail } from '../support/bus-record.js';

const CLAUDE = join(ROOT, 'node_modules/.bin/claude');
const CLI = join(ROOT, 'bin/ensemble.js');
const DEMO = join(ROOT, 'examples/demo/workflow.yaml');

/** Claude Code takes one to three seconds to start; a run of the demo, a few. */
const TIMEOUT = 60_000;

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A workspace (Claude's cwd, which must exist) and a HOME path (which Claude creates itself). */
function createSandbox(): { workspace: string; home: string } {
  const { dir, remove } = createTempDir('ensemble-claude-');
  cleanups.push(remove);
  const workspace = join(dir, 'workspace');
  mkdirSync(workspace);
  return { workspace, home: join(dir, 'home') };
}

/**
 * Claude Code's server entry. Servers get only the SDK's default environment
 * (HOME, PATH, …) plus `env`, so a CLAUDE_CONFIG_DIR in Ensemble's own (say,
 * tests run from inside Claude Code) no longer reaches it; it is set anyway,
 * so the sandbox holds even with `inheritEnv: true`.
 */
function claudeServer(sandbox: { workspace: string; home: string }) {
  return {
    command: CLAUDE,
    args: ['mcp', 'serve'],
    cwd: sandbox.workspace,
    env: {
      HOME: sandbox.home,
      CLAUDE_CONFIG_DIR: join(sandbox.home, '.claude'),
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    },
  };
}

async function runRecorded(source: Record<string, unknown> | string): Promise<{ report: RunReport; events: BusEvent[] }> {
  const events: BusEvent[] = [];
  const document = typeof source === 'string' ? source : { name: 'claude-code', ...source };
  const report = await runWorkflow(document, { onEvent: (event) => events.push(event), trace: true });
  return { report, events };
}

describe('Claude Code over MCP', () => {
  it(
    'writes a file whose content comes from an earlier task, then reads it back',
    async () => {
      const sandbox = createSandbox();
      const file = join(sandbox.workspace, 'answer.md');
      const { report, events } = await runRecorded({
        servers: {
          fx: { ...fixtureServer(), cwd: sandbox.workspace },
          claude: claudeServer(sandbox),
        },
        tasks: [
          { id: 'sum', server: 'fx', tool: 'add', args: { a: 19, b: 23 } },
          { id: 'note', server: 'fx', tool: 'echo', args: { text: 'The answer is {{ tasks.sum.json.sum }}.' } },
          { id: 'write', server: 'claude', tool: 'Write', args: { file_path: file, content: '# Answer\n\n{{ tasks.note.text }}\n' } },
          { id: 'read', server: 'claude', tool: 'Read', args: { file_path: file } },
          // A second server checks the disk, independently of Claude's own view.
          { id: 'check', server: 'fx', tool: 'read_file', args: { path: 'answer.md' } },
        ],
        output: '{{ tasks.read.json.file.content }}',
      });

      const content = '# Answer\n\nThe answer is 42.\n';
      expect(report.status).toBe('completed');
      expect(report.error).toBeUndefined();
      expect(readFileSync(file, 'utf8')).toBe(content);
      expect(report.output).toBe(content);
      expect(taskOf(report, 'write').json).toMatchObject({ type: 'create', filePath: file, content });
      expect(taskOf(report, 'read').json).toMatchObject({ type: 'text', file: { filePath: file, content } });
      expect(taskOf(report, 'check').text).toBe(content);
      expect(report.tasks.every((task) => task.status === 'completed')).toBe(true);
      expect(taskTrail(events)).toEqual(
        ['sum', 'note', 'write', 'read', 'check'].flatMap((id) => [`task.started:${id}`, `task.completed:${id}`]),
      );
      expect(eventsOf(events, 'task.started').find((event) => event.task.id === 'write')?.args).toEqual({ file_path: file, content });
      // Claude made its own HOME: nothing has to exist beforehand but its cwd.
      expect(existsSync(join(sandbox.home, '.claude'))).toBe(true);
      // Claude's process is gone by the end of the run.
      const claudeStates = eventsOf(events, 'server.state').filter((event) => event.server === 'claude');
      expect(claudeStates.at(-1)?.state).toBe('closed');
    },
    TIMEOUT,
  );

  it(
    'edits a file after reading it, with relative paths resolved against its cwd',
    async () => {
      const sandbox = createSandbox();
      writeFileSync(join(sandbox.workspace, 'todo.md'), '- [ ] ship it\n');
      const { report } = await runRecorded({
        servers: { claude: claudeServer(sandbox) },
        tasks: [
          { id: 'open', server: 'claude', tool: 'Read', args: { file_path: 'todo.md' } },
          { id: 'tick', server: 'claude', tool: 'Edit', args: { file_path: 'todo.md', old_string: '- [ ]', new_string: '- [x]' } },
          { id: 'again', server: 'claude', tool: 'Read', args: { file_path: 'todo.md' } },
        ],
        output: 'before: {{ tasks.open.json.file.content }}after: {{ tasks.again.json.file.content }}',
      });

      expect(report.status).toBe('completed');
      expect(readFileSync(join(sandbox.workspace, 'todo.md'), 'utf8')).toBe('- [x] ship it\n');
      expect(report.output).toBe('before: - [ ] ship it\nafter: - [x] ship it\n');
      expect(taskOf(report, 'tick').json).toMatchObject({ oldString: '- [ ]', newString: '- [x]' });
    },
    TIMEOUT,
  );

  it(
    'fails the task, leaving the file alone, when Claude is asked to overwrite a file it has not read',
    async () => {
      const sandbox = createSandbox();
      const file = join(sandbox.workspace, 'kept.md');
      writeFileSync(file, 'original\n');
      const { report, events } = await runRecorded({
        servers: { claude: claudeServer(sandbox) },
        tasks: [
          { id: 'overwrite', server: 'claude', tool: 'Write', args: { file_path: file, content: 'replaced\n' } },
          { id: 'after', server: 'claude', tool: 'Read', args: { file_path: file } },
        ],
      });

      expect(report.status).toBe('failed');
      expect(report.error).toMatchObject({ code: 'TOOL_ERROR', task: 'overwrite', server: 'claude' });
      expect(report.error?.message).toMatch(/has not been read yet/);
      expect(taskOf(report, 'overwrite')).toMatchObject({ status: 'failed', isError: true });
      expect(taskOf(report, 'after').status).toBe('skipped');
      expect(readFileSync(file, 'utf8')).toBe('original\n');
      expect(taskTrail(events)).toEqual(['task.started:overwrite', 'task.failed:overwrite', 'task.skipped:after']);
    },
    TIMEOUT,
  );
});

describe('the demo workflow (examples/demo)', () => {
  /**
   * A fresh-clone copy of the demo: the workflow file alone in
   * `<tmp>/examples/demo/`, with `<tmp>/node_modules` linked to the repo's so
   * its `../../node_modules/…` paths resolve as they do in the repo.
   */
  function copyDemo(): { folder: string; workflow: string } {
    const { dir, remove } = createTempDir('ensemble-demo-');
    cleanups.push(remove);
    const folder = join(dir, 'examples/demo');
    mkdirSync(folder, { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    const workflow = join(folder, 'workflow.yaml');
    copyFileSync(DEMO, workflow);
    return { folder, workflow };
  }

  const CHECKLIST = '# Release checklist\n\n- [x] write the changelog\n- [ ] tag the release\n- [ ] announce it\n';

  it(
    'completes from a fresh clone with `ensemble run`, and again over what the first run left',
    async () => {
      const { folder, workflow } = copyDemo();
      expect(readdirSync(folder)).toEqual(['workflow.yaml']);

      // First run: the CLI, as `npm run demo` does.
      const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'run', workflow, '--json'], { cwd: ROOT });
      const first = JSON.parse(stdout) as RunReport;
      expect(first.status).toBe('completed');
      expect(first.tasks.length).toBeGreaterThan(0);
      expect(first.tasks.every((task) => task.status === 'completed')).toBe(true);
      expect(first.output.trim()).not.toBe('');
      expect(first.output).toContain(CHECKLIST);
      expect(readFileSync(join(folder, 'workspace/checklist.md'), 'utf8')).toBe(CHECKLIST);
      // Only gitignored folders appear next to the workflow.
      expect(readdirSync(folder).sort()).toEqual(['.home', 'workflow.yaml', 'workspace']);

      // Second run: the workspace and Claude's HOME are there now; same result.
      const { report: second, events } = await runRecorded(workflow);
      expect(second.status).toBe('completed');
      expect(second.output).toBe(first.output);
      expect(readFileSync(join(folder, 'workspace/checklist.md'), 'utf8')).toBe(CHECKLIST);
      expect(readdirSync(join(folder, 'workspace'))).toEqual(['checklist.md']);
      const servers = new Set(eventsOf(events, 'server.call.result').map((event) => event.server));
      expect([...servers].sort()).toEqual(['claude', 'files']);
    },
    TIMEOUT,
  );
});
