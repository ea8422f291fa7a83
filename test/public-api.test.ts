/**
 * The public API is what src/index.ts exports: this list changes only on purpose.
 */
import { expect, it } from 'vitest';
import * as ensemble from '../src/index.js';

it('exports exactly the documented public API', () => {
  expect(Object.keys(ensemble).sort()).toEqual([
    'EnsembleError',
    'coordinatorMachine',
    'createAggregator',
    'createBus',
    'createEnsemble',
    'createInspector',
    'createParallelGroups',
    'createRun',
    'degradationMachine',
    'directoryMachine',
    'isEnsembleError',
    'listDependencies',
    'loadWorkflow',
    'ofType',
    'parallelMachine',
    'parseServers',
    'parseWorkflow',
    'readWorkflowFile',
    'runWorkflow',
    'selectPattern',
    'sequentialMachine',
    'serverMachine',
    'toTopologicalOrder',
    'workerMachine',
  ]);
});
