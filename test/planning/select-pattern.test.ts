import { describe, expect, it } from 'vitest';
import type { Workflow } from '../../src/core/workflow.js';
import { isRunPattern, selectPattern, type PatternChoice, type RunPattern } from '../../src/planning/select-pattern.js';
import { parseWorkflow } from '../../src/workflow/parse-workflow.js';
import { catchError } from '../support/catch-error.js';

const SERVERS = { fs: { command: 'node' }, api: { url: 'http://127.0.0.1:8931/mcp' }, planner: { command: 'node' } };

/** A validated workflow: what `explain` and the engine see. */
function workflowOf(tasks: Record<string, unknown>[] | undefined, extra: Record<string, unknown> = {}): Workflow {
  return parseWorkflow({ servers: SERVERS, tasks, ...extra }, { file: 'wf.yaml', dir: '/flows' });
}

const t = (id: string, server = 'fs', extra: Record<string, unknown> = {}) => ({ id, server, tool: 't', ...extra });

describe('selectPattern: the selection guide', () => {
  it.each<{ name: string; workflow: Workflow; expected: Partial<PatternChoice>; reasons: string[] }>([
    {
      name: 'a single task → sequential',
      workflow: workflowOf([t('a')]),
      expected: { pattern: 'sequential', with: [], groups: [['a']], servers: ['fs'], dependencies: 'list' },
      reasons: ['a single task', 'tasks use one server (fs)'],
    },
    {
      name: 'a plain list on one server → sequential',
      workflow: workflowOf([t('a'), t('b'), t('c')]),
      expected: { pattern: 'sequential', with: [], groups: [['a'], ['b'], ['c']], servers: ['fs'], dependencies: 'list' },
      reasons: [
        'plain list (no task declares needs): each task runs after the one before it',
        'no two tasks can run at once: every group holds one task',
        'tasks use one server (fs)',
      ],
    },
    {
      name: 'a plain list across two servers → multi-server',
      workflow: workflowOf([t('a'), t('b', 'api')]),
      expected: { pattern: 'multi-server', with: [], groups: [['a'], ['b']], servers: ['fs', 'api'], dependencies: 'list' },
      reasons: [
        'plain list (no task declares needs): each task runs after the one before it',
        'no two tasks can run at once: every group holds one task',
        'tasks use 2 servers (fs, api)',
      ],
    },
    {
      name: 'a server used only for context counts → multi-server',
      workflow: workflowOf([t('a', 'fs', { context: [{ server: 'api', uri: 'x://y' }] })]),
      expected: { pattern: 'multi-server', servers: ['fs', 'api'] },
      reasons: ['a single task', 'tasks use 2 servers (fs, api)'],
    },
    {
      name: 'independent tasks joined by a later one → parallel',
      workflow: workflowOf([t('a'), t('b'), t('c'), t('all', 'fs', { needs: ['a', 'b', 'c'] })]),
      expected: { pattern: 'parallel', with: [], groups: [['a', 'b', 'c'], ['all']], dependencies: 'graph' },
      reasons: [
        'graph (needs declared on all): each task waits only for the tasks it needs and those whose results it reads',
        'group 1 holds 3 independent tasks (a, b, c)',
        'tasks use one server (fs)',
      ],
    },
    {
      name: 'a diamond across two servers → parallel with multi-server',
      workflow: workflowOf([t('a'), t('b', 'api', { needs: ['a'] }), t('c', 'fs', { needs: ['a'] }), t('d', 'fs', { needs: ['b', 'c'] })]),
      expected: { pattern: 'parallel', with: ['multi-server'], groups: [['a'], ['b', 'c'], ['d']], servers: ['fs', 'api'] },
      reasons: [
        'graph (needs declared on b, c, d): each task waits only for the tasks it needs and those whose results it reads',
        'group 2 holds 2 independent tasks (b, c)',
        'tasks use 2 servers (fs, api)',
      ],
    },
    {
      name: 'two disconnected chains → parallel, one reason per wide group',
      workflow: workflowOf([t('a1'), t('a2', 'fs', { needs: ['a1'] }), t('b1'), t('b2', 'fs', { needs: ['b1'] })]),
      expected: { pattern: 'parallel', groups: [['a1', 'b1'], ['a2', 'b2']] },
      reasons: [
        'graph (needs declared on a2, b2): each task waits only for the tasks it needs and those whose results it reads',
        'group 1 holds 2 independent tasks (a1, b1)',
        'group 2 holds 2 independent tasks (a2, b2)',
        'tasks use one server (fs)',
      ],
    },
    {
      name: 'data-only dependencies in a graph order tasks like needs',
      workflow: workflowOf([t('a'), t('b', 'fs', { args: { x: '{{ tasks.a.text }}' } }), t('c', 'fs', { needs: ['b'] })]),
      expected: { pattern: 'sequential', groups: [['a'], ['b'], ['c']], dependencies: 'graph' },
      reasons: [
        'graph (needs declared on c): each task waits only for the tasks it needs and those whose results it reads',
        'no two tasks can run at once: every group holds one task',
        'tasks use one server (fs)',
      ],
    },
    {
      name: 'a graph reading a task listed after it',
      workflow: workflowOf([t('save', 'fs', { args: { x: '{{ tasks.read.text }}' } }), t('read'), t('other', 'fs', { needs: ['read'] })]),
      expected: { pattern: 'parallel', groups: [['read'], ['save', 'other']] },
      reasons: [
        'graph (needs declared on other): each task waits only for the tasks it needs and those whose results it reads',
        'group 2 holds 2 independent tasks (save, other)',
        'tasks use one server (fs)',
      ],
    },
    {
      name: 'tasks from a planner are judged on the static tasks, with the planner server',
      workflow: workflowOf([t('setup')], { plan: { server: 'planner', tool: 'make_plan' } }),
      expected: { pattern: 'multi-server', groups: [['setup']], servers: ['planner', 'fs'] },
      reasons: [
        'a single task',
        'tasks come from the planner planner.make_plan: the breakdown is decided at run time, so this judges the 1 static task only',
        'the run uses 2 servers (planner, fs)',
      ],
    },
    {
      name: 'a planner with no static tasks',
      workflow: workflowOf(undefined, { plan: { server: 'planner', tool: 'make_plan' } }),
      expected: { pattern: 'sequential', with: [], groups: [], servers: ['planner'] },
      reasons: [
        'no tasks',
        'tasks come from the planner planner.make_plan: the breakdown is decided at run time, so there are no static tasks to judge',
        'the run uses one server (planner)',
      ],
    },
  ])('$name', ({ workflow, expected, reasons }) => {
    const choice = selectPattern(workflow);
    expect(choice).toMatchObject(expected);
    // Servers that no task uses are noted after the rest; these tables declare fs, api and planner.
    expect(choice.reasons.filter((reason) => !reason.includes('declared but no task uses'))).toEqual(reasons);
  });

  it('notes declared servers no task uses', () => {
    expect(selectPattern(workflowOf([t('a')])).reasons.at(-1)).toBe('servers api, planner are declared but no task uses them');
    expect(selectPattern(workflowOf([t('a'), t('b', 'api')])).reasons.at(-1)).toBe('server planner is declared but no task uses it');
  });

  it('never picks aggregator or graceful degradation as the primary', () => {
    const choice = selectPattern(workflowOf([t('a'), t('b', 'api')]));
    expect(['sequential', 'parallel', 'multi-server']).toContain(choice.pattern);
    expect(choice.with).not.toContain('aggregator');
  });
});

describe('selectPattern: graceful degradation', () => {
  /** `fallback` is not in the schema yet: added by hand, as a later version of the parser will. */
  function withFallback(workflow: Workflow, server: string): Workflow {
    return { ...workflow, servers: { ...workflow.servers, [server]: Object.assign({}, workflow.servers[server]!, { fallback: 'api' }) } };
  }

  it('adds graceful-degradation when a used server declares a fallback', () => {
    const choice = selectPattern(withFallback(workflowOf([t('a')]), 'fs'));
    expect(choice).toMatchObject({ pattern: 'sequential', with: ['graceful-degradation'] });
    expect(choice.reasons).toContain('server fs declares a fallback');
  });

  it('lists it after multi-server', () => {
    expect(selectPattern(withFallback(workflowOf([t('a'), t('b'), t('c', 'api', { needs: ['a'] })]), 'fs')).with).toEqual(['multi-server', 'graceful-degradation']);
  });

  it('ignores a fallback on a server no task uses', () => {
    expect(selectPattern(withFallback(workflowOf([t('a')]), 'planner')).with).toEqual([]);
  });
});

describe('selectPattern: forcing the primary pattern', () => {
  const diamond = [t('a'), t('b', 'api', { needs: ['a'] }), t('c', 'fs', { needs: ['a'] }), t('d', 'fs', { needs: ['b', 'c'] })];

  it.each<{ name: string; pattern?: RunPattern; force?: RunPattern; expected: RunPattern; first: string }>([
    { name: 'force wins over auto', force: 'sequential', expected: 'sequential', first: 'forced to sequential (auto would choose parallel)' },
    { name: 'the workflow pattern forces', pattern: 'multi-server', expected: 'multi-server', first: 'the workflow sets pattern: multi-server (auto would choose parallel)' },
    {
      name: 'force wins over the workflow pattern',
      pattern: 'sequential',
      force: 'multi-server',
      expected: 'multi-server',
      first: "forced to multi-server, over the workflow's pattern: sequential (auto would choose parallel)",
    },
    { name: 'forcing what auto would choose', force: 'parallel', expected: 'parallel', first: 'forced to parallel (auto would choose the same)' },
  ])('$name', ({ pattern, force, expected, first }) => {
    const workflow = workflowOf(diamond, pattern ? { pattern } : {});
    const choice = selectPattern(workflow, force ? { force } : {});
    expect(choice.pattern).toBe(expected);
    expect(choice.reasons[0]).toBe(first);
    // What auto saw is still explained, and the groups are the same.
    expect(choice.reasons).toContain('group 2 holds 2 independent tasks (b, c)');
    expect(choice.groups).toEqual([['a'], ['b', 'c'], ['d']]);
  });

  it('keeps multi-server in `with` when another primary is forced', () => {
    expect(selectPattern(workflowOf(diamond), { force: 'sequential' }).with).toEqual(['multi-server']);
    expect(selectPattern(workflowOf(diamond), { force: 'multi-server' }).with).toEqual([]);
  });

  it('tells run patterns from other values', () => {
    expect(['sequential', 'parallel', 'multi-server'].every(isRunPattern)).toBe(true);
    expect(['auto', 'aggregator', 'graceful-degradation', 'Parallel', undefined].some(isRunPattern)).toBe(false);
  });
});

describe('selectPattern: invalid input', () => {
  it('rejects an empty task list without a planner (as parseWorkflow does first)', () => {
    expect(catchError(() => workflowOf([]))).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'tasks' });
    const empty: Workflow = { ...workflowOf([t('a')]), tasks: [] };
    const error = catchError(() => selectPattern(empty));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'tasks' });
    expect(error.message).toBe('a workflow needs at least one task (or a plan)');
  });

  it('rejects cycles before anything is chosen, naming the tasks (parseWorkflow first, the grouping for hand-built workflows)', () => {
    const cyclic = [t('a', 'fs', { needs: ['c'] }), t('b', 'fs', { needs: ['a'] }), t('c', 'fs', { needs: ['b'] })];
    expect(catchError(() => workflowOf(cyclic)).message).toContain('a → b → c → a');
    const handBuilt: Workflow = {
      ...workflowOf([t('x')]),
      tasks: ['a', 'b'].map((id, index) => ({ id, server: 'fs', tool: 't', args: {}, context: [], needs: [index === 0 ? 'b' : 'a'] })),
    };
    expect(catchError(() => selectPattern(handBuilt)).message).toContain('a → b → a');
  });

  it('rejects a needs on a missing id', () => {
    expect(catchError(() => workflowOf([t('a'), t('b', 'fs', { needs: ['ghost'] })]))).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'tasks[1].needs' });
  });
});

describe('selectPattern: the multi-server coordinator', () => {
  it('chooses it when a task reads the result of a task on another server, even with independent tasks', () => {
    const choice = selectPattern(workflowOf([t('a', 'fs', { needs: [] }), t('b', 'api', { needs: [] }), t('c', 'api', { args: { x: '{{ tasks.a.text }}' } })]));
    expect(choice.pattern).toBe('multi-server');
    expect(choice.with).toEqual([]);
    expect(choice.reasons).toContain('data flows between servers (c (api) reads a (fs)): the multi-server coordinator runs them, with independent tasks of different servers at once');
  });

  it('chooses it for a task that names only a tool, saying it routes by capability', () => {
    const choice = selectPattern(workflowOf([{ id: 'a', tool: 't' }]));
    expect(choice.pattern).toBe('multi-server');
    expect(choice.reasons).toContain('task a names only a tool: the multi-server coordinator routes it by capability');
  });

  it('chooses it for a task that declares compensate, saying it runs a saga', () => {
    const choice = selectPattern(workflowOf([t('a', 'fs', { compensate: { server: 'api', tool: 'undo' } })]));
    expect(choice.pattern).toBe('multi-server');
    expect(choice.servers).toEqual(['fs', 'api']);
    expect(choice.reasons).toContain('task a declares compensate: the multi-server coordinator undoes completed tasks when a later one fails (a saga)');
  });

  it('leaves tasks on one server that read each other to the other patterns', () => {
    expect(selectPattern(workflowOf([t('a'), t('b', 'fs', { args: { x: '{{ tasks.a.text }}' } })])).pattern).toBe('sequential');
  });
});
