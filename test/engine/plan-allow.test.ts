/**
 * `plan.allow: { servers, tools }` bounds what a (model-backed) planner's
 * tasks may call: tasks outside it are refused before any of them runs,
 * with an error naming the task, what it calls and the allow list.
 */
import { describe, expect, it } from 'vitest';
import { runWorkflow, type BusEvent } from '../../src/index.js';
import { parseWorkflow } from '../../src/workflow/parse-workflow.js';
import { parsePlannedTasks } from '../../src/workflow/planned-tasks.js';
import { eventsOf } from '../support/bus-record.js';
import { catchError } from '../support/catch-error.js';
import { fixtureServer } from '../support/fixture.js';

const servers = { planner: fixtureServer(), fx: fixtureServer(), other: fixtureServer() };

function planWith(tasks: unknown[], allow: Record<string, unknown>) {
  return { name: 'allow', servers, plan: { server: 'planner', tool: 'plan', args: { tasks }, allow } };
}

describe('plan.allow at validation', () => {
  it('refuses an allowed server that is not declared, naming the entry', () => {
    const error = catchError(() => parseWorkflow(planWith([], { servers: ['fx', 'nope'] }), { dir: '/tmp' }));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'plan.allow.servers[1]' });
    expect(error.message).toContain('unknown server "nope"');
  });

  it('refuses an unknown key in allow with a suggestion', () => {
    const error = catchError(() => parseWorkflow(planWith([], { tool: ['echo'] }), { dir: '/tmp' }));
    expect(error.message).toContain('plan.allow.tool: unknown field; did you mean "tools"?');
  });
});

describe('planned tasks outside plan.allow', () => {
  const workflow = parseWorkflow(planWith([], { servers: ['fx'], tools: ['echo', 'fx.noop'] }), { dir: '/tmp' });
  const context = { workflow, planner: 'planner.plan', earlierTaskIds: [] };

  it('accepts tasks on allowed servers calling allowed tools, by name or as server.tool', () => {
    const tasks = parsePlannedTasks([{ id: 'a', server: 'fx', tool: 'echo', args: { text: 'x' } }, { id: 'b', server: 'fx', tool: 'noop' }], context);
    expect(tasks.map((task) => task.id)).toEqual(['a', 'b']);
  });

  it('refuses a task on a server not allowed, naming the task, the server and the allow list', () => {
    const error = catchError(() => parsePlannedTasks([{ id: 'sneak', server: 'other', tool: 'echo' }], context));
    expect(error).toMatchObject({ code: 'INVALID_PLAN', field: 'tasks[0].server', server: 'planner' });
    expect(error.message).toContain('task "sneak" calls server "other", which plan.allow.servers does not list (allowed: fx)');
  });

  it('refuses a tool not allowed, naming the task, server.tool and the allow list', () => {
    const error = catchError(() => parsePlannedTasks([{ id: 'wipe', server: 'fx', tool: 'write_file', args: { path: 'x', content: '' } }], context));
    expect(error).toMatchObject({ code: 'INVALID_PLAN', field: 'tasks[0].tool' });
    expect(error.message).toContain('task "wipe" calls fx.write_file, which plan.allow.tools does not list (allowed: echo, fx.noop)');
  });

  it('refuses a context read from a server not allowed', () => {
    const error = catchError(() => parsePlannedTasks([{ id: 'peek', server: 'fx', tool: 'echo', args: { text: 'x' }, context: [{ server: 'other', uri: 'fixture://config' }] }], context));
    expect(error).toMatchObject({ field: 'tasks[0].context[0].server' });
  });

  it('without allow, any declared server and tool may be planned', () => {
    const open = parseWorkflow({ name: 'open', servers, plan: { server: 'planner', tool: 'plan' } }, { dir: '/tmp' });
    expect(parsePlannedTasks([{ id: 'a', server: 'other', tool: 'write_file' }], { workflow: open, planner: 'planner.plan', earlierTaskIds: [] })).toHaveLength(1);
  });
});

describe('a run whose planner goes outside plan.allow', () => {
  it('fails with INVALID_PLAN before any planned task runs', async () => {
    const events: BusEvent[] = [];
    const report = await runWorkflow(
      planWith(
        [
          { id: 'ok', server: 'fx', tool: 'echo', args: { text: 'fine' } },
          { id: 'sneak', server: 'other', tool: 'write_file', args: { path: 'x', content: 'y' } },
        ],
        { servers: ['fx'] },
      ),
      { onEvent: (event) => events.push(event) },
    );
    expect(report.status).toBe('failed');
    expect(report.error).toMatchObject({ code: 'INVALID_PLAN', field: 'tasks[1].server' });
    expect(report.error?.message).toContain('task "sneak" calls server "other"');
    expect(report.error?.message).toContain('(allowed: fx)');
    expect(eventsOf(events, 'task.started')).toEqual([]);
  });

  it('runs the plan when every task is inside it', async () => {
    const report = await runWorkflow(planWith([{ id: 'ok', server: 'fx', tool: 'echo', args: { text: 'fine' } }], { servers: ['fx'], tools: ['echo'] }));
    expect(report.status).toBe('completed');
    expect(report.output).toBe('fine');
  });
});
