import { isEnsembleError } from '../core/errors.js';
import type { RunReport } from '../core/results.js';

/** 0: completed or degraded; 1: the run failed; 2: invalid input or usage. */
export const EXIT = { ok: 0, failed: 1, input: 2 } as const;

const INPUT_CODES = new Set(['USAGE', 'INVALID_WORKFLOW', 'WORKFLOW_NOT_FOUND', 'YAML_SYNTAX', 'TEMPLATE', 'UNKNOWN_TOOL', 'INVALID_ARGUMENTS']);

export function exitCodeOfReport(report: RunReport): number {
  if (report.status !== 'failed') return EXIT.ok;
  // A workflow that names a tool its server lacks is caught before any task runs: the input was wrong.
  return report.error && INPUT_CODES.has(report.error.code) && report.tasks.every((task) => task.status !== 'completed') ? EXIT.input : EXIT.failed;
}

export function exitCodeOfError(error: unknown): number {
  return isEnsembleError(error) && error.isInputError ? EXIT.input : EXIT.failed;
}
