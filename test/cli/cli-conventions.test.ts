/**
 * The CLI as people expect it: help for every command, `help`, `--version`, unknown flags and
 * commands refused with a suggestion (exit 2), no colour in pipes, errors printed once and
 * pointing at file:line:column, a line when servers start and close, `ensemble tools`, arguments
 * checked before the run, and Ctrl-C (exit 130, a second one prints what had finished).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { runEnsemble, writeWorkflowFile } from '../support/cli.js';
import { ROOT, createTempDir, fixtureServer } from '../support/fixture.js';

const temp = createTempDir('ensemble-cli-conventions-');
afterAll(() => temp.remove());
const ensemble = (...args: string[]) => runEnsemble(temp.dir, ...args);
const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const flow = writeWorkflowFile(
  temp.dir,
  'flow.json',
  JSON.stringify({
    name: 'conventions',
    servers: { fx: fixtureServer() },
    tasks: [
      { id: 'first', server: 'fx', tool: 'echo', args: { text: 'kept' } },
      { id: 'second', server: 'fx', tool: 'fail', args: { message: 'quota exceeded' } },
    ],
  }),
);

describe('help and version', () => {
  it.each([
    ['run', ['--json', '--quiet', '--pattern <name>']],
    ['explain', ['--json', '--pattern <name>']],
    ['tools', ['--server <name>', '--json']],
  ])('`%s --help` lists that command’s own options, and exits 0', async (command, options) => {
    const result = await ensemble(command, '--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`Usage: ensemble ${command} <file> [options]`);
    for (const option of options) expect(result.stdout).toContain(option);
    expect(await ensemble('help', command)).toEqual(result);
  });

  it('`--help` and `help` list the commands', async () => {
    const result = await ensemble('--help');
    expect(result.code).toBe(0);
    for (const command of ['run <file>', 'explain <file>', 'tools <file>', 'help [command]']) expect(result.stdout).toContain(command);
    expect((await ensemble('help')).stdout).toBe(result.stdout);
  });

  it('`help --help` shows the usage; help refuses an unknown option or a second command (exit 2)', async () => {
    const usage = await ensemble('--help');
    expect(await ensemble('help', '--help')).toEqual(usage);
    expect(await ensemble('help', '--jsn')).toMatchObject({ code: 2, stdout: '', stderr: 'ensemble: help: unknown option --jsn; see `ensemble help`\n' });
    expect((await ensemble('help', 'run', 'tools')).code).toBe(2);
  });

  it('`--version` and `-v` print the version from package.json', async () => {
    expect(await ensemble('--version')).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    expect((await ensemble('-v')).stdout).toBe(`${version}\n`);
  });
});

describe('usage errors exit 2 with a suggestion', () => {
  it('an unknown flag is refused, never ignored', async () => {
    const result = await ensemble('run', flow, '--jsn');
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toBe('ensemble: run: unknown option --jsn (did you mean --json?); see `ensemble run --help`\n');
  });

  it('an unknown command, and an unknown command asked for help', async () => {
    const result = await ensemble('expalin', flow);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('unknown command "expalin" (did you mean explain?)');
    expect((await ensemble('help', 'tool')).stderr).toContain('(did you mean tools?)');
  });

  it('a missing file argument and a string option without a value', async () => {
    expect(await ensemble('run')).toMatchObject({ code: 2, stderr: 'ensemble: run: missing <file>; see `ensemble run --help`\n' });
    expect(await ensemble('run', flow, '--pattern')).toMatchObject({ code: 2, stderr: 'ensemble: run: --pattern needs a value\n' });
  });
});

describe('output', () => {
  it('writes no colour escapes into pipes, and honours NO_COLOR over FORCE_COLOR', async () => {
    const piped = await ensemble('--help');
    expect(piped.stdout).not.toContain('\u001b[');
    const forced = await runWithEnv({ FORCE_COLOR: '1' }, '--help');
    expect(forced.stdout).toContain('\u001b[1mUsage:');
    const refused = await runWithEnv({ FORCE_COLOR: '1', NO_COLOR: '1' }, '--help');
    expect(refused.stdout).not.toContain('\u001b[');
  });

  it('writes no escapes into pipes for a failed run either, whatever the terminal type', async () => {
    const result = await runWithEnv({ TERM: 'xterm-256color' }, 'run', flow);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).not.toContain('\u001b');
  });

  it('prints each error once in a failed run, and says when servers start and close', async () => {
    const result = await ensemble('run', flow);
    expect(result.code).toBe(1);
    expect(result.stderr.split('quota exceeded').length - 1).toBe(1);
    const lines = result.stderr.split('\n');
    const starting = lines.indexOf('  starting server: fx');
    const closing = lines.indexOf('  closing server…');
    expect(starting).toBeGreaterThanOrEqual(0);
    expect(closing).toBeGreaterThan(starting);
    expect(lines.findIndex((line) => line.startsWith('■ failed'))).toBeGreaterThan(closing);
  });

  it('points a field error at file:line:column', async () => {
    const path = writeWorkflowFile(temp.dir, 'field.yaml', 'name: x\nservers:\n  fx: { command: node }\ntasks:\n  - id: a\n    server: fx\n    tool: 7\n');
    const result = await ensemble('run', path);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(`ensemble: ${path}:7:5: tasks[0].tool: expected a string, got the number 7\n`);
  });
});

describe('ensemble tools', () => {
  it("lists each server's tools with their input schemas, and runs no task", async () => {
    const log = join(temp.dir, 'tools-log.jsonl');
    const path = writeWorkflowFile(temp.dir, 'tools.json', JSON.stringify({ name: 't', servers: { fx: fixtureServer('--log-file', log) }, tasks: [{ id: 'x', server: 'fx', tool: 'crash' }] }));
    const text = await ensemble('tools', path);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^fx: \d+ tools\n/);
    expect(text.stdout).toContain('  echo — Returns the given text.\n      text: string\n');
    const json = await ensemble('tools', path, '--server', 'fx', '--json');
    const listed = JSON.parse(json.stdout) as { servers: { server: string; tools: { name: string; inputSchema: unknown }[] }[] };
    const echo = listed.servers[0]?.tools.find((tool) => tool.name === 'echo');
    expect(echo?.inputSchema).toMatchObject({ type: 'object', properties: { text: { type: 'string' } }, required: ['text'] });
    expect(readFileSync(log, 'utf8')).not.toContain('"event":"call"');
  });

  it('lists the servers that started beside the error of one that did not, and exits 1', async () => {
    const path = writeWorkflowFile(temp.dir, 'tools-down.json', JSON.stringify({ name: 't', servers: { fx: fixtureServer(), down: fixtureServer('--exit-at-start', '4') }, tasks: [{ id: 'x', server: 'fx', tool: 'noop' }] }));
    const json = await ensemble('tools', path, '--json');
    expect(json.code).toBe(1);
    const listed = JSON.parse(json.stdout) as { servers: { server: string; tools?: unknown[]; error?: { code: string; message: string } }[] };
    expect(listed.servers.map((entry) => entry.server)).toEqual(['fx', 'down']);
    expect(listed.servers[0]?.tools?.length).toBeGreaterThan(0);
    expect(listed.servers[1]?.error).toMatchObject({ code: 'SERVER_START_FAILED' });
    expect(listed.servers[1]?.error?.message).toContain('exited with code 4');
    const text = await ensemble('tools', path);
    expect(text.code).toBe(1);
    expect(text.stdout).toMatch(/^down: not started: .*exited with code 4/m);
  });

  it('names an unknown --server with a suggestion', async () => {
    const result = await ensemble('tools', flow, '--server', 'fy');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--server: no server "fy" in this file (did you mean fx?)');
  });
});

describe('arguments checked before the run', () => {
  it('exits 2 naming the task and field, with nothing run', async () => {
    const path = writeWorkflowFile(temp.dir, 'args.json', JSON.stringify({ name: 'a', servers: { fx: fixtureServer() }, tasks: [{ id: 'ok', server: 'fx', tool: 'echo', args: { text: 'x' } }, { id: 'sum', server: 'fx', tool: 'add', args: { a: 1 } }] }));
    const result = await ensemble('run', path, '--json');
    expect(result.code).toBe(2);
    const report = JSON.parse(result.stdout) as { error: { code: string; task: string; field: string }; tasks: { status: string }[] };
    expect(report.error).toMatchObject({ code: 'INVALID_ARGUMENTS', task: 'sum', field: 'tasks[1].args' });
    expect(report.tasks.every((task) => task.status !== 'completed')).toBe(true);
  });
});

describe('Ctrl-C', () => {
  /** A workflow whose second task hangs, on a server that logs its calls to `log`. */
  function hangingFlow(name: string, log: string): string {
    return writeWorkflowFile(
      temp.dir,
      name,
      JSON.stringify({
        name: 'hang',
        // A server that ignores SIGTERM and stdin EOF takes the whole close grace period to end:
        // a second Ctrl-C lands while the run is still closing it.
        servers: { fx: fixtureServer('--ignore-sigterm', '--ignore-stdin-eof', '--log-file', log) },
        tasks: [
          { id: 'done', server: 'fx', tool: 'echo', args: { text: 'finished before Ctrl-C' } },
          { id: 'waits', server: 'fx', tool: 'hang' },
        ],
      }),
    );
  }

  it('the first cancels the run and exits 130 with its report', async () => {
    const log = join(temp.dir, 'once.jsonl');
    const result = await interrupt(hangingFlow('once.json', log), log, 1);
    expect(result.code).toBe(130);
    const report = JSON.parse(result.stdout) as { status: string; tasks: { id: string; status: string }[] };
    expect(report.status).toBe('failed');
    expect(report.tasks).toMatchObject([{ id: 'done', status: 'completed' }, { id: 'waits', status: 'cancelled' }]);
  });

  it('a second prints the report of what had finished and exits 130 at once', async () => {
    const log = join(temp.dir, 'twice.jsonl');
    const result = await interrupt(hangingFlow('twice.json', log), log, 2);
    expect(result.code).toBe(130);
    const report = JSON.parse(result.stdout) as { tasks: { id: string; status: string; text: string }[]; error: { code: string; message: string } };
    expect(report.error.code).toBe('CANCELLED');
    expect(report.error.message).toContain('a second SIGINT');
    expect(report.tasks[0]).toMatchObject({ id: 'done', status: 'completed', text: 'finished before Ctrl-C' });
  });
});

describe('Ctrl-C with a report larger than a pipe holds', () => {
  // Regression: the second Ctrl-C exited right after writing, and writes to a pipe are
  // asynchronous on POSIX: all but the first 64 KiB of the report were lost.
  it('a second prints the whole report before it exits 130', async () => {
    const log = join(temp.dir, 'big.jsonl');
    const file = writeWorkflowFile(
      temp.dir,
      'big.json',
      JSON.stringify({
        name: 'big',
        servers: { fx: fixtureServer('--ignore-sigterm', '--ignore-stdin-eof', '--log-file', log) },
        tasks: [
          { id: 'large', server: 'fx', tool: 'big', args: { bytes: 1_000_000 } },
          { id: 'waits', server: 'fx', tool: 'hang' },
        ],
      }),
    );
    const result = await interrupt(file, log, 2);
    expect(result.code).toBe(130);
    const report = JSON.parse(result.stdout) as { tasks: { id: string; status: string; text: string }[] };
    expect(report.tasks[0]).toMatchObject({ id: 'large', status: 'completed' });
    expect(report.tasks[0]?.text).toHaveLength(1_000_000);
    expect(report.tasks[1]).toMatchObject({ id: 'waits', status: 'cancelled' });
  });
});

/** Runs `ensemble run <file> --json`, sends SIGINT once the hanging call reached the server, and a second once the CLI says it is cancelling. */
async function interrupt(file: string, log: string, times: 1 | 2): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [join(ROOT, 'bin/ensemble.js'), 'run', file, '--json'], { cwd: temp.dir });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  await vi.waitFor(() => expect(readLog(log)).toContain('"tool":"hang"'), { timeout: 20_000 });
  child.kill('SIGINT');
  if (times === 2) {
    await vi.waitFor(() => expect(stderr).toContain('cancelling the run'), { timeout: 20_000 });
    child.kill('SIGINT');
  }
  const code = await closed;
  return { code, stdout, stderr };
}

function readLog(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

async function runWithEnv(env: Record<string, string>, ...args: string[]) {
  const saved = { ...process.env };
  Object.assign(process.env, env);
  try {
    return await ensemble(...args);
  } finally {
    for (const key of Object.keys(env)) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  }
}

