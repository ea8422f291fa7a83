/**
 * Ensemble's public API. Everything not exported here is internal.
 */

// Running workflows
export { runWorkflow, loadWorkflow, type RunWorkflowOptions, type WorkflowSource } from './engine/run-workflow.js';
export { createRun, type Run, type RunOptions } from './engine/create-run.js';
export { createEnsemble, type Ensemble, type EnsembleConfig, type EnsembleRunOptions } from './engine/create-ensemble.js';

// The aggregator MCP server (`ensemble serve`)
export { createAggregator, type Aggregator, type AggregatorConfig } from './serve/create-aggregator.js';
export type { HttpListener } from './serve/http-endpoint.js';
export type { ToolFilter } from './serve/tool-filter.js';

// Workflow files
export { readWorkflowFile } from './workflow/read-workflow.js';
export { parseWorkflow, parseServers, type ParseWorkflowOptions } from './workflow/parse-workflow.js';
export type { Workflow, ServerSpec, StdioServerSpec, HttpServerSpec, TaskSpec, CompensationSpec, PlanSpec, ResourceRef, FallbackSpec, ToolMapping, ResilienceSpec } from './core/workflow.js';

// Planning: dependencies, parallel groups and the pattern selection guide
export { listDependencies } from './planning/dependencies.js';
export { createParallelGroups, toTopologicalOrder } from './planning/parallel-groups.js';
export { selectPattern, type PatternChoice } from './planning/select-pattern.js';

// The bus: observe a run
export { createBus, ofType, type RunBus } from './bus.js';
export type { BusEvent, BusEventOf, BusEventType, BusPayload, RunEvent, ServerEvent, LifecycleEvent, TaskRef, RunPhase } from './core/bus-events.js';

// The statechart inspector: a local page for a run, and traces that replay
export { createInspector, type Inspector, type InspectorConfig } from './inspector/create-inspector.js';
export type { FeedEvent, InspectorModel } from './inspector/inspector-model.js';

// Results and reports
export type { RunReport, TaskReport, RunStatus, TaskStatus, ToolResult, RawToolResult, ResourceResult, ToolInfo, Notification, PatternName, ServerShare, CompensationReport } from './core/results.js';

// Errors
export { EnsembleError, isEnsembleError, type ErrorCode, type ErrorInfo } from './core/errors.js';

// Machines, for inspection, diagrams and custom wiring
export { sequentialMachine, type SequentialInput, type SequentialContext, type SequentialEvent } from '../machines/sequential.machine.js';
export { parallelMachine, type ParallelInput, type ParallelContext, type ParallelEvent } from '../machines/parallel.machine.js';
export { coordinatorMachine, type CoordinatorInput, type CoordinatorContext, type CoordinatorEvent } from '../machines/coordinator.machine.js';
export { workerMachine, type WorkerInput, type TaskOutcome } from '../machines/worker.machine.js';
export { degradationMachine, type DegradationInput } from '../machines/degradation.machine.js';
export { serverMachine, type MemberStateReport } from '../machines/server.machine.js';
export { directoryMachine } from '../machines/directory.machine.js';
export type { ServerMemberInput, ServerRequest, ServerReply, ServerReport, ServerPortMessage, ServerLifecycle } from './core/server-port.js';
