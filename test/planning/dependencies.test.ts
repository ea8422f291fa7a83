import { describe, expect, it } from 'vitest';
import type { TaskSpec } from '../../src/core/workflow.js';
import { findCycle, listBreakdownDependencies, listDependencies, listReadTasks } from '../../src/planning/dependencies.js';
import { createParallelGroups } from '../../src/planning/parallel-groups.js';
import { reading, task } from './tasks.js';

describe('listReadTasks', () => {
  it('lists the tasks whose results the args read, once each, in order of appearance', () => {
    const reader = task('x', {
      args: { a: '{{ tasks.read.text }}', b: ['{{tasks.list.json.items.0}}', { c: 'again {{ tasks.read.json }}' }] },
    });
    expect(listReadTasks(reader)).toEqual(['read', 'list']);
  });

  it('does not count context entries as tasks', () => {
    expect(listReadTasks(task('x', { args: { a: '{{ context.0.text }}', b: '{{ context.1.json.x }}' } }))).toEqual([]);
  });
});

describe('listDependencies', () => {
  it.each<{ name: string; tasks: TaskSpec[]; mode: 'list' | 'graph'; needs: Record<string, string[]> }>([
    { name: 'no tasks', tasks: [], mode: 'list', needs: {} },
    { name: 'a single task', tasks: [task('a')], mode: 'list', needs: { a: [] } },
    {
      name: 'a plain list: each task after the one before it',
      tasks: [task('a'), task('b'), task('c')],
      mode: 'list',
      needs: { a: [], b: ['a'], c: ['b'] },
    },
    {
      name: 'a plain list keeps data dependencies beside the order',
      tasks: [task('a'), task('b'), reading('c', 'a')],
      mode: 'list',
      needs: { a: [], b: ['a'], c: ['a', 'b'] },
    },
    {
      name: 'one declared needs makes a graph: only declared and data dependencies count',
      tasks: [task('a'), task('b'), task('c', { needs: ['a'] })],
      mode: 'graph',
      needs: { a: [], b: [], c: ['a'] },
    },
    {
      name: 'a graph counts what a task reads, even a task listed after it',
      tasks: [reading('a', 'c'), task('b', { needs: ['a'] }), task('c')],
      mode: 'graph',
      needs: { a: ['c'], b: ['a'], c: [] },
    },
    {
      name: 'declared and read dependencies, de-duplicated, in declared task order',
      tasks: [task('a'), task('b'), task('c'), task('d', { needs: ['c', 'a'], args: { x: '{{ tasks.b.text }} {{ tasks.a.json }}' } })],
      mode: 'graph',
      needs: { a: [], b: [], c: [], d: ['a', 'b', 'c'] },
    },
    {
      name: 'ids from outside the list (earlier tasks) come first',
      tasks: [task('p', { needs: ['setup'] }), reading('q', 'p', 'setup')],
      mode: 'graph',
      needs: { p: ['setup'], q: ['setup', 'p'] },
    },
  ])('$name', ({ tasks, mode, needs }) => {
    const dependencies = listDependencies(tasks);
    expect(dependencies.mode).toBe(mode);
    expect(dependencies.needs).toEqual(needs);
  });

  it('an explicit needs: [] on one task makes the list a graph, so tasks with no data dependency run together', () => {
    const plain = [task('a'), task('b')];
    const tasks = [task('a'), task('b', { needs: [] })];
    expect(listDependencies(plain)).toMatchObject({ mode: 'list', needs: { a: [], b: ['a'] } });
    expect(createParallelGroups(plain, listDependencies(plain).needs)).toEqual([['a'], ['b']]);

    const dependencies = listDependencies(tasks);
    expect(dependencies).toEqual({
      mode: 'graph',
      needs: { a: [], b: [] },
      reason: 'graph (needs declared on b): each task waits only for the tasks it needs and those whose results it reads',
    });
    expect(createParallelGroups(tasks, dependencies.needs)).toEqual([['a', 'b']]);
  });

  it('says which rule applied', () => {
    expect(listDependencies([task('a'), task('b')]).reason).toBe('plain list (no task declares needs): each task runs after the one before it');
    expect(listDependencies([task('a')]).reason).toBe('a single task');
    expect(listDependencies([task('a'), task('b', { needs: ['a'] }), task('c', { needs: ['a'] })]).reason).toBe(
      'graph (needs declared on b, c): each task waits only for the tasks it needs and those whose results it reads',
    );
  });
});

describe('listBreakdownDependencies', () => {
  it.each<{ name: string; own: TaskSpec[]; planned: TaskSpec[]; mode: 'list' | 'graph'; needs: Record<string, string[]> }>([
    {
      name: 'two plain lists make one longer list',
      own: [task('a'), task('b')],
      planned: [task('p'), task('q')],
      mode: 'list',
      needs: { a: [], b: ['a'], p: ['b'], q: ['p'] },
    },
    {
      name: "a planner's graph does not turn the file's plain list into a graph",
      own: [task('a'), task('b')],
      planned: [task('p', { needs: ['a'] }), task('q')],
      mode: 'graph',
      needs: { a: [], b: ['a'], p: ['a', 'b'], q: ['b'] },
    },
    {
      name: "the file's graph does not turn a planner's plain list into a graph; planned tasks wait for the file's last tasks",
      own: [task('a'), task('b'), task('c', { needs: ['a'] })],
      planned: [task('p'), reading('q', 'a')],
      mode: 'graph',
      needs: { a: [], b: [], c: ['a'], p: ['b', 'c'], q: ['a', 'p'] },
    },
    {
      name: 'only planned tasks',
      own: [],
      planned: [task('p'), task('q')],
      mode: 'list',
      needs: { p: [], q: ['p'] },
    },
    {
      name: 'no planned tasks',
      own: [task('a'), task('b', { needs: ['a'] })],
      planned: [],
      mode: 'graph',
      needs: { a: [], b: ['a'] },
    },
  ])('$name', ({ own, planned, mode, needs }) => {
    const dependencies = listBreakdownDependencies(own, planned);
    expect(dependencies.mode).toBe(mode);
    expect(dependencies.needs).toEqual(needs);
  });

  it('says which rule applied to each list', () => {
    expect(listBreakdownDependencies([task('a'), task('b')], [task('p', { needs: ['a'] })]).reason).toBe(
      'plain list (no task declares needs): each task runs after the one before it; then the planned tasks, after them: graph (needs declared on p): each task waits only for the tasks it needs and those whose results it reads',
    );
  });
});

describe('findCycle', () => {
  const ids = (...names: string[]) => names.map((id) => ({ id }));

  it('finds none in a graph without cycles', () => {
    expect(findCycle(ids('a', 'b', 'c', 'd'), { b: ['a'], c: ['a'], d: ['b', 'c'] })).toBeUndefined();
    expect(findCycle([], {})).toBeUndefined();
  });

  it('returns the cycle in run order, from its earliest-declared task back to it', () => {
    // a needs c, b needs a, c needs b: a runs before b, b before c, c before a.
    expect(findCycle(ids('a', 'b', 'c'), { a: ['c'], b: ['a'], c: ['b'] })).toEqual(['a', 'b', 'c', 'a']);
    expect(findCycle(ids('x', 'a', 'b'), { x: [], a: ['b'], b: ['a'] })).toEqual(['a', 'b', 'a']);
  });

  it('starts at the earliest-declared task however the search meets the cycle', () => {
    expect(findCycle(ids('entry', 'a', 'b', 'c'), { entry: ['c'], a: ['b'], b: ['c'], c: ['a'] })).toEqual(['a', 'c', 'b', 'a']);
  });

  it('finds a task that needs itself', () => {
    expect(findCycle(ids('a'), { a: ['a'] })).toEqual(['a', 'a']);
  });

  it('ignores dependencies on ids outside the list', () => {
    expect(findCycle(ids('a', 'b'), { a: ['setup'], b: ['a', 'ghost'] })).toBeUndefined();
  });
});
