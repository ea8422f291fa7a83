/**
 * The one error class Ensemble throws at its library and CLI boundary.
 *
 * Inside machines failures travel as data (`ErrorInfo` on events); an
 * `EnsembleError` is what an embedder or the CLI sees. `code` is stable and
 * maps to exit statuses; `file`, `field`, `server` and `task` say where.
 *
 * @example
 * throw new EnsembleError('INVALID_WORKFLOW', 'expected a string', { file: 'wf.yaml', field: 'tasks[0].tool' })
 */
export type ErrorCode =
  | 'USAGE'
  | 'INVALID_WORKFLOW'
  | 'WORKFLOW_NOT_FOUND'
  | 'YAML_SYNTAX'
  | 'INVALID_PLAN'
  | 'SERVER_START_FAILED'
  | 'SERVER_UNAVAILABLE'
  | 'UNKNOWN_TOOL'
  | 'INVALID_ARGUMENTS'
  | 'TOOL_ERROR'
  | 'CALL_FAILED'
  /**
   * The server answered the call with a JSON-RPC error (e.g. -32602 invalid params): it is alive
   * and serving, so the circuit breaker does not count it and no fallback takes the call.
   */
  | 'CALL_REJECTED'
  | 'CALL_TIMEOUT'
  | 'CANCELLED'
  | 'HEALTH_CHECK_FAILED'
  | 'CIRCUIT_OPEN'
  | 'PATH_OUTSIDE_WORKSPACE'
  | 'TEMPLATE'
  /** A warning, not a failure: a tool's result did not match its declared `outputSchema`; the result is kept. */
  | 'OUTPUT_SCHEMA_MISMATCH'
  | 'INTERNAL';

/** Serializable description of an error; what machines and the bus carry. */
export interface ErrorInfo {
  code: ErrorCode;
  message: string;
  file?: string;
  field?: string;
  server?: string;
  task?: string;
  line?: number;
  /** 1-based column of the field in the file, with `line`. */
  column?: number;
  cause?: string;
}

export interface EnsembleErrorOptions {
  file?: string;
  field?: string;
  server?: string;
  task?: string;
  line?: number;
  /** 1-based column of the field in the file, with `line`. */
  column?: number;
  cause?: unknown;
}

/** Codes that mean the input (workflow, arguments, usage) was wrong, not the run. */
const INPUT_CODES: ReadonlySet<ErrorCode> = new Set([
  'USAGE',
  'INVALID_WORKFLOW',
  'WORKFLOW_NOT_FOUND',
  'YAML_SYNTAX',
  'TEMPLATE',
  // A task names a tool its server does not have: found before anything runs.
  'UNKNOWN_TOOL',
  // A task's literal arguments do not fit its tool's input schema: found before anything runs.
  'INVALID_ARGUMENTS',
]);

export class EnsembleError extends Error {
  readonly code: ErrorCode;
  readonly file?: string;
  readonly field?: string;
  readonly server?: string;
  readonly task?: string;
  readonly line?: number;
  readonly column?: number;

  constructor(code: ErrorCode, message: string, options: EnsembleErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EnsembleError';
    this.code = code;
    if (options.file !== undefined) this.file = options.file;
    if (options.field !== undefined) this.field = options.field;
    if (options.server !== undefined) this.server = options.server;
    if (options.task !== undefined) this.task = options.task;
    if (options.line !== undefined) this.line = options.line;
    if (options.column !== undefined) this.column = options.column;
  }

  /** True when the error is about what the user gave us (exit status 2 in the CLI). */
  get isInputError(): boolean {
    return INPUT_CODES.has(this.code);
  }

  toJSON(): ErrorInfo {
    return toErrorInfo(this);
  }

  static fromInfo(info: ErrorInfo): EnsembleError {
    return new EnsembleError(info.code, info.message, info);
  }
}

export function isEnsembleError(value: unknown): value is EnsembleError {
  return value instanceof EnsembleError;
}

/** Turns anything thrown into serializable `ErrorInfo`, keeping where it happened. */
export function toErrorInfo(error: unknown, fallback: Partial<ErrorInfo> = {}): ErrorInfo {
  if (error instanceof EnsembleError) {
    const info: ErrorInfo = { code: error.code, message: error.message };
    for (const key of ['file', 'field', 'server', 'task', 'line', 'column'] as const) {
      const value = error[key];
      if (value !== undefined) (info as unknown as Record<string, unknown>)[key] = value;
    }
    if (error.cause !== undefined) info.cause = describeCause(error.cause);
    return { ...fallback, ...info };
  }
  return {
    code: fallback.code ?? 'INTERNAL',
    ...fallback,
    message: fallback.message ?? describeCause(error),
    ...(fallback.message !== undefined ? { cause: describeCause(error) } : {}),
  };
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return typeof cause === 'string' ? cause : JSON.stringify(cause);
}
