/**
 * The `ensemble` command line.
 *
 *   ensemble run <file> [--json] [--quiet]
 */
import process from 'node:process';
import { defineCommand, runCommand, showUsage } from 'citty';
import { EnsembleError, toErrorInfo } from '../core/errors.js';
import type { RunReport } from '../core/results.js';
import { createRun } from '../engine/create-run.js';
import { readWorkflowFile } from '../workflow/read-workflow.js';
import { EXIT, exitCodeOfError, exitCodeOfReport } from './exit-codes.js';
import { explainCommand } from './explain-command.js';
import { formatMs, formatProgress } from './progress.js';

const run = defineCommand({
  meta: { name: 'run', description: 'Run a workflow file (YAML or JSON) and print its output' },
  args: {
    file: { type: 'positional', description: 'the workflow file', required: true },
    json: { type: 'boolean', description: 'print exactly one JSON report on stdout', default: false },
    quiet: { type: 'boolean', description: 'no progress lines', default: false },
    pattern: { type: 'string', description: 'force the primary pattern: sequential, parallel or multi-server' },
  },
  async run({ args }) {
    const showProgress = !args.quiet && (!args.json || process.stderr.isTTY === true);
    let workflow;
    try {
      workflow = await readWorkflowFile(String(args.file));
    } catch (error) {
      return fail(error, args.json);
    }
    let ensembleRun;
    try {
      ensembleRun = createRun(workflow, args.pattern === undefined ? {} : { pattern: readPatternOption(args.pattern) });
    } catch (error) {
      return fail(error, args.json);
    }
    if (showProgress) {
      ensembleRun.events$.subscribe((event) => {
        const line = formatProgress(event);
        if (line !== undefined) process.stderr.write(`${line}\n`);
      });
    }
    // First Ctrl-C cancels the run cleanly; a second one leaves at once (servers are killed on exit).
    let interrupted = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (interrupted) process.exit(130);
      interrupted = true;
      ensembleRun.cancel(`received ${signal}`);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const report = await ensembleRun.start();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (args.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else printSummary(report);
    process.exitCode = exitCodeOfReport(report);
  },
});

const main = defineCommand({
  meta: { name: 'ensemble', version: '0.1.0', description: 'Coordinate MCP servers with statecharts' },
  subCommands: { run, explain: explainCommand },
});

/** The `--pattern` option, checked: a typo must not silently fall back to auto. */
export function readPatternOption(value: string): 'sequential' | 'parallel' | 'multi-server' {
  if (value === 'sequential' || value === 'parallel' || value === 'multi-server') return value;
  throw new EnsembleError('USAGE', `--pattern: expected sequential, parallel or multi-server, got "${value}"`, { field: '--pattern' });
}

function printSummary(report: RunReport): void {
  const counts = new Map<string, number>();
  for (const task of report.tasks) counts.set(task.status, (counts.get(task.status) ?? 0) + 1);
  const parts = [...counts].map(([status, count]) => `${count} ${status}`).join(', ');
  const elapsed = formatMs(report.finishedAt - report.startedAt);
  process.stderr.write(`${report.status}: ${parts || 'no tasks'} in ${elapsed}\n`);
  if (report.error) process.stderr.write(`error: ${report.error.message}\n`);
  if (report.output !== '') process.stdout.write(report.output.endsWith('\n') ? report.output : `${report.output}\n`);
}

function fail(error: unknown, json: boolean): void {
  const info = toErrorInfo(error);
  if (json) {
    const report = { runId: null, pattern: null, status: 'failed', tasks: [], output: '', notifications: [], error: info };
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    process.stderr.write(`ensemble: ${info.message}\n`);
  }
  process.exitCode = exitCodeOfError(error);
}

export async function runCli(rawArgs: string[]): Promise<void> {
  if (rawArgs.length === 0 || rawArgs.includes('--help') || rawArgs.includes('-h')) {
    await showUsage(main);
    if (rawArgs.length === 0) process.exitCode = EXIT.input;
    return;
  }
  if (rawArgs[0] === '--version' || rawArgs[0] === '-v') {
    process.stdout.write('0.1.0\n');
    return;
  }
  try {
    await runCommand(main, { rawArgs });
  } catch (error) {
    // citty's own errors are usage errors: unknown command, missing argument.
    const usage = error instanceof EnsembleError ? error : new EnsembleError('USAGE', (error as Error).message, { cause: error });
    process.stderr.write(`ensemble: ${usage.message}\n`);
    process.exitCode = exitCodeOfError(usage);
  }
}

await runCli(process.argv.slice(2));
