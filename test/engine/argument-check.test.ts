/**
 * Arguments checked against the tool's inputSchema before the run starts: a wrong argument fails
 * the run naming the task and field, and no tool is called (a valid task earlier in the list
 * included), on the real fixture server whose tools declare zod input schemas.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runWorkflow } from '../../src/index.js';
import { createTempDir, fixtureServer } from '../support/fixture.js';

let work: ReturnType<typeof createTempDir>;
beforeEach(() => {
  work = createTempDir();
});
afterEach(() => work.remove());

function calls(log: string): string[] {
  let text = '';
  try {
    text = readFileSync(log, 'utf8');
  } catch {
    return [];
  }
  return text
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { event: string; tool?: string })
    .filter((entry) => entry.event === 'call')
    .map((entry) => entry.tool ?? '');
}

async function runTasks(tasks: Record<string, unknown>[]) {
  const log = join(work.dir, `log-${Math.random().toString(36).slice(2)}.jsonl`);
  const report = await runWorkflow({ name: 'args', servers: { fx: fixtureServer('--log-file', log) }, tasks });
  return { report, calls: calls(log) };
}

describe('arguments checked against the input schema before the run', () => {
  it('a wrong type fails the run with INVALID_ARGUMENTS naming the task and field, and nothing is called', async () => {
    const { report, calls: made } = await runTasks([
      { id: 'first', server: 'fx', tool: 'echo', args: { text: 'fine' } },
      { id: 'second', server: 'fx', tool: 'add', args: { a: 1, b: 'two' } },
    ]);
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'INVALID_ARGUMENTS', task: 'second', server: 'fx', field: 'tasks[1].args' });
    expect(report.error?.message).toContain('task "second" (tasks[1].args): fx.add args/b must be number');
    expect(report.tasks.find((task) => task.id === 'first')?.status).not.toBe('completed');
    expect(made).toEqual([]);
  });

  it('a missing required argument is named', async () => {
    const { report } = await runTasks([{ id: 'say', server: 'fx', tool: 'echo', args: {} }]);
    expect(report.error).toMatchObject({ code: 'INVALID_ARGUMENTS', task: 'say' });
    expect(report.error?.message).toContain("must have required property 'text'");
  });

  it('a templated argument counts as present, and the run goes on', async () => {
    const { report, calls: made } = await runTasks([
      { id: 'a', server: 'fx', tool: 'add', args: { a: 1, b: 2 } },
      { id: 'b', server: 'fx', tool: 'add', args: { a: '{{ tasks.a.json.sum }}', b: 4 } },
    ]);
    expect(report.status).toBe('completed');
    expect(report.tasks.map((task) => task.text)).toEqual(['3', '7']);
    expect(made).toEqual(['add', 'add']);
  });
});
