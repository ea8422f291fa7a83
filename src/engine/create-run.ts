/**
 * The engine: wires a pattern machine to real server actors, the bus and the
 * synthesizer, runs it, and makes sure every server process is gone before
 * the report is handed back.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { Observable } from 'rxjs';
import { createActor, fromPromise, type AnyStateMachine, type InspectionEvent, type Observer } from 'xstate';
import { createServerActor } from '../../actors/server.actor.js';
import { createBuiltinFilesActor } from '../../actors/builtin-files.actor.js';
import { degradationMachine } from '../../machines/degradation.machine.js';
import { parallelMachine } from '../../machines/parallel.machine.js';
import { sequentialMachine } from '../../machines/sequential.machine.js';
import { selectPattern, type PatternChoice } from '../planning/select-pattern.js';
import { createBus } from '../bus.js';
import type { BusEvent } from '../core/bus-events.js';
import { toErrorInfo, type ErrorInfo } from '../core/errors.js';
import type { RunReport, RunStatus } from '../core/results.js';
import type { Workflow } from '../core/workflow.js';
import { createSynthesizer } from '../synthesizer.js';

export interface RunOptions {
  /** Defaults to a random UUID. */
  runId?: string;
  /**
   * XState's inspection hook, passed to every actor of the run: give it
   * `createBrowserInspector().inspect` from `@statelyai/inspect`, or any observer.
   */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
  /** Aborting cancels the run: in-flight calls are cancelled and servers closed. */
  signal?: AbortSignal;
  /** Forces the primary pattern, overriding the workflow's `pattern` and the selection guide. */
  pattern?: 'sequential' | 'parallel' | 'multi-server';
}

export interface Run {
  readonly runId: string;
  /** The pattern the selection guide chose (or that was forced), with its reasons. */
  readonly choice: PatternChoice;
  /** Every event of the run. Subscribe before `start()` to see them all. */
  readonly events$: Observable<BusEvent>;
  /** Runs the workflow once; later calls return the same promise. Never rejects for a failed run: read `status`. */
  start(): Promise<RunReport>;
  cancel(reason?: string): void;
}

/**
 * Prepares a run of a validated workflow without starting it.
 *
 * @example
 * const run = createRun(await readWorkflowFile('flow.yaml'));
 * run.events$.subscribe((event) => console.log(event.type));
 * const report = await run.start();
 */
export function createRun(workflow: Workflow, options: RunOptions = {}): Run {
  const runId = options.runId ?? randomUUID();
  const bus = createBus(runId);
  const choice = selectPattern(workflow, options.pattern ? { force: options.pattern } : {});
  const pattern = choice.pattern;
  let started: Promise<RunReport> | undefined;
  let cancel: (reason: string) => void = () => undefined;

  const execute = async (): Promise<RunReport> => {
    const startedAt = Date.now();
    const synthesizer = createSynthesizer(bus, { workflow, pattern });
    // Servers often must be given folders that exist when they start (server-filesystem does).
    const workspaceError = await prepareWorkspace(workflow);
    if (workspaceError) {
      bus.publish({ type: 'run.started', workflow: workflow.name, pattern });
      bus.publish({ type: 'run.finished', status: 'failed', output: '', error: workspaceError });
      const report = synthesizer.report('failed', { output: '', error: workspaceError, startedAt });
      synthesizer.stop();
      bus.complete();
      return report;
    }
    const closes = new Set<Promise<void>>();
    const server = createServerActor({ publish: bus.publish, trackClose: (closing) => closes.add(closing) });
    const synthesize = fromPromise<string, { runId: string }>(async () => synthesizer.synthesize());
    const builtinFiles = createBuiltinFilesActor({ publish: bus.publish });
    const resilientServer = degradationMachine.provide({ actors: { server, builtinFiles: builtinFiles as never } });
    // Multi-server coordination is one orchestrator driving several servers in turn: the sequential machine.
    const machine: AnyStateMachine =
      pattern === 'parallel'
        ? parallelMachine.provide({ actors: { server, resilientServer: resilientServer as never, synthesize } })
        : sequentialMachine.provide({ actors: { server, resilientServer: resilientServer as never, synthesize } });

    bus.publish({ type: 'run.started', workflow: workflow.name, pattern });
    const actor = createActor(machine as typeof sequentialMachine, {
      input: { runId, workflow },
      ...(options.inspect ? { inspect: options.inspect } : {}),
    });
    actor.on('*', (event) => bus.publish(event));
    const finished = new Promise<void>((resolve) => {
      actor.subscribe({ complete: resolve, error: () => resolve() });
    });
    // Deferred: cancel() is often called from a bus subscriber, in the middle of some actor's transition.
    cancel = (reason) => queueMicrotask(() => actor.send({ type: 'run.cancel', reason }));
    const onAbort = () => cancel(String(options.signal?.reason ?? 'aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    actor.start();
    if (options.signal?.aborted) onAbort();
    await finished;
    options.signal?.removeEventListener('abort', onAbort);

    const snapshot = actor.getSnapshot();
    actor.stop();
    await settleAll(closes);

    let error: ErrorInfo | undefined;
    let output = '';
    if (snapshot.status === 'error') {
      error = toErrorInfo(snapshot.error, { code: 'INTERNAL' });
    } else {
      output = snapshot.output?.output ?? '';
      error = snapshot.output?.error;
    }
    const status: RunStatus = error ? 'failed' : synthesizer.degraded ? 'degraded' : 'completed';
    bus.publish(error ? { type: 'run.finished', status, output, error } : { type: 'run.finished', status, output });
    const report = synthesizer.report(status, error ? { output, error, startedAt } : { output, startedAt });
    synthesizer.stop();
    bus.complete();
    return report;
  };

  return {
    runId,
    choice,
    events$: bus.events$,
    start: () => (started ??= execute()),
    cancel: (reason = 'cancelled') => cancel(reason),
  };
}

async function prepareWorkspace(workflow: Workflow): Promise<ErrorInfo | undefined> {
  if (!workflow.workspace) return undefined;
  try {
    await mkdir(workflow.workspace, { recursive: true });
    return undefined;
  } catch (error) {
    return { code: 'INVALID_WORKFLOW', field: 'workspace', message: `workspace ${workflow.workspace} cannot be created: ${(error as Error).message}` };
  }
}

/** Waits for every close, including ones that start while waiting. */
async function settleAll(closes: Set<Promise<void>>): Promise<void> {
  let seen = 0;
  while (seen !== closes.size) {
    seen = closes.size;
    await Promise.allSettled([...closes]);
  }
}
