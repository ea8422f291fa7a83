import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EnsembleError } from '../../src/core/errors.js';
import type { TaskSpec } from '../../src/core/workflow.js';
import { listDependencies } from '../../src/planning/dependencies.js';
import { createParallelGroups, toTopologicalOrder } from '../../src/planning/parallel-groups.js';
import { reading, task } from './tasks.js';

const groupsOf = (tasks: TaskSpec[]) => createParallelGroups(tasks, listDependencies(tasks).needs);

describe('createParallelGroups', () => {
  it.each<{ name: string; tasks: TaskSpec[]; groups: string[][] }>([
    { name: 'no tasks', tasks: [], groups: [] },
    { name: 'a single task', tasks: [task('a')], groups: [['a']] },
    { name: 'a plain list: one task a group', tasks: [task('a'), task('b'), task('c')], groups: [['a'], ['b'], ['c']] },
    {
      name: 'independent tasks, joined by a later one',
      tasks: [task('a'), task('b'), task('c'), task('all', { needs: ['a', 'b', 'c'] })],
      groups: [['a', 'b', 'c'], ['all']],
    },
    {
      name: 'a diamond',
      tasks: [task('a'), task('b', { needs: ['a'] }), task('c', { needs: ['a'] }), task('d', { needs: ['b', 'c'] })],
      groups: [['a'], ['b', 'c'], ['d']],
    },
    {
      name: 'two disconnected chains run side by side',
      tasks: [task('a1'), task('a2', { needs: ['a1'] }), task('b1'), task('b2', { needs: ['b1'] }), task('b3', { needs: ['b2'] })],
      groups: [['a1', 'b1'], ['a2', 'b2'], ['b3']],
    },
    {
      name: 'data-only dependencies in a graph',
      tasks: [task('a'), reading('b', 'a'), task('c'), task('d', { needs: ['c'] })],
      groups: [['a', 'c'], ['b', 'd']],
    },
    {
      name: 'a graph may list a task before what it needs',
      tasks: [task('save', { needs: ['read'] }), task('read')],
      groups: [['read'], ['save']],
    },
    {
      name: 'a task sits in the group after its deepest dependency',
      tasks: [task('a'), task('b', { needs: ['a'] }), task('c', { needs: ['b'] }), task('d', { needs: ['a', 'c'] }), task('e', { needs: ['a'] })],
      groups: [['a'], ['b', 'e'], ['c'], ['d']],
    },
  ])('$name', ({ tasks, groups }) => {
    expect(groupsOf(tasks)).toEqual(groups);
  });

  it('counts dependencies on ids outside the list (earlier tasks) as met', () => {
    expect(createParallelGroups([task('p'), task('q')], { p: ['setup'], q: ['setup'] })).toEqual([['p', 'q']]);
  });

  it('throws INVALID_WORKFLOW naming the tasks on a cycle', () => {
    const tasks = [task('a', { needs: ['c'] }), task('b', { needs: ['a'] }), task('c', { needs: ['b'] }), task('free')];
    let error: unknown;
    try {
      groupsOf(tasks);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EnsembleError);
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', task: 'a' });
    expect((error as Error).message).toContain('a → b → c → a');
  });

  it('holds for any graph: every task once, dependencies in earlier groups, each group as early as it can be', () => {
    // Random DAGs: each task may need any of the tasks generated before it, then the list is shuffled.
    const graphs = fc
      .integer({ min: 1, max: 12 })
      .chain((count) =>
        fc.tuple(
          fc.tuple(...Array.from({ length: count }, (_, index) => fc.subarray(Array.from({ length: index }, (_, earlier) => `t${earlier}`)))),
          fc.shuffledSubarray(Array.from({ length: count }, (_, index) => index), { minLength: count, maxLength: count }),
        ),
      )
      .map(([needs, order]) => order.map((index) => task(`t${index}`, { needs: needs[index] ?? [] })));

    fc.assert(
      fc.property(graphs, (tasks) => {
        const { needs } = listDependencies(tasks);
        const groups = createParallelGroups(tasks, needs);
        const groupOf = new Map(groups.flatMap((group, index) => group.map((id) => [id, index] as const)));
        expect([...groupOf.keys()].sort()).toEqual(tasks.map((t) => t.id).sort());
        expect(groups.flat()).toHaveLength(tasks.length);
        for (const { id } of tasks) {
          const at = groupOf.get(id)!;
          const depths = (needs[id] ?? []).map((dependency) => groupOf.get(dependency)!);
          for (const depth of depths) expect(depth).toBeLessThan(at);
          expect(at).toBe(depths.length === 0 ? 0 : Math.max(...depths) + 1);
        }
        // Declared order within each group.
        const position = new Map(tasks.map((t, index) => [t.id, index]));
        for (const group of groups) {
          expect(group).toEqual([...group].sort((a, b) => position.get(a)! - position.get(b)!));
        }
      }),
    );
  });
});

describe('toTopologicalOrder', () => {
  it('keeps a plain list as it is', () => {
    const tasks = [task('a'), task('b'), task('c')];
    expect(toTopologicalOrder(tasks, listDependencies(tasks).needs)).toEqual(tasks);
  });

  it('runs a graph group by group, declared order within a group, returning the specs', () => {
    const tasks = [task('d', { needs: ['b', 'c'] }), task('c', { needs: ['a'] }), task('b', { needs: ['a'] }), task('a')];
    const ordered = toTopologicalOrder(tasks, listDependencies(tasks).needs);
    expect(ordered.map((t) => t.id)).toEqual(['a', 'c', 'b', 'd']);
    expect(ordered[0]).toBe(tasks[3]);
  });
});
