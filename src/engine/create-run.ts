/**
 * The engine: wires a pattern machine to real server actors, the bus and the
 * synthesizer, runs it, and makes sure every server process is gone before
 * the report is handed back.
 */
import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import type { Observable, Subscription } from 'rxjs';
import { createActor, fromPromise, type InspectionEvent, type Observer } from 'xstate';
import { coordinatorMachine } from '../../machines/coordinator.machine.js';
import { parallelMachine } from '../../machines/parallel.machine.js';
import { sequentialMachine } from '../../machines/sequential.machine.js';
import { selectPattern, type PatternChoice } from '../planning/select-pattern.js';
import { createBus } from '../bus.js';
import type { BusEvent, BusPayload, RunEvent } from '../core/bus-events.js';
import { toErrorInfo, type ErrorInfo } from '../core/errors.js';
import type { RunReport, RunStatus } from '../core/results.js';
import type { Workflow } from '../core/workflow.js';
import { createSynthesizer } from '../synthesizer.js';
import { bindInputs } from '../workflow/bind-inputs.js';
import type { RunScope } from './call-router.js';
import { ServerDirectory } from './server-directory.js';
import { createServerPortActor } from './server-port-actor.js';

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
  /** Values for the workflow's declared `inputs` (`{{ inputs.x }}`); checked before anything starts. */
  inputs?: Readonly<Record<string, unknown>>;
  /** Publish per-call server events (`server.call.result`, `server.call.error`) on the run's bus. */
  trace?: boolean;
  /**
   * The server directory to run on (an ensemble's, shared by its runs). Without one the run
   * gets a directory of its own, started for it and closed when it ends.
   */
  directory?: ServerDirectory;
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
  /**
   * The report of what has finished so far, for a caller that cannot wait for the end (a second
   * Ctrl-C): status `failed` with a `CANCELLED` error, finished tasks as they ended, tasks still
   * running marked `cancelled` and tasks not reached `skipped`. Once the run has ended, its own
   * report. Undefined before `start()`.
   */
  reportSoFar(reason?: string): RunReport | undefined;
  /** The orchestrator's persisted snapshot now (plain JSON: servers are named, never held); undefined before it starts. */
  getPersistedSnapshot(): unknown;
}

/**
 * Prepares a run of a validated workflow without starting it.
 *
 * @example
 * const run = createRun(await readWorkflowFile('flow.yaml'));
 * run.events$.subscribe((event) => console.log(event.type));
 * const report = await run.start();
 */
export function createRun(declared: Workflow, options: RunOptions = {}): Run {
  // A workflow with inputs is bound here (a bound one declares none), so a missing or mistyped
  // input is an INVALID_ARGUMENTS error before any server starts.
  const workflow = declared.inputs !== undefined || options.inputs !== undefined ? bindInputs(declared, options.inputs ?? {}) : declared;
  const runId = options.runId ?? randomUUID();
  const bus = createBus(runId);
  const choice = selectPattern(workflow, options.pattern ? { force: options.pattern } : {});
  const pattern = choice.pattern;
  let started: Promise<RunReport> | undefined;
  // Before the machine runs, a cancel is remembered and ends the run at its start.
  let cancelledEarly: string | undefined;
  let cancel: (reason: string) => void = (reason) => {
    cancelledEarly ??= reason;
  };
  let snapshotOf: () => unknown = () => undefined;
  let reportSoFar: (reason: string) => RunReport | undefined = () => undefined;

  const execute = async (): Promise<RunReport> => {
    const startedAt = Date.now();
    const synthesizer = createSynthesizer(bus, { workflow, pattern });
    let finalReport: RunReport | undefined;
    reportSoFar = (reason) => {
      if (finalReport) return finalReport;
      const soFar = synthesizer.report('failed', { output: '', error: { code: 'CANCELLED', message: `run interrupted (${reason}): this report holds what had finished` }, startedAt });
      // The caller stops waiting now: a task still running will not finish for it.
      soFar.tasks = soFar.tasks.map((task) => (task.status === 'running' ? { ...task, status: 'cancelled', text: task.text || 'still running when the run was interrupted' } : task));
      return soFar;
    };
    // Servers often must be given folders that exist when they start (server-filesystem does).
    const workspaceError = await prepareWorkspace(workflow);
    if (workspaceError || cancelledEarly !== undefined) {
      const error = workspaceError ?? { code: 'CANCELLED' as const, message: `run cancelled: ${cancelledEarly}` };
      bus.publish({ type: 'run.started', workflow: workflow.name, pattern });
      bus.publish({ type: 'run.finished', status: 'failed', output: '', error });
      const report = synthesizer.report('failed', { output: '', error, startedAt });
      synthesizer.stop();
      bus.complete();
      finalReport = report;
      return report;
    }
    const owned = options.directory === undefined;
    const directory = options.directory ?? new ServerDirectory({ servers: workflow.servers, timeoutMs: workflow.timeoutMs, ...(options.inspect ? { inspect: options.inspect } : {}) });
    // What the directory says about this run's servers reaches the run's bus while it runs.
    const relevant = new Set(Object.keys(workflow.servers));
    const forwarding: Subscription = directory.bus.events$.subscribe((event) => {
      const server = event.type === 'notification' ? event.notification.server : 'server' in event ? event.server : undefined;
      if (server === undefined || !relevant.has(server)) return;
      const { runId: _other, at: _at, ...payload } = event;
      bus.publish(payload as BusPayload);
    });
    const scope: RunScope = { runId, workspace: workflow.workspace ?? workflow.dir, timeoutMs: workflow.timeoutMs, calls: new Map(), publish: bus.publish, ...(options.trace ? { trace: bus.publish } : {}) };
    const serverPort = createServerPortActor(directory, scope);
    const synthesize = fromPromise<string, { runId: string }>(async () => synthesizer.synthesize());
    const inspect = options.inspect ? { inspect: options.inspect } : {};
    const actor: Orchestrator =
      pattern === 'parallel'
        ? createActor(parallelMachine.provide({ actors: { serverPort, synthesize } }), { input: { runId, workflow }, ...inspect })
        : pattern === 'multi-server'
          ? createActor(coordinatorMachine.provide({ actors: { serverPort, synthesize } }), { input: { runId, workflow }, ...inspect })
          : createActor(sequentialMachine.provide({ actors: { serverPort, synthesize } }), { input: { runId, workflow }, ...inspect });

    // Live before run.started is published: a subscriber of the run's first event may cancel it
    // (regression: a cancel from there reached the early-cancel slot, checked already, and was lost).
    // Deferred: cancel() is often called from a bus subscriber, in the middle of some actor's
    // transition; by the time it is delivered the actor has started.
    cancel = (reason) => queueMicrotask(() => actor.send({ type: 'run.cancel', reason }));
    bus.publish({ type: 'run.started', workflow: workflow.name, pattern });
    actor.on('*', (event) => bus.publish(event));
    const finished = new Promise<void>((resolve) => {
      actor.subscribe({ complete: resolve, error: () => resolve() });
    });
    snapshotOf = () => actor.getPersistedSnapshot();
    const onAbort = () => cancel(String(options.signal?.reason ?? 'aborted'));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    actor.start();
    if (options.signal?.aborted) onAbort();
    await finished;
    options.signal?.removeEventListener('abort', onAbort);

    const snapshot = actor.getSnapshot();
    // The machine is done: a later cancel has nothing left to stop.
    cancel = () => undefined;
    actor.stop();
    directory.router.abandon(scope, 'the run ended');
    if (owned) {
      // Closing waits for every process to exit (up to its grace period): say so, or it looks hung.
      // Only the servers that were started: a run that failed before starting any closes none.
      const servers = [...new Set(directory.listMembers().map((member) => member.server))];
      if (servers.length > 0) bus.publish({ type: 'run.closing', servers });
      await directory.close();
    }
    forwarding.unsubscribe();

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
    finalReport = report;
    return report;
  };

  return {
    runId,
    choice,
    events$: bus.events$,
    start: () => (started ??= execute()),
    cancel: (reason = 'cancelled') => cancel(reason),
    reportSoFar: (reason = 'interrupted') => reportSoFar(reason),
    getPersistedSnapshot: () => snapshotOf(),
  };
}

/** What the engine uses of either pattern machine's actor. */
interface Orchestrator {
  on(type: '*', handler: (event: RunEvent) => void): unknown;
  subscribe(observer: { complete: () => void; error: (error: unknown) => void }): unknown;
  start(): unknown;
  stop(): unknown;
  send(event: { type: 'run.cancel'; reason: string }): void;
  getSnapshot(): { status: string; error?: unknown; output?: { output?: string; error?: ErrorInfo } | undefined };
  getPersistedSnapshot(): unknown;
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
