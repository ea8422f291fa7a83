/**
 * Zod schemas for the workflow document as written (YAML or JSON), before
 * defaults, path resolution and cross-references are applied.
 *
 * Every object is strict so a typo (`comand:`) is reported rather than
 * silently ignored. Each object's keys live in one `*Shape` constant, so
 * adding a key later is one line there (plus one in `STDIO_ONLY_KEYS` /
 * `HTTP_ONLY_KEYS` if only one kind of server takes it).
 *
 * Messages are written for people editing the file: the checks here carry
 * their own, and `listSchemaProblems` rewrites zod's generic ones (type
 * errors, unknown keys) into the same voice.
 */
import { z } from 'zod';
import { ANY_SERVER, type TaskSpec } from '../core/workflow.js';

/** Server names: what `server:` fields refer to. */
export const SERVER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]*$/;

/** Task ids: no dots, and not starting with a digit, so `{{ tasks.<id>.text }}` parses. */
export const TASK_ID = /^[A-Za-z_][A-Za-z0-9_-]*$/;

const nonEmptyText = z.string().min(1, { error: 'must not be empty' });

/**
 * A string, also accepting a bare YAML number or boolean (`DEBUG: 1`,
 * `args: [--port, 8080]`): the process receives text either way, and making
 * people quote numbers is a needless trap.
 */
const textValue = z.preprocess(
  (value) => (typeof value === 'number' || typeof value === 'boolean' ? String(value) : value),
  z.string(),
);

/** The longest wait a Node timer honours; a longer one fires after 1 ms instead. */
export const MAX_DURATION_MS = 2_147_483_647;

/** Most replicas one server may have: each is a process or session, and a typo (`100000000`) must not start a fork bomb. */
export const MAX_REPLICAS = 64;

// A fraction fails `int()` as a type error, which `listSchemaProblems` words as "expected a whole number".
// Every duration in the document is one of these, so none can exceed what a timer can wait.
const timeoutMs = z
  .number()
  .int()
  .positive({ error: 'must be greater than 0' })
  .max(MAX_DURATION_MS, { error: `must be at most ${MAX_DURATION_MS} ms (about 24.8 days, the longest a Node timer waits)` });

/** A count of things running at once: replicas, concurrency. */
const atLeastOne = z.number().int().min(1, { error: 'must be at least 1' });

const serverName = z.string().regex(SERVER_NAME, {
  error: 'server names start with a letter or digit and use only letters, digits, "_" and "-"',
});

const taskId = z.string().regex(TASK_ID, {
  error: 'task ids start with a letter or "_" and use only letters, digits, "_" and "-"',
});

const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' });

/** Tool arguments and plan arguments: a mapping of anything. */
const toolArgs = z.record(z.string(), z.unknown());

// ── servers ────────────────────────────────────────────────────────────────

/** Names in `passEnv`. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
/** Bounds of `maxMessageBytes`: below 1 KiB not even `initialize` fits; above 1 GiB one message could exhaust memory. */
const MIN_MESSAGE_BYTES = 1024;
const MAX_MESSAGE_BYTES = 1024 * 1024 * 1024;

/** How an alternative serves one tool; `args` may read the original call's arguments as `{{ args.x }}`. */
const toolMappingSchema = z.strictObject({ tool: nonEmptyText, args: toolArgs.optional() });
const toolMappings = z.record(z.string(), toolMappingSchema);

/** One step of a fallback chain: another configured server, or Ensemble's built-in file operations. */
const fallbackSchema = z
  .strictObject({
    server: nonEmptyText.optional(),
    builtin: z.string().optional(),
    tools: toolMappings.optional(),
    // Caps of the built-in files (defaults 8 MiB, 10,000 entries): a workspace is untrusted too.
    maxReadBytes: z.number().int().min(1).max(1024 * 1024 * 1024).optional(),
    maxListEntries: z.number().int().min(1).max(1_000_000).optional(),
  })
  .superRefine((step, ctx) => {
    if (step.builtin === undefined && (step.maxReadBytes !== undefined || step.maxListEntries !== undefined)) {
      ctx.addIssue({ code: 'custom', path: [step.maxReadBytes !== undefined ? 'maxReadBytes' : 'maxListEntries'], message: 'maxReadBytes and maxListEntries limit the built-in files: they go on a "builtin: files" step' });
    }
    if ((step.server === undefined) === (step.builtin === undefined)) {
      ctx.addIssue({ code: 'custom', message: 'a fallback step names either "server" (another configured server) or "builtin: files"' });
    } else if (step.builtin !== undefined && step.builtin !== 'files') {
      ctx.addIssue({ code: 'custom', path: ['builtin'], message: `the only built-in fallback is "files"; got "${step.builtin}"` });
    } else if (step.server !== undefined && step.tools === undefined) {
      ctx.addIssue({ code: 'custom', path: ['tools'], message: 'a server fallback maps the tools it serves: tools: { <tool>: { tool, args } }' });
    }
  });

const healthCheckSchema = z.strictObject({
  intervalMs: timeoutMs,
  timeoutMs: timeoutMs.optional(),
  /** Missed pings in a row before the server counts as unavailable; default 1. */
  failures: atLeastOne.optional(),
});

const circuitBreakerSchema = z.strictObject({
  failureThreshold: atLeastOne,
  resetTimeoutMs: timeoutMs.optional(),
});

const recoverySchema = z.strictObject({
  initialDelayMs: timeoutMs.optional(),
  maxDelayMs: timeoutMs.optional(),
  factor: z.number().min(1, { error: 'must be at least 1' }).optional(),
  maxAttempts: atLeastOne.optional(),
});

const serverShape = {
  // stdio
  command: nonEmptyText.optional(),
  args: z.array(textValue).optional(),
  env: z.record(z.string(), textValue).optional(),
  cwd: nonEmptyText.optional(),
  /** Pass Ensemble's whole environment; default: only the SDK's safe few (HOME, PATH, …) plus `env`. */
  inheritEnv: z.boolean().optional(),
  passEnv: z.array(z.string().regex(ENV_NAME, { error: 'environment variable names use letters, digits and "_", not starting with a digit' })).optional(),
  maxMessageBytes: z
    .number()
    .int()
    .min(MIN_MESSAGE_BYTES, { error: `must be at least ${MIN_MESSAGE_BYTES} (1 KiB)` })
    .max(MAX_MESSAGE_BYTES, { error: `must be at most ${MAX_MESSAGE_BYTES} (1 GiB)` })
    .optional(),
  // http
  url: httpUrl.optional(),
  headers: z.record(z.string(), textValue).optional(),
  // both
  /** Default 1; at most `MAX_REPLICAS`. */
  replicas: atLeastOne.max(MAX_REPLICAS, { error: `must be at most ${MAX_REPLICAS} (each replica is a process or session of its own)` }).optional(),
  timeoutMs: timeoutMs.optional(),
  /** Longest a call may run while progress notifications keep restarting its `timeoutMs`. */
  maxTotalTimeoutMs: timeoutMs.optional(),
  /** `lazy` (default): started when a run first needs it; `eager`: when its ensemble is created. */
  start: z.enum(['eager', 'lazy']).optional(),
  /** Multi-server coordinator: most of this server's tasks in flight at once (default 1). */
  maxConcurrent: atLeastOne.max(MAX_REPLICAS, { error: `must be at most ${MAX_REPLICAS}` }).optional(),
  // graceful degradation
  fallback: z.array(fallbackSchema).optional(),
  healthCheck: healthCheckSchema.optional(),
  circuitBreaker: circuitBreakerSchema.optional(),
  recovery: recoverySchema.optional(),
  idempotentTools: z.array(nonEmptyText).optional(),
};

type ServerKey = keyof typeof serverShape;

/** Keys that only make sense for a server started as a child process. */
export const STDIO_ONLY_KEYS: readonly ServerKey[] = ['command', 'args', 'env', 'cwd', 'inheritEnv', 'passEnv', 'maxMessageBytes'];
/** Keys that only make sense for a server reached over HTTP. */
export const HTTP_ONLY_KEYS: readonly ServerKey[] = ['url', 'headers'];

/**
 * One server entry. Both kinds share one strict object (rather than a zod
 * union) so a mistake is reported against the key concerned instead of as
 * "matched neither alternative".
 */
export const serverSchema = z.strictObject(serverShape).superRefine((server, ctx) => {
  const isStdio = server.command !== undefined;
  const isHttp = server.url !== undefined;
  if (isStdio && isHttp) {
    ctx.addIssue({
      code: 'custom',
      path: ['url'],
      message: 'a server has either "command" (stdio) or "url" (http), not both',
    });
    return;
  }
  if (!isStdio && !isHttp) {
    ctx.addIssue({
      code: 'custom',
      message: 'a server needs "command" (started as a child process) or "url" (reached over HTTP)',
    });
    return;
  }
  const foreign = isStdio ? HTTP_ONLY_KEYS : STDIO_ONLY_KEYS;
  for (const key of foreign) {
    if (server[key] === undefined) continue;
    ctx.addIssue({
      code: 'custom',
      path: [key],
      message: isStdio
        ? `only http servers (with "url") take "${key}"`
        : `only stdio servers (with "command") take "${key}"`,
    });
  }
});

// ── tasks and plan ─────────────────────────────────────────────────────────

const resourceRefShape = {
  server: nonEmptyText,
  uri: nonEmptyText,
};

export const resourceRefSchema = z.strictObject(resourceRefShape);

/**
 * Ids of tasks that must complete first. A single id may be written without
 * the list (`needs: read`), as CI files allow: it can only mean one thing.
 */
const needs = z.preprocess((value) => (typeof value === 'string' ? [value] : value), z.array(taskId))
  .optional();

/** What undoes a task (multi-server coordinator): `{{ result.… }}` in args reads the task's own result. */
const compensateShape = {
  server: serverName,
  tool: nonEmptyText,
  args: toolArgs.default({}),
};

const taskShape = {
  id: taskId,
  /** Omitted (or `any`): the multi-server coordinator picks a live server that offers `tool`. */
  server: nonEmptyText.optional(),
  tool: nonEmptyText,
  args: toolArgs.default({}),
  context: z.array(resourceRefSchema).default([]),
  needs,
  timeoutMs: timeoutMs.optional(),
  optional: z.boolean().optional(),
  idempotent: z.boolean().optional(),
  compensate: z.strictObject(compensateShape).optional(),
};

/** One task, in the workflow file or in a planner's result; parses straight to a `TaskSpec`. */
export const taskSchema = z.strictObject(taskShape).transform(
  (task): TaskSpec => ({
    id: task.id,
    server: task.server ?? ANY_SERVER,
    tool: task.tool,
    args: task.args,
    context: task.context,
    ...(task.needs !== undefined ? { needs: task.needs } : {}),
    ...(task.timeoutMs !== undefined ? { timeoutMs: task.timeoutMs } : {}),
    ...(task.optional !== undefined ? { optional: task.optional } : {}),
    ...(task.idempotent !== undefined ? { idempotent: task.idempotent } : {}),
    ...(task.compensate !== undefined ? { compensate: task.compensate } : {}),
  }),
);

/** What a planner's tasks may call; see `PlanAllow`. */
const planAllowShape = {
  servers: z.array(serverName).optional(),
  tools: z.array(nonEmptyText).optional(),
};

const planShape = {
  server: nonEmptyText,
  tool: nonEmptyText,
  args: toolArgs.default({}),
  allow: z.strictObject(planAllowShape).optional(),
};

export const planSchema = z.strictObject(planShape);

// ── inputs ─────────────────────────────────────────────────────────────────

/** Input names: no dots, so `{{ inputs.<name> }}` parses. */
export const INPUT_NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

export const INPUT_TYPES = ['string', 'number', 'integer', 'boolean', 'object', 'array'] as const;

const inputName = z.string().regex(INPUT_NAME, {
  error: 'input names start with a letter or "_" and use only letters, digits, "_" and "-"',
});

const inputShape = {
  type: z.enum(INPUT_TYPES),
  description: z.string().optional(),
  /** Without one the input is required. */
  default: z.unknown().optional(),
};

export const inputSchema = z.strictObject(inputShape);

// ── the document ───────────────────────────────────────────────────────────

/** What the run options accept; the first of each is the default (filled in by `parseWorkflow`). */
export const PATTERN_VALUES = ['auto', 'sequential', 'parallel', 'multi-server'] as const;
export const ON_ERROR_VALUES = ['stop', 'continue'] as const;
export const SCHEDULE_VALUES = ['groups', 'eager'] as const;

const workflowShape = {
  /** Defaults to the file name without its extension. */
  name: nonEmptyText.optional(),
  timeoutMs: timeoutMs.optional(),
  pattern: z.enum(PATTERN_VALUES).optional(),
  concurrency: atLeastOne.optional(),
  onError: z.enum(ON_ERROR_VALUES).optional(),
  schedule: z.enum(SCHEDULE_VALUES).optional(),
  groupTimeoutMs: timeoutMs.optional(),
  /** A folder the run works in, created before any server starts (servers' allowed folders must exist). */
  workspace: nonEmptyText.optional(),
  /** Optional only when the workflow runs on an ensemble's servers (`createEnsemble`); checked after merging. */
  servers: z.record(serverName, serverSchema).optional(),
  plan: planSchema.optional(),
  tasks: z.array(taskSchema).optional(),
  output: z.string().optional(),
  /** What the caller gives the run: `{{ inputs.<name> }}` in task args and the output. */
  inputs: z.record(inputName, inputSchema).optional(),
};

export const workflowSchema = z.strictObject(workflowShape);

/** A servers-only document: what `createEnsemble` and (later) `ensemble serve` configs hold. */
export const serversSchema = z.strictObject({ servers: z.record(serverName, serverSchema) });

export type RawServer = z.output<typeof serverSchema>;
export type RawPlan = z.output<typeof planSchema>;
export type RawWorkflow = z.output<typeof workflowSchema>;
export type RawInput = z.output<typeof inputSchema>;

// ── problems: how schema failures read ─────────────────────────────────────

/** Where in the document something is: keys and list indexes from the root. */
export type FieldPath = readonly (string | number)[];

/** One thing wrong with a document, before it is turned into an `EnsembleError`. */
export interface Problem {
  path: FieldPath;
  /** What is wrong, without the field (that is added when formatting). */
  message: string;
}

/**
 * Writes a field path the way people read it.
 *
 * @example
 * formatFieldPath(['tasks', 1, 'args', 'content']) // 'tasks[1].args.content'
 * formatFieldPath(['servers', 'my server'])        // 'servers["my server"]'
 */
export function formatFieldPath(path: FieldPath): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (/^[A-Za-z0-9_$-]+$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** The keys each kind of object accepts, for "unknown field" messages. */
const KEYS = {
  workflow: Object.keys(workflowShape),
  server: Object.keys(serverShape),
  task: Object.keys(taskShape),
  resource: Object.keys(resourceRefShape),
  plan: Object.keys(planShape),
  planAllow: Object.keys(planAllowShape),
};

/** Which object a path points at; paths are the same for workflows and planner results. */
function allowedKeysAt(path: FieldPath): string[] | undefined {
  const [first, , third] = path;
  if (path.length === 0) return KEYS.workflow;
  if (first === 'servers' && path.length === 2) return KEYS.server;
  if (first === 'plan' && path.length === 1) return KEYS.plan;
  if (first === 'plan' && path[1] === 'allow' && path.length === 2) return KEYS.planAllow;
  if (first === 'tasks' && path.length === 2) return KEYS.task;
  if (first === 'tasks' && third === 'context' && path.length === 4) return KEYS.resource;
  return undefined;
}

/**
 * Turns zod's issues into problems worded for someone editing the file: one
 * problem per unknown key (with a "did you mean" when a known key is close),
 * and type errors that say what was expected and what was found.
 *
 * Parse with `{ reportInput: true }` so type errors can say what was found.
 *
 * @example
 * const result = workflowSchema.safeParse(raw, { reportInput: true })
 * if (!result.success) listSchemaProblems(result.error)
 * // [{ path: ['servers', 'fs', 'comand'], message: 'unknown field; did you mean "command"?' }]
 */
export function listSchemaProblems(error: z.ZodError): Problem[] {
  const problems: Problem[] = [];
  for (const issue of error.issues) {
    const path = issue.path.filter((segment): segment is string | number => typeof segment !== 'symbol');
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) {
          problems.push({ path: [...path, key], message: describeUnknownKey(key, allowedKeysAt(path)) });
        }
        break;
      case 'invalid_type':
        problems.push({ path, message: describeTypeError(issue.expected, issue.input, path.length === 0) });
        break;
      case 'invalid_key':
        problems.push({ path, message: issue.issues[0]?.message ?? issue.message });
        break;
      case 'invalid_value':
        problems.push({ path, message: describeValueChoice(issue.values, issue.input) });
        break;
      default:
        problems.push({ path, message: issue.message });
    }
  }
  return problems;
}

function describeUnknownKey(key: string, allowed: string[] | undefined): string {
  if (allowed === undefined) return 'unknown field';
  const suggestion = suggestKey(key, allowed);
  if (suggestion !== undefined) return `unknown field; did you mean "${suggestion}"?`;
  return `unknown field (expected one of: ${allowed.join(', ')})`;
}

/** The allowed key closest to a typo, if any is close enough to be a likely meaning. */
function suggestKey(key: string, allowed: string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    const distance = measureEditDistance(key.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(1, Math.floor(key.length / 3)) ? best : undefined;
}

/** Edits (insert, delete, substitute, swap two neighbours) between two strings: swaps are the commonest typo. */
function measureEditDistance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number): number => rows[i]?.[j] ?? Infinity;
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] ?? [];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/** A value outside a fixed set (`pattern: paralel`): the choices, and the likely one. */
function describeValueChoice(values: readonly unknown[], input: unknown): string {
  const choices = values.map(String);
  const head = `expected one of: ${choices.join(', ')}; got ${describeValue(input)}`;
  const suggestion = typeof input === 'string' ? suggestKey(input, choices) : undefined;
  return suggestion !== undefined ? `${head}; did you mean "${suggestion}"?` : head;
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

function describeTypeError(expected: string, input: unknown, isRoot: boolean): string {
  const wanted = isRoot ? 'a workflow (a mapping with servers and tasks)' : (EXPECTED[expected] ?? expected);
  if (input === undefined) return isRoot ? `expected ${wanted}, got nothing` : `missing (expected ${wanted})`;
  return `expected ${wanted}, got ${describeValue(input)}`;
}

/** Names a value briefly, for "got …" in messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return String(value);
  return typeof value;
}
