/**
 * Ensemble's public API. Everything not exported here is internal.
 */

// Running workflows
export { runWorkflow, loadWorkflow, type RunWorkflowOptions, type WorkflowSource } from './engine/run-workflow.js';
export { createRun, type Run, type RunOptions } from './engine/create-run.js';

// Workflow files
export { readWorkflowFile } from './workflow/read-workflow.js';
export { parseWorkflow, type ParseWorkflowOptions } from './workflow/parse-workflow.js';
export type { Workflow, ServerSpec, StdioServerSpec, HttpServerSpec, TaskSpec, PlanSpec, ResourceRef, FallbackSpec, ToolMapping, ResilienceSpec } from './core/workflow.js';

// Planning: dependencies, parallel groups and the pattern selection guide
export { listDependencies } from './planning/dependencies.js';
export { createParallelGroups, toTopologicalOrder } from './planning/parallel-groups.js';
export { selectPattern, type PatternChoice } from './planning/select-pattern.js';

// The bus: observe a run
export { createBus, ofType, type RunBus } from './bus.js';
export type { BusEvent, BusEventOf, BusEventType, BusPayload, RunEvent, ServerEvent, LifecycleEvent, TaskRef, RunPhase } from './core/bus-events.js';

// Results and reports
export type { RunReport, TaskReport, RunStatus, TaskStatus, ToolResult, ResourceResult, ToolInfo, Notification, PatternName } from './core/results.js';

// Errors
export { EnsembleError, isEnsembleError, type ErrorCode, type ErrorInfo } from './core/errors.js';

// Machines, for inspection, diagrams and custom wiring
export { sequentialMachine, type SequentialInput, type SequentialContext, type SequentialEvent } from '../machines/sequential.machine.js';
export { parallelMachine, type ParallelInput, type ParallelContext, type ParallelEvent } from '../machines/parallel.machine.js';
export { taskMachine, type TaskActorInput, type TaskOutcome } from '../machines/task.machine.js';
export { degradationMachine, type DegradationInput } from '../machines/degradation.machine.js';
export type { ServerActorInput, ServerCommand, ServerReport, ServerLifecycle } from './core/server-port.js';
