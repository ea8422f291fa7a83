/**
 * `ensemble run <file>`: runs a workflow, with progress on stderr and the output on stdout (or
 * exactly one JSON report with `--json`).
 *
 * Ctrl-C: the first cancels the run cleanly (calls in flight get MCP cancellation, servers are
 * closed) and the command exits 130; a second one does not wait for that: it prints the report
 * of what had finished and exits 130 at once (the watchdog ends the servers).
 */
import process from 'node:process';
import type { BusEvent } from '../core/bus-events.js';
import { EnsembleError, toErrorInfo } from '../core/errors.js';
import type { RunReport } from '../core/results.js';
import type { Run } from '../engine/create-run.js';
import { defineCliCommand } from './cli-command.js';
import { exitCodeOfError, exitCodeOfReport } from './exit-codes.js';
import { AS_ABOVE, createErrorLedger, type ErrorLedger } from './error-ledger.js';
import { formatError } from './format-error.js';
import type { RunInspection } from './inspect-command.js';
import { formatMs, formatProgress, formatServerSummary } from './progress.js';

/** Exit status after Ctrl-C (128 + SIGINT), as shells report it. */
export const EXIT_INTERRUPTED = 130;

export const runCommand = defineCliCommand({
  name: 'run',
  usage: 'run <file> [options]',
  summary: 'Run a workflow file (YAML or JSON) and print its output',
  options: {
    file: { type: 'positional', description: 'the workflow file', required: true },
    json: { type: 'boolean', description: 'print exactly one JSON report on stdout (progress stays on a terminal only)' },
    quiet: { type: 'boolean', description: 'no progress lines' },
    pattern: { type: 'string', valueHint: 'name', description: 'force the primary pattern: sequential, parallel or multi-server' },
    inputs: { type: 'string', valueHint: 'json', description: 'values for the workflow\'s inputs, as a JSON object: --inputs \'{"city":"Oslo"}\'' },
    inspect: { type: 'boolean', description: 'serve the statechart inspector on 127.0.0.1 (address on stderr; never opens a browser)' },
    port: { type: 'string', valueHint: 'N', description: "the inspector's port (default: any free port)" },
    'inspect-hold': { type: 'string', valueHint: 'seconds', description: 'keep the inspector up this long after the run (default: until Enter on a terminal)' },
    trace: { type: 'string', valueHint: 'file.jsonl', description: 'record every inspection and bus event, one JSON line each (ensemble inspect replays it)' },
  },
  examples: ['ensemble run examples/demo/workflow.yaml', 'ensemble run flow.yaml --json > report.json'],
  async run(args) {
    const json = args.json === true;
    let run: Run;
    let inspection: RunInspection | undefined;
    try {
      // Loaded when the command runs, not with this definition: `run --help` and usage errors
      // read only the options above and must not pay for XState, the SDK and zod.
      const [{ createRun }, { readWorkflowFile }] = await Promise.all([import('../engine/create-run.js'), import('../workflow/read-workflow.js')]);
      const workflow = await readWorkflowFile(args.file);
      const patternOption = args.pattern === undefined ? {} : { pattern: readPatternOption(args.pattern) };
      if (args.inspect === true || args.trace !== undefined || args.port !== undefined || args['inspect-hold'] !== undefined) {
        // Loaded only when asked for: a plain run never loads the inspector.
        const { startRunInspection } = await import('./inspect-command.js');
        inspection = await startRunInspection({ inspect: args.inspect === true, port: args.port, hold: args['inspect-hold'], trace: args.trace });
      }
      run = createRun(workflow, { ...patternOption, ...(args.inputs === undefined ? {} : { inputs: readInputsOption(args.inputs) }), ...(inspection ? { inspect: inspection.inspect } : {}) });
      inspection?.attachBus(run.events$);
    } catch (error) {
      await inspection?.close();
      return fail(error, json);
    }
    const ledger = createErrorLedger();
    if (!args.quiet && (!json || process.stderr.isTTY === true)) {
      run.events$.subscribe((event) => {
        const line = formatRunProgress(event, run, ledger);
        if (line !== undefined) process.stderr.write(`${line}\n`);
      });
    }
    let interrupted = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (interrupted) {
        const soFar = run.reportSoFar(`a second ${signal}`);
        // Leave once stdout has taken the report: writes to a pipe are asynchronous on POSIX, and
        // exiting at once cut a report longer than the pipe's buffer (regression).
        if (soFar) printReport(soFar, json, ledger, () => process.exit(EXIT_INTERRUPTED));
        else process.exit(EXIT_INTERRUPTED);
        return;
      }
      interrupted = true;
      process.stderr.write(`ensemble: ${signal}: cancelling the run and closing its servers (again to leave at once)\n`);
      run.cancel(`received ${signal}`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const report = await run.start();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    printReport(report, json, ledger);
    process.exitCode = interrupted ? EXIT_INTERRUPTED : exitCodeOfReport(report);
    await inspection?.finish();
  },
});

/** The `--inputs` option: one JSON object of input values. */
function readInputsOption(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new EnsembleError('USAGE', `--inputs: expected a JSON object, e.g. '{"city":"Oslo"}' (${(error as Error).message})`, { field: '--inputs' });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new EnsembleError('USAGE', `--inputs: expected a JSON object, e.g. '{"city":"Oslo"}'`, { field: '--inputs' });
  return { ...parsed };
}

/** The `--pattern` option, checked: a typo must not silently fall back to auto. */
export function readPatternOption(value: string): 'sequential' | 'parallel' | 'multi-server' {
  if (value === 'sequential' || value === 'parallel' || value === 'multi-server') return value;
  throw new EnsembleError('USAGE', `--pattern: expected sequential, parallel or multi-server, got "${value}"`, { field: '--pattern' });
}

/** Progress lines, plus the start and close of the run's servers; each error message once. */
function formatRunProgress(event: BusEvent, run: Run, ledger: ErrorLedger): string | undefined {
  switch (event.type) {
    case 'run.phase':
      if (event.phase !== 'initializing' || run.choice.servers.length === 0) return undefined;
      return `  starting server${run.choice.servers.length === 1 ? '' : 's'}: ${run.choice.servers.join(', ')}`;
    case 'run.closing':
      return event.servers.length === 0 ? undefined : `  closing server${event.servers.length === 1 ? '' : 's'}…`;
    default:
      return formatProgress(event, ledger.tell);
  }
}

/** The report: one JSON line on stdout, or the summary on stderr and the output on stdout. Calls `done` once stdout has taken it. */
function printReport(report: RunReport, json: boolean, ledger: ErrorLedger, done: () => void = () => undefined): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(report)}\n`, () => done());
    return;
  }
  const counts = new Map<string, number>();
  for (const task of report.tasks) counts.set(task.status, (counts.get(task.status) ?? 0) + 1);
  const parts = [...counts].map(([status, count]) => `${count} ${status}`).join(', ');
  process.stderr.write(`${report.status}: ${parts || 'no tasks'} in ${formatMs(report.finishedAt - report.startedAt)}\n`);
  for (const line of formatServerSummary(report)) process.stderr.write(`${line}\n`);
  if (report.error && ledger.tell(report.error.message) !== AS_ABOVE) process.stderr.write(`${formatError(report.error)}\n`);
  const output = report.output === '' || report.output.endsWith('\n') ? report.output : `${report.output}\n`;
  process.stdout.write(output, () => done());
}

function fail(error: unknown, json: boolean): void {
  const info = toErrorInfo(error);
  if (json) {
    const report = { runId: null, pattern: null, status: 'failed', tasks: [], output: '', notifications: [], error: info };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stderr.write(`${formatError(info)}\n`);
  }
  process.exitCode = exitCodeOfError(error);
}

