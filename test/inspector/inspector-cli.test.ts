/**
 * `ensemble run --inspect --trace` and `ensemble inspect`, as a user runs them: real processes.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, expect, it } from 'vitest';
import { runEnsemble, writeWorkflowFile } from '../support/cli.js';
import { FIXTURE_SERVER, ROOT } from '../support/fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'ensemble-inspector-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const FLOW = `
name: cli-inspected
servers:
  fx: { command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(FIXTURE_SERVER)}] }
tasks:
  - { id: a, server: fx, tool: echo, args: { text: traced } }
`;

it('prints the inspector address on stderr, writes the trace, and does not wait without a terminal', async () => {
  const file = writeWorkflowFile(dir, 'flow.yaml', FLOW);
  const trace = join(dir, 'run.jsonl');
  const result = await runEnsemble(dir, 'run', file, '--inspect', '--trace', trace);
  expect(result.code).toBe(0);
  expect(result.stdout).toBe('traced\n');
  expect(result.stderr).toMatch(/^inspector: http:\/\/127\.0\.0\.1:\d+\/$/m);
  const types = readFileSync(trace, 'utf8').trim().split('\n').map((line) => JSON.parse(line).type);
  expect(types).toEqual(expect.arrayContaining(['@xstate.actor', '@xstate.snapshot', '@xstate.event', '@xstate.microstep', 'run.started', 'task.completed', 'run.finished']));
});

it('refuses --port without --inspect', async () => {
  const file = writeWorkflowFile(dir, 'flow.yaml', FLOW);
  const result = await runEnsemble(dir, 'run', file, '--port', '0');
  expect(result.code).toBe(2);
  expect(result.stderr).toContain('--port needs --inspect');
});

it('serves a trace with ensemble inspect until interrupted', async () => {
  const file = writeWorkflowFile(dir, 'flow.yaml', FLOW);
  const trace = join(dir, 'replayed.jsonl');
  expect((await runEnsemble(dir, 'run', file, '--trace', trace)).code).toBe(0);
  const child = spawn(process.execPath, [join(ROOT, 'bin/ensemble.js'), 'inspect', trace], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  const lines = createInterface({ input: child.stderr });
  const [line] = await once(lines, 'line');
  const url = /inspector: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(String(line))?.[1];
  expect(url).toBeDefined();
  const page = await (await fetch(url!)).text();
  expect(page).toContain('Ensemble inspector');
  const events = await (await fetch(`${url}events`)).text();
  expect(events).toContain('"type":"run.finished"');
  expect(events.trimEnd().endsWith('event: end\ndata: {}')).toBe(true);
  child.kill('SIGINT');
  const [code] = await once(child, 'exit');
  expect(code).toBe(0);
});
