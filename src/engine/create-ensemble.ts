/**
 * An ensemble: servers that outlive runs. A Node service creates one, runs
 * any number of workflows on it (one after another or at once) over the same
 * warm server processes, and closes it when it is done.
 */
import { randomUUID } from 'node:crypto';
import type { Observable } from 'rxjs';
import type { InspectionEvent, Observer } from 'xstate';
import type { BusEvent } from '../core/bus-events.js';
import type { RunReport } from '../core/results.js';
import { DEFAULT_CALL_TIMEOUT_MS, type ServerSpec } from '../core/workflow.js';
import { parseServers } from '../workflow/parse-workflow.js';
import { createRun, type Run, type RunOptions } from './create-run.js';
import { loadWorkflow, type WorkflowSource } from './run-workflow.js';
import { ServerDirectory } from './server-directory.js';

export interface EnsembleConfig {
  /** Servers as in a workflow file (`{ fs: { command, args, … } }`); `start: eager` ones start now. */
  servers: Record<string, unknown>;
  /** Folder relative commands and paths resolve against (default: cwd). */
  dir?: string;
  /** Default per-call timeout (default 60 s). */
  timeoutMs?: number;
  /** XState's inspection hook for the server directory and every server member. */
  inspect?: Observer<InspectionEvent> | ((event: InspectionEvent) => void);
}

export interface EnsembleRunOptions extends Omit<RunOptions, 'directory'> {
  /** Called with every bus event of the run, in order, from the first. */
  onEvent?: (event: BusEvent) => void;
  /** For a workflow given as a plain object: the folder its relative paths resolve against (default: cwd). */
  dir?: string;
}

export interface Ensemble {
  /** The servers, validated, by name. */
  readonly servers: Readonly<Record<string, ServerSpec>>;
  /** Server events (lifecycle, membership, notifications), for as long as the ensemble lives. */
  readonly events$: Observable<BusEvent>;
  /** Runs a workflow on the ensemble's servers; it may leave out `servers`, or add new ones. Same report as `runWorkflow`. */
  run(source: WorkflowSource, options?: EnsembleRunOptions): Promise<RunReport>;
  /** Prepares a run without starting it, to observe its bus from the first event. */
  createRun(source: WorkflowSource, options?: EnsembleRunOptions): Promise<Run>;
  /** The server directory's persisted snapshot: plain JSON. */
  getPersistedSnapshot(): unknown;
  /** Stops every server process; runs still going fail their open calls. */
  close(): Promise<void>;
}

/**
 * Creates an ensemble of servers that stay up across runs.
 *
 * @example
 * const ensemble = createEnsemble({ servers: { fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', './work'] } } });
 * const report = await ensemble.run({ name: 'list', tasks: [{ id: 'ls', server: 'fs', tool: 'list_directory', args: { path: './work' } }] });
 * await ensemble.close();
 */
export function createEnsemble(config: EnsembleConfig): Ensemble {
  const dir = config.dir ?? process.cwd();
  const servers = parseServers({ servers: config.servers }, { dir });
  const directory = new ServerDirectory({ servers, timeoutMs: config.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS, id: `ensemble-${randomUUID()}`, ...(config.inspect ? { inspect: config.inspect } : {}) });

  const prepare = async (source: WorkflowSource, options: EnsembleRunOptions = {}): Promise<Run> => {
    const workflow = await loadWorkflow(source, options.dir ?? dir, directory.servers);
    // Servers a workflow declares itself join the directory and stay for later runs.
    directory.register(workflow.servers);
    const { onEvent: _onEvent, dir: _dir, ...runOptions } = options;
    return createRun(workflow, { ...runOptions, directory });
  };

  return {
    get servers() {
      return directory.servers;
    },
    events$: directory.bus.events$,
    createRun: prepare,
    async run(source, options = {}) {
      const run = await prepare(source, options);
      const subscription = options.onEvent ? run.events$.subscribe(options.onEvent) : undefined;
      try {
        return await run.start();
      } finally {
        subscription?.unsubscribe();
      }
    },
    getPersistedSnapshot: () => directory.getPersistedSnapshot(),
    close: () => directory.close(),
  };
}
