/**
 * From a parsed document (plain data from YAML or JSON) to a `Workflow`:
 * validated, defaults filled in, relative paths resolved, `${VAR}`s
 * substituted and every reference checked, so nothing that runs later needs
 * to know the file or re-check it.
 */
import { basename, extname, isAbsolute, resolve } from 'node:path';
import { EnsembleError } from '../core/errors.js';
import { getOwn } from '../core/own.js';
import {
  ANY_SERVER,
  DEFAULT_CALL_TIMEOUT_MS,
  type FallbackSpec,
  type InputSpec,
  type PlanSpec,
  type ResilienceSpec,
  type ServerSpec,
  type TaskSpec,
  type Workflow,
} from '../core/workflow.js';
import {
  checkOutputReferences,
  checkPlanArgs,
  checkServerName,
  checkTaskReferences,
  listFieldPlaceholders,
} from './references.js';
import { checkDocumentShape } from './document-shape.js';
import {
  formatFieldPath,
  listSchemaProblems,
  serversSchema,
  workflowSchema,
  type FieldPath,
  type Problem,
  type RawInput,
  type RawServer,
} from './workflow.schema.js';
import { matchesInputType } from './bind-inputs.js';

export interface ParseWorkflowOptions {
  /** The file the document came from, as the user named it; used in messages and made absolute for `Workflow.file`. */
  file?: string;
  /** Folder that relative paths resolve against: normally the file's folder. */
  dir: string;
  /** Variables for `${NAME}` in server `env` and `headers`; default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Servers the workflow may use without declaring them: an ensemble's. The
   * workflow's own `servers` may add to them, not redefine them.
   */
  servers?: Readonly<Record<string, ServerSpec>>;
  /** Finds the 1-based line (or line and column) of a field in the source, so errors can point at it. */
  lineOf?: (path: FieldPath) => number | { line: number; column: number } | undefined;
}

/**
 * Validates a workflow document and turns it into a `Workflow`. Reports every
 * problem found at once (one per line), as an `EnsembleError` with code
 * `INVALID_WORKFLOW`, `file`, and the first problem's `field` and `line`.
 *
 * @example
 * const workflow = parseWorkflow(YAML.parse(text), { file: 'wf.yaml', dir: '/work/flows' })
 * workflow.servers.fs // { kind: 'stdio', replicas: 1, command: 'npx', args: [...], env: {}, cwd: '/work/flows' }
 * workflow.pattern    // 'auto'
 *
 * @example
 * parseWorkflow({ servers, tasks: [{ id: 'a', …, needs: ['c'] }, { id: 'b', …, needs: ['a'] }, { id: 'c', …, needs: ['b'] }] }, …)
 * // throws: wf.yaml: tasks[0].needs: dependency cycle: a → b → c → a (each task waits for the one before it), …
 *
 * @example
 * parseWorkflow({ servers: { fs: { comand: 'npx' } }, tasks: [] }, { file: 'wf.yaml', dir: '.' })
 * // throws: wf.yaml: servers.fs.comand: unknown field; did you mean "command"?
 */
export function parseWorkflow(raw: unknown, options: ParseWorkflowOptions): Workflow {
  const shape = checkDocumentShape(raw);
  if (shape.length > 0) throw toWorkflowError(shape, options);
  const parsed = workflowSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw toWorkflowError(listSchemaProblems(parsed.error), options);
  const document = parsed.data;

  const dir = resolve(options.dir);
  const problems: Problem[] = [];
  const workspace = document.workspace === undefined ? undefined : resolve(dir, document.workspace);
  const variables = { ...(options.env ?? process.env), WORKFLOW_DIR: dir, WORKSPACE: workspace ?? dir };
  const servers: Record<string, ServerSpec> = { ...options.servers };
  const own = new Set<string>();
  for (const [name, server] of Object.entries(document.servers ?? {})) {
    if (options.servers && Object.hasOwn(options.servers, name)) {
      problems.push({ path: ['servers', name], message: `the ensemble already has a server "${name}": leave it out here to use it, or pick another name` });
      continue;
    }
    own.add(name);
    servers[name] = toServerSpec(server, { dir, variables, at: ['servers', name], problems });
  }
  const serverNames = Object.keys(servers);
  if (serverNames.length === 0) problems.push({ path: ['servers'], message: 'a workflow needs at least one server' });
  const sharedServers = serverNames.filter((name) => !own.has(name));
  problems.push(...checkFallbacks(servers));
  const tasks = document.tasks ?? [];

  let plan: PlanSpec | undefined;
  if (document.plan) {
    plan = document.plan;
    const serverProblem = checkServerName(plan.server, serverNames, ['plan', 'server']);
    if (serverProblem) problems.push(serverProblem);
    for (const [index, name] of (plan.allow?.servers ?? []).entries()) {
      const allowProblem = checkServerName(name, serverNames, ['plan', 'allow', 'servers', index]);
      if (allowProblem) problems.push(allowProblem);
    }
    problems.push(...checkPlanArgs(plan.args));
  } else if (tasks.length === 0) {
    problems.push({ path: ['tasks'], message: 'a workflow needs at least one task (or a plan)' });
  }

  const inputs = document.inputs;
  const inputNames = Object.keys(inputs ?? {});
  for (const [name, spec] of Object.entries(inputs ?? {})) {
    if (spec.default !== undefined && !matchesInputType(spec.default, spec.type)) {
      problems.push({ path: ['inputs', name, 'default'], message: `the default of a ${spec.type} input must be a ${spec.type}` });
    }
  }
  problems.push(...checkTaskReferences(tasks, { servers: serverNames, earlierTaskIds: [], inputs: inputNames }));
  problems.push(...checkCoordinatorFields(tasks, serverNames, document.pattern));
  if (document.groupTimeoutMs !== undefined && document.schedule === 'eager') {
    problems.push({
      path: ['groupTimeoutMs'],
      message: 'only applies with schedule: groups (an eager schedule has no synchronization points to wait at)',
    });
  }
  if (document.output !== undefined) {
    problems.push(
      ...checkOutputReferences(document.output, {
        taskIds: tasks.map((task) => task.id),
        allowUnknownTasks: plan !== undefined,
        inputs: inputNames,
      }),
    );
  }
  if (problems.length > 0) throw toWorkflowError(problems, options);

  return {
    name: document.name ?? nameAfter(options.file),
    ...(options.file !== undefined ? { file: resolve(options.file) } : {}),
    dir,
    servers,
    ...(plan !== undefined ? { plan } : {}),
    tasks,
    ...(document.output !== undefined ? { output: document.output } : {}),
    timeoutMs: document.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
    pattern: document.pattern ?? 'auto',
    ...(document.concurrency !== undefined ? { concurrency: document.concurrency } : {}),
    onError: document.onError ?? 'stop',
    schedule: document.schedule ?? 'groups',
    ...(document.groupTimeoutMs !== undefined ? { groupTimeoutMs: document.groupTimeoutMs } : {}),
    ...(workspace !== undefined ? { workspace } : {}),
    ...(sharedServers.length > 0 ? { sharedServers } : {}),
    ...(inputs !== undefined ? { inputs: toInputSpecs(inputs) } : {}),
  };
}

/**
 * Validates a servers-only document (`{ servers: { … } }`, as in a workflow
 * file) into server specs: what `createEnsemble` starts from.
 *
 * @example
 * parseServers({ servers: { fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', '.'] } } }, { dir: '.' })
 */
export function parseServers(raw: unknown, options: ParseWorkflowOptions): Record<string, ServerSpec> {
  const shape = checkDocumentShape(raw);
  if (shape.length > 0) throw toWorkflowError(shape, options);
  const parsed = serversSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw toWorkflowError(listSchemaProblems(parsed.error), options);
  const dir = resolve(options.dir);
  const problems: Problem[] = [];
  const variables = { ...(options.env ?? process.env), WORKFLOW_DIR: dir, WORKSPACE: dir };
  const servers: Record<string, ServerSpec> = {};
  for (const [name, server] of Object.entries(parsed.data.servers)) {
    servers[name] = toServerSpec(server, { dir, variables, at: ['servers', name], problems });
  }
  problems.push(...checkFallbacks(servers));
  if (problems.length > 0) throw toWorkflowError(problems, options);
  return servers;
}

/** Own-property records of the declared inputs, leaving out absent optional fields. */
function toInputSpecs(inputs: Record<string, RawInput>): Record<string, InputSpec> {
  const out: Record<string, InputSpec> = {};
  for (const [name, spec] of Object.entries(inputs)) {
    out[name] = { type: spec.type, ...(spec.description !== undefined ? { description: spec.description } : {}), ...(spec.default !== undefined ? { default: spec.default } : {}) };
  }
  return out;
}

function nameAfter(file: string | undefined): string {
  return file === undefined ? 'workflow' : basename(file, extname(file));
}

interface ServerContext {
  dir: string;
  variables: Readonly<Record<string, string | undefined>>;
  at: FieldPath;
  problems: Problem[];
}

/** The schema guarantees exactly one of `command` / `url`, and only the keys of that kind. */
function toServerSpec(server: RawServer, context: ServerContext): ServerSpec {
  const timeout = {
    ...(server.timeoutMs !== undefined ? { timeoutMs: server.timeoutMs } : {}),
    ...(server.maxTotalTimeoutMs !== undefined ? { maxTotalTimeoutMs: server.maxTotalTimeoutMs } : {}),
    ...(server.start !== undefined ? { start: server.start } : {}),
    ...(server.maxConcurrent !== undefined ? { maxConcurrent: server.maxConcurrent } : {}),
    ...toResilience(server),
  };
  const replicas = server.replicas ?? 1;
  if (server.url !== undefined) {
    return {
      kind: 'http',
      replicas,
      url: server.url,
      headers: substituteAll(server.headers ?? {}, [...context.at, 'headers'], context),
      ...timeout,
    };
  }
  return {
    kind: 'stdio',
    replicas,
    command: resolveCommand(server.command ?? '', context.dir),
    args: (server.args ?? []).map((arg) => resolveArg(arg, context.dir)),
    env: substituteAll(server.env ?? {}, [...context.at, 'env'], context),
    cwd: resolve(context.dir, server.cwd ?? '.'),
    ...(server.inheritEnv !== undefined ? { inheritEnv: server.inheritEnv } : {}),
    ...(server.passEnv !== undefined ? { passEnv: server.passEnv } : {}),
    ...(server.maxMessageBytes !== undefined ? { maxMessageBytes: server.maxMessageBytes } : {}),
    ...timeout,
  };
}

/**
 * What only the multi-server coordinator runs: tasks routed by capability
 * (`server` omitted or `any`) and compensations. A pattern forced to
 * sequential or parallel cannot run them, and a server named `any` would make
 * `server: any` mean two things.
 */
function checkCoordinatorFields(tasks: readonly TaskSpec[], serverNames: readonly string[], pattern: string | undefined): Problem[] {
  const problems: Problem[] = [];
  if (serverNames.includes(ANY_SERVER)) problems.push({ path: ['servers', ANY_SERVER], message: `"${ANY_SERVER}" is reserved (a task with server: ${ANY_SERVER} is routed by capability); pick another name` });
  if (pattern !== 'sequential' && pattern !== 'parallel') return problems;
  tasks.forEach((task, index) => {
    if (task.server === ANY_SERVER) problems.push({ path: ['tasks', index, 'server'], message: `a task without a server (or with server: ${ANY_SERVER}) is routed by the multi-server coordinator: name a server, or use pattern: multi-server (or auto)` });
    if (task.compensate) problems.push({ path: ['tasks', index, 'compensate'], message: `compensations run under the multi-server coordinator: use pattern: multi-server (or auto), not ${pattern}` });
  });
  return problems;
}

/** Fallbacks, health checks and recovery, with defaults filled in; nothing when the server declares none. */
function toResilience(server: RawServer): Partial<ResilienceSpec> {
  const declared = server.fallback ?? server.healthCheck ?? server.circuitBreaker ?? server.recovery ?? server.idempotentTools;
  if (declared === undefined) return {};
  const resilience: Partial<ResilienceSpec> = {
    fallback: (server.fallback ?? []).map((step): FallbackSpec =>
      step.server !== undefined ? { kind: 'server', server: step.server, tools: step.tools ?? {} } : { kind: 'builtin', builtin: 'files', tools: step.tools ?? {}, ...(step.maxReadBytes !== undefined ? { maxReadBytes: step.maxReadBytes } : {}), ...(step.maxListEntries !== undefined ? { maxListEntries: step.maxListEntries } : {}) },
    ),
    recovery: {
      initialDelayMs: server.recovery?.initialDelayMs ?? 500,
      maxDelayMs: server.recovery?.maxDelayMs ?? 30_000,
      factor: server.recovery?.factor ?? 2,
      ...(server.recovery?.maxAttempts !== undefined ? { maxAttempts: server.recovery.maxAttempts } : {}),
    },
    idempotentTools: server.idempotentTools ?? [],
  };
  if (server.healthCheck) {
    resilience.healthCheck = {
      intervalMs: server.healthCheck.intervalMs,
      timeoutMs: server.healthCheck.timeoutMs ?? server.healthCheck.intervalMs,
      failures: server.healthCheck.failures ?? 1,
    };
  }
  if (server.circuitBreaker) {
    resilience.circuitBreaker = {
      failureThreshold: server.circuitBreaker.failureThreshold,
      resetTimeoutMs: server.circuitBreaker.resetTimeoutMs ?? 10_000,
    };
  }
  return resilience;
}

/** Fallback steps must name other configured servers, and their mappings may read only `{{ args.x }}`. */
function checkFallbacks(servers: Record<string, ServerSpec>): Problem[] {
  const problems: Problem[] = [];
  for (const [name, spec] of Object.entries(servers)) {
    for (const [index, step] of (spec.fallback ?? []).entries()) {
      const at: FieldPath = ['servers', name, 'fallback', index];
      if (step.kind === 'server') {
        if (step.server === name) problems.push({ path: [...at, 'server'], message: `a server cannot be its own fallback` });
        else if (!Object.hasOwn(servers, step.server)) problems.push({ path: [...at, 'server'], message: `unknown server "${step.server}" (servers: ${Object.keys(servers).join(', ')})` });
      }
      for (const [tool, mapping] of Object.entries(step.tools)) {
        for (const { path, placeholder } of listFieldPlaceholders(mapping.args ?? {}, [...at, 'tools', tool, 'args'])) {
          if (!/^args(\.[^.]+)+$/.test(placeholder.trim())) {
            problems.push({ path, message: `a fallback mapping reads only the original call's arguments, as {{ args.<name> }}; got {{ ${placeholder} }}` });
          }
        }
      }
    }
  }
  return problems;
}

/** A bare name (`npx`, `node`) is looked up on PATH by the OS; anything with a separator is a path. */
function resolveCommand(command: string, dir: string): string {
  if (isAbsolute(command) || !/[\\/]/.test(command)) return command;
  return resolve(dir, command);
}

/** Only args that are unmistakably relative paths: `./x`, `../x`. Others (`-y`, package names) pass through. */
function resolveArg(arg: string, dir: string): string {
  return /^\.\.?[\\/]/.test(arg) ? resolve(dir, arg) : arg;
}

/** `$${` first so an escaped `${` is never read as a reference; a lone `${` is unclosed. */
const VARIABLE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

function substituteAll(values: Record<string, string>, at: FieldPath, context: ServerContext): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(values)) {
    out[key] = substituteVariables(value, [...at, key], context);
  }
  return out;
}

/**
 * Replaces `${NAME}` with the variable's value. A variable that is not set is
 * an error rather than an empty string: a server started without its token
 * fails later in a far more confusing way.
 */
function substituteVariables(value: string, path: FieldPath, context: ServerContext): string {
  if (!value.includes('${')) return value;
  return value.replace(VARIABLE, (match, name: string | undefined) => {
    if (match === '$${') return '${';
    if (name === undefined) {
      context.problems.push({ path, message: 'unclosed "${" (write "$${" for a literal "${")' });
      return match;
    }
    const trimmed = name.trim();
    if (!VARIABLE_NAME.test(trimmed)) {
      context.problems.push({ path, message: `"${match}" is not a valid variable reference (write "$\${" for a literal "\${")` });
      return match;
    }
    // Own properties only: `${constructor}` is not set, whatever Object.prototype holds.
    const variable = getOwn(context.variables, trimmed);
    if (variable === undefined) {
      context.problems.push({ path, message: `environment variable ${trimmed} is not set (used as ${match})` });
      return match;
    }
    return variable;
  });
}

function toWorkflowError(problems: Problem[], options: ParseWorkflowOptions): EnsembleError {
  const prefix = options.file !== undefined ? `${options.file}: ` : '';
  const lines = problems.map((problem) => {
    const field = formatFieldPath(problem.path);
    return `${prefix}${field !== '' ? `${field}: ` : ''}${problem.message}`;
  });
  const first = problems[0];
  const field = first ? formatFieldPath(first.path) : '';
  const found = first ? options.lineOf?.(first.path) : undefined;
  const position = typeof found === 'number' ? { line: found } : found;
  return new EnsembleError('INVALID_WORKFLOW', lines.join('\n'), {
    ...(options.file !== undefined ? { file: options.file } : {}),
    ...(field !== '' ? { field } : {}),
    ...position,
  });
}
