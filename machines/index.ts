/**
 * Every machine, by diagram name. `npm run diagrams` writes
 * `diagrams/<name>.mmd` for each; the diagrams test fails when one is stale.
 */
import type { AnyStateMachine } from 'xstate';
import { coordinatorMachine } from './coordinator.machine.js';
import { degradationMachine } from './degradation.machine.js';
import { directoryMachine } from './directory.machine.js';
import { parallelMachine } from './parallel.machine.js';
import { sequentialMachine } from './sequential.machine.js';
import { serverMachine } from './server.machine.js';
import { workerMachine } from './worker.machine.js';

export const machineRegistry: Record<string, AnyStateMachine> = {
  sequential: sequentialMachine,
  parallel: parallelMachine,
  coordinator: coordinatorMachine,
  worker: workerMachine,
  degradation: degradationMachine,
  server: serverMachine,
  directory: directoryMachine,
};
