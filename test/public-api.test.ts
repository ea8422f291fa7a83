/**
 * The public API is what src/index.ts exports: this list changes only on purpose.
 */
import { expect, it } from 'vitest';
import * as ensemble from '../src/index.js';

it('exports exactly the documented public API', () => {
  expect(Object.keys(ensemble).sort()).toEqual([
    'EnsembleError',
    'createBus',
    'createParallelGroups',
    'createRun',
    'degradationMachine',
    'isEnsembleError',
    'listDependencies',
    'loadWorkflow',
    'ofType',
    'parallelMachine',
    'parseWorkflow',
    'readWorkflowFile',
    'runWorkflow',
    'selectPattern',
    'sequentialMachine',
    'taskMachine',
    'toTopologicalOrder',
  ]);
});
