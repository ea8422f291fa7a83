import { describe, expect, it } from 'vitest';
import type { Workflow } from '../../src/core/workflow.js';
import { parsePlannedTasks, type PlannedTasksContext } from '../../src/workflow/planned-tasks.js';
import { catchError } from '../support/catch-error.js';

const WORKFLOW: Workflow = {
  name: 'planned',
  dir: '/flows',
  servers: {
    fs: { kind: 'stdio', replicas: 1, command: 'npx', args: [], env: {}, cwd: '/flows' },
    planner: { kind: 'http', replicas: 1, url: 'http://127.0.0.1:8931/mcp', headers: {} },
  },
  plan: { server: 'planner', tool: 'make_plan', args: {} },
  tasks: [{ id: 'setup', server: 'fs', tool: 'list_directory', args: {}, context: [] }],
  timeoutMs: 60_000,
  pattern: 'auto',
  onError: 'stop',
  schedule: 'groups',
};

const CONTEXT: PlannedTasksContext = { workflow: WORKFLOW, planner: 'planner.make_plan', earlierTaskIds: ['setup'] };

describe('parsePlannedTasks: valid plans', () => {
  it('accepts an array of tasks and fills defaults', () => {
    const tasks = parsePlannedTasks([{ id: 'read', server: 'fs', tool: 'read_text_file', args: { path: 'a.txt' } }], CONTEXT);
    expect(tasks).toEqual([{ id: 'read', server: 'fs', tool: 'read_text_file', args: { path: 'a.txt' }, context: [] }]);
  });

  it('accepts { tasks: [...] } and ignores other keys beside it', () => {
    const tasks = parsePlannedTasks(
      { reasoning: 'two steps', tasks: [{ id: 'a', server: 'fs', tool: 't', timeoutMs: 500, context: [{ server: 'fs', uri: 'file:///x' }] }] },
      CONTEXT,
    );
    expect(tasks).toEqual([{ id: 'a', server: 'fs', tool: 't', args: {}, context: [{ server: 'fs', uri: 'file:///x' }], timeoutMs: 500 }]);
  });

  it('lets planned tasks use earlier workflow tasks, earlier planned tasks and their own context', () => {
    const tasks = parsePlannedTasks(
      [
        { id: 'a', server: 'fs', tool: 't', args: { x: '{{ tasks.setup.text }}' } },
        { id: 'b', server: 'fs', tool: 't', context: [{ server: 'fs', uri: 'u:1' }], args: { x: '{{ tasks.a.json.items.0 }}', y: '{{ context.0.text }}' } },
      ],
      CONTEXT,
    );
    expect(tasks.map((task) => task.id)).toEqual(['a', 'b']);
  });

  it('lets planned tasks need earlier workflow tasks and each other, in any order once one declares needs', () => {
    const tasks = parsePlannedTasks(
      [
        { id: 'save', server: 'fs', tool: 't', needs: ['setup', 'read'] },
        { id: 'read', server: 'fs', tool: 't' },
        { id: 'log', server: 'fs', tool: 't', args: { x: '{{ tasks.save.text }} {{ tasks.setup.text }}' } },
      ],
      CONTEXT,
    );
    expect(tasks.map((task) => task.needs)).toEqual([['setup', 'read'], undefined, undefined]);
  });

  it('accepts an empty plan when the workflow has tasks of its own', () => {
    expect(parsePlannedTasks({ tasks: [] }, CONTEXT)).toEqual([]);
  });
});

describe('parsePlannedTasks: invalid plans', () => {
  it('rejects an unknown server as INVALID_PLAN naming the planner, the field and the planner server', () => {
    const error = catchError(() => parsePlannedTasks([{ id: 'a', server: 'fs', tool: 't' }, { id: 'b', server: 'web', tool: 't' }], CONTEXT));
    expect(error).toMatchObject({ code: 'INVALID_PLAN', field: 'tasks[1].server', server: 'planner' });
    expect(error.message).toBe('planner planner.make_plan returned an invalid plan: tasks[1].server: unknown server "web" (servers: fs, planner)');
  });

  it('rejects a result that is neither a list nor { tasks }', () => {
    const error = catchError(() => parsePlannedTasks('do the thing', CONTEXT));
    expect(error.code).toBe('INVALID_PLAN');
    expect(error.message).toBe(
      'planner planner.make_plan returned an invalid plan: expected a list of tasks or { "tasks": [...] }, got the string "do the thing"',
    );
  });

  it('rejects a result with no JSON at all', () => {
    const error = catchError(() => parsePlannedTasks(undefined, CONTEXT));
    expect(error.message).toContain('got nothing');
  });

  it('rejects tasks that are not a list', () => {
    const error = catchError(() => parsePlannedTasks({ tasks: { id: 'a' } }, CONTEXT));
    expect(error).toMatchObject({ field: 'tasks' });
    expect(error.message).toBe('planner planner.make_plan returned an invalid plan: tasks: expected a list, got a mapping');
  });

  it('holds planned tasks to the strict task schema, listing every problem', () => {
    const error = catchError(() => parsePlannedTasks([{ id: 'a', server: 'fs', tool: 't', agrs: {} }, { id: 'b', server: 'fs' }], CONTEXT));
    expect(error.field).toBe('tasks[0].agrs');
    expect(error.message).toBe(
      [
        'planner planner.make_plan returned an invalid plan:',
        '  tasks[0].agrs: unknown field; did you mean "args"?',
        '  tasks[1].tool: missing (expected a string)',
      ].join('\n'),
    );
  });

  it('rejects ids that collide with earlier tasks or repeat within the plan', () => {
    const error = catchError(() =>
      parsePlannedTasks(
        [
          { id: 'setup', server: 'fs', tool: 't' },
          { id: 'a', server: 'fs', tool: 't' },
          { id: 'a', server: 'fs', tool: 't' },
        ],
        CONTEXT,
      ),
    );
    expect(error.message.split('\n').slice(1)).toEqual([
      '  tasks[0].id: task id "setup" is already used by an earlier task',
      '  tasks[2].id: duplicate task id "a" (also tasks[1])',
    ]);
  });

  it('rejects references to later planned tasks and to unknown tasks', () => {
    const error = catchError(() =>
      parsePlannedTasks(
        [
          { id: 'a', server: 'fs', tool: 't', args: { x: '{{ tasks.b.text }}' } },
          { id: 'b', server: 'fs', tool: 't', args: { x: '{{ tasks.ghost.json }}' } },
        ],
        CONTEXT,
      ),
    );
    expect(error.message.split('\n').slice(1)).toEqual([
      '  tasks[0].args.x: {{ tasks.b.text }}: task "b" runs after "a" (a plain list runs in order); list it earlier, or declare "needs" to make the tasks a graph',
      '  tasks[1].args.x: {{ tasks.ghost.json }} refers to unknown task "ghost" (tasks before it: setup, a)',
    ]);
  });

  it('rejects a cycle among planned tasks and needs on unknown tasks', () => {
    const error = catchError(() =>
      parsePlannedTasks(
        [
          { id: 'a', server: 'fs', tool: 't', needs: ['b'] },
          { id: 'b', server: 'fs', tool: 't', needs: ['a', 'ghost'] },
        ],
        CONTEXT,
      ),
    );
    expect(error).toMatchObject({ code: 'INVALID_PLAN', field: 'tasks[1].needs', server: 'planner' });
    expect(error.message.split('\n').slice(1)).toEqual([
      '  tasks[1].needs: unknown task "ghost" (tasks: setup, a)',
      '  tasks[0].needs: dependency cycle: a → b → a (each task waits for the one before it), so none of these tasks can start',
    ]);
  });

  it('rejects an empty plan when the workflow has no tasks of its own', () => {
    const error = catchError(() => parsePlannedTasks([], { ...CONTEXT, earlierTaskIds: [] }));
    expect(error).toMatchObject({ code: 'INVALID_PLAN', field: 'tasks' });
    expect(error.message).toContain('nothing to run');
  });

  it('names the planner server from the planner label when the workflow has no plan', () => {
    const { plan: _plan, ...withoutPlan } = WORKFLOW;
    const error = catchError(() => parsePlannedTasks([{ id: 'a', server: 'nope', tool: 't' }], { ...CONTEXT, workflow: withoutPlan, planner: 'fs.plan' }));
    expect(error.server).toBe('fs');
  });
});
