/**
 * The `ensemble` command as a user runs it: a real process, real servers,
 * exit codes 0 / 1 / 2, one JSON object with --json, and errors that name
 * the file, field or server.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runEnsemble, writeWorkflowFile } from '../support/cli.js';
import { createTempDir, fixtureServer } from '../support/fixture.js';

const temp = createTempDir('ensemble-cli-');
afterAll(() => temp.remove());


const ensemble = (...args: string[]) => runEnsemble(temp.dir, ...args);

const writeWorkflow = (name: string, text: string) => writeWorkflowFile(temp.dir, name, text);

const fixture = JSON.stringify(fixtureServer());
const okFlow = writeWorkflow(
  'ok.yaml',
  `name: ok
servers:
  fx: ${fixture}
tasks:
  - { id: greet, server: fx, tool: echo, args: { text: hello } }
  - { id: shout, server: fx, tool: echo, args: { text: "{{ tasks.greet.text }}!" } }
output: "{{ tasks.shout.text }}"
`,
);
const failingFlow = writeWorkflow(
  'failing.json',
  JSON.stringify({
    name: 'failing',
    servers: { fx: fixtureServer() },
    tasks: [
      { id: 'first', server: 'fx', tool: 'echo', args: { text: 'kept' } },
      { id: 'second', server: 'fx', tool: 'fail', args: { message: 'quota exceeded' } },
    ],
  }),
);

describe('ensemble run', () => {
  it('prints the output on stdout, progress on stderr, and exits 0', async () => {
    const result = await ensemble('run', okFlow);
    expect(result.code).toBe(0);
    expect(result.stdout).toBe('hello!\n');
    expect(result.stderr).toMatch(/✓ greet {2}fx\.echo {2}[\d.]+ ms/);
    expect(result.stderr).toMatch(/✓ shout {2}fx\.echo/);
    expect(result.stderr).toContain('completed: 2 completed');
  });

  it('prints exactly one JSON object with --json', async () => {
    const result = await ensemble('run', okFlow, '--json');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    const report = JSON.parse(lines[0]!);
    expect(Object.keys(report)).toEqual(expect.arrayContaining(['runId', 'pattern', 'status', 'tasks', 'output', 'notifications']));
    expect(report).toMatchObject({
      pattern: 'sequential',
      status: 'completed',
      output: 'hello!',
      notifications: [],
      tasks: [
        { id: 'greet', server: 'fx', tool: 'echo', status: 'completed', text: 'hello', isError: false },
        { id: 'shout', server: 'fx', tool: 'echo', status: 'completed', text: 'hello!', isError: false },
      ],
    });
  });

  it('exits 1 on a failed run, with the error and the results so far', async () => {
    const human = await ensemble('run', failingFlow);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/✗ second {2}fx\.fail .*quota exceeded/);
    const json = await ensemble('run', failingFlow, '--json');
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout);
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'TOOL_ERROR', task: 'second' });
    expect(report.tasks).toMatchObject([
      { id: 'first', status: 'completed', text: 'kept' },
      { id: 'second', status: 'failed', isError: true, text: 'quota exceeded' },
    ]);
  });

  it('exits 2 naming the file and field of an invalid workflow', async () => {
    const path = writeWorkflow('invalid.yaml', `name: bad\nservers:\n  fx: ${fixture}\ntasks:\n  - { id: a, server: fx, tool: 42 }\n`);
    const result = await ensemble('run', path);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('invalid.yaml');
    expect(result.stderr).toContain('tasks[0].tool');
    const json = await ensemble('run', path, '--json');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 'failed', error: { code: 'INVALID_WORKFLOW', field: 'tasks[0].tool' } });
  });

  it('exits 2 with the file:line:column of a YAML syntax error', async () => {
    const path = writeWorkflow('syntax.yaml', 'name: x\nservers:\n  fx: { command: node\ntasks: []\n');
    const result = await ensemble('run', path);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/syntax\.yaml:\d+:\d+: /);
  });

  it('exits 2 for an unknown server or placeholder, before anything runs', async () => {
    const path = writeWorkflow(
      'refs.yaml',
      `servers:\n  fx: ${fixture}\ntasks:\n  - { id: a, server: fz, tool: noop }\n  - { id: b, server: fx, tool: echo, args: { text: "{{ tasks.nope.text }}" } }\n`,
    );
    const result = await ensemble('run', path);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('tasks[0].server');
    expect(result.stderr).toContain('"fz"');
    expect(result.stderr).toContain('tasks[1].args.text');
  });

  it('exits 2 for a tool the server does not have', async () => {
    const path = writeWorkflow('tool.yaml', `servers:\n  fx: ${fixture}\ntasks:\n  - { id: a, server: fx, tool: teleport }\n`);
    const result = await ensemble('run', path, '--json');
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout).error).toMatchObject({ code: 'UNKNOWN_TOOL', server: 'fx' });
  });

  it('exits 1 naming a server that fails to start', async () => {
    const path = writeWorkflow('start.yaml', `servers:\n  down: ${JSON.stringify(fixtureServer('--exit-at-start', '4'))}\ntasks:\n  - { id: a, server: down, tool: noop }\n`);
    const result = await ensemble('run', path);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/server "down" failed to start.*exited with code 4/);
  });

  it('exits 2 for a missing file', async () => {
    const result = await ensemble('run', join(temp.dir, 'absent.yaml'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('absent.yaml');
  });
});

describe('usage', () => {
  it('exits 2 with usage when given nothing', async () => {
    const result = await ensemble();
    expect(result.code).toBe(2);
    expect(result.stdout + result.stderr).toContain('run <file>');
  });

  it('exits 2 for an unknown command', async () => {
    const result = await ensemble('walk', 'x.yaml');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('walk');
  });

  it('exits 2 when run has no file', async () => {
    const result = await ensemble('run');
    expect(result.code).toBe(2);
  });
});
