import { describe, expect, it } from 'vitest';
import { EnsembleError } from '../../src/core/errors.js';
import { DEFAULT_CALL_TIMEOUT_MS } from '../../src/core/workflow.js';
import { parseWorkflow, type ParseWorkflowOptions } from '../../src/workflow/parse-workflow.js';
import { catchError } from '../support/catch-error.js';

const DIR = '/flows/demo';
const OPTIONS: ParseWorkflowOptions = { file: 'wf.yaml', dir: DIR, env: { TOKEN: 'secret' } };

/** A small valid document; tests override the parts they are about. */
function makeDocument(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'example',
    servers: {
      fs: { command: 'npx', args: ['-y', '@modelcontextprotocol/server-filesystem', './work'] },
      api: { url: 'http://127.0.0.1:8931/mcp' },
    },
    tasks: [
      { id: 'read', server: 'fs', tool: 'read_text_file', args: { path: './work/in.txt' } },
      { id: 'save', server: 'fs', tool: 'write_file', args: { path: 'out.txt', content: 'copied: {{ tasks.read.text }}' } },
    ],
    ...overrides,
  };
}

function errorFor(raw: unknown, options: ParseWorkflowOptions = OPTIONS): EnsembleError {
  return catchError(() => parseWorkflow(raw, options));
}

describe('parseWorkflow: a valid document', () => {
  it('fills defaults and resolves the workflow folder', () => {
    const workflow = parseWorkflow(makeDocument(), OPTIONS);
    expect(workflow).toMatchObject({
      name: 'example',
      dir: DIR,
      timeoutMs: DEFAULT_CALL_TIMEOUT_MS,
      pattern: 'auto',
      onError: 'stop',
      schedule: 'groups',
      servers: {
        fs: { kind: 'stdio', replicas: 1, command: 'npx', env: {}, cwd: DIR },
        api: { kind: 'http', replicas: 1, url: 'http://127.0.0.1:8931/mcp', headers: {} },
      },
    });
    expect(workflow.tasks[0]).toEqual({
      id: 'read',
      server: 'fs',
      tool: 'read_text_file',
      args: { path: './work/in.txt' },
      context: [],
    });
    expect(workflow.plan).toBeUndefined();
    expect(workflow.output).toBeUndefined();
    expect(workflow).not.toHaveProperty('concurrency');
    expect(workflow).not.toHaveProperty('groupTimeoutMs');
  });

  it('makes the file path absolute and names the workflow after the file when it has no name', () => {
    const workflow = parseWorkflow(makeDocument({ name: undefined }), { file: '/flows/demo/copy-files.yaml', dir: DIR });
    expect(workflow.file).toBe('/flows/demo/copy-files.yaml');
    expect(workflow.name).toBe('copy-files');
  });

  it('has no file when none is given', () => {
    const workflow = parseWorkflow(makeDocument(), { dir: DIR });
    expect(workflow.file).toBeUndefined();
  });

  it('keeps timeouts, context, output and the plan', () => {
    const workflow = parseWorkflow(
      makeDocument({
        timeoutMs: 30000,
        servers: { fs: { command: 'npx', timeoutMs: 5000 }, api: { url: 'https://example.com/mcp', timeoutMs: 100 } },
        plan: { server: 'api', tool: 'make_plan', args: { goal: 'x' } },
        tasks: [{ id: 'read', server: 'fs', tool: 't', context: [{ server: 'api', uri: 'file:///x' }], timeoutMs: 1000 }],
        output: '{{ tasks.read.text }}',
      }),
      OPTIONS,
    );
    expect(workflow.timeoutMs).toBe(30000);
    expect(workflow.servers.fs?.timeoutMs).toBe(5000);
    expect(workflow.servers.api?.timeoutMs).toBe(100);
    expect(workflow.plan).toEqual({ server: 'api', tool: 'make_plan', args: { goal: 'x' } });
    expect(workflow.tasks[0]).toMatchObject({ context: [{ server: 'api', uri: 'file:///x' }], timeoutMs: 1000 });
    expect(workflow.output).toBe('{{ tasks.read.text }}');
  });

  it('accepts a plan without tasks', () => {
    const workflow = parseWorkflow(makeDocument({ tasks: undefined, plan: { server: 'api', tool: 'make_plan' } }), OPTIONS);
    expect(workflow.tasks).toEqual([]);
    expect(workflow.plan).toEqual({ server: 'api', tool: 'make_plan', args: {} });
  });

  it('turns bare numbers and booleans in args, env and headers into strings', () => {
    const workflow = parseWorkflow(
      makeDocument({
        servers: { fs: { command: 'node', args: ['--port', 8080], env: { DEBUG: true } }, api: { url: 'http://h/', headers: { 'X-N': 1 } } },
      }),
      OPTIONS,
    );
    expect(workflow.servers.fs).toMatchObject({ args: ['--port', '8080'], env: { DEBUG: 'true' } });
    expect(workflow.servers.api).toMatchObject({ headers: { 'X-N': '1' } });
  });
});

describe('parseWorkflow: relative paths', () => {
  it('resolves a command with a path separator, and keeps bare and absolute commands', () => {
    const workflow = parseWorkflow(
      makeDocument({
        servers: { a: { command: './bin/server' }, b: { command: '../tools/x.js' }, c: { command: 'node' }, d: { command: '/usr/bin/env' } },
        tasks: [{ id: 't', server: 'a', tool: 'x' }],
      }),
      OPTIONS,
    );
    expect(workflow.servers.a).toMatchObject({ command: '/flows/demo/bin/server' });
    expect(workflow.servers.b).toMatchObject({ command: '/flows/tools/x.js' });
    expect(workflow.servers.c).toMatchObject({ command: 'node' });
    expect(workflow.servers.d).toMatchObject({ command: '/usr/bin/env' });
  });

  it('resolves args starting with ./ or ../ and leaves other args alone', () => {
    const workflow = parseWorkflow(
      makeDocument({ servers: { fs: { command: 'npx', args: ['-y', 'pkg', './work', '../shared', 'a/b', '/abs', '.hidden'] } }, tasks: [{ id: 't', server: 'fs', tool: 'x' }] }),
      OPTIONS,
    );
    expect(workflow.servers.fs).toMatchObject({
      args: ['-y', 'pkg', '/flows/demo/work', '/flows/shared', 'a/b', '/abs', '.hidden'],
    });
  });

  it('resolves cwd against the workflow folder and keeps an absolute cwd', () => {
    const workflow = parseWorkflow(
      makeDocument({ servers: { a: { command: 'node', cwd: 'sub' }, b: { command: 'node', cwd: '/tmp' } }, tasks: [{ id: 't', server: 'a', tool: 'x' }] }),
      OPTIONS,
    );
    expect(workflow.servers.a).toMatchObject({ cwd: '/flows/demo/sub' });
    expect(workflow.servers.b).toMatchObject({ cwd: '/tmp' });
  });

  it('makes a relative dir absolute', () => {
    const workflow = parseWorkflow(makeDocument(), { dir: 'flows' });
    expect(workflow.dir).toBe(`${process.cwd()}/flows`);
    expect(workflow.servers.fs).toMatchObject({ cwd: `${process.cwd()}/flows` });
  });
});

describe('parseWorkflow: ${VARIABLES}', () => {
  it('substitutes environment variables and WORKFLOW_DIR in env and headers', () => {
    const workflow = parseWorkflow(
      makeDocument({
        servers: {
          fs: { command: 'npx', env: { KEY: '${TOKEN}', ROOT: '${WORKFLOW_DIR}/data', BOTH: '${ TOKEN }@${WORKFLOW_DIR}' } },
          api: { url: 'http://h/', headers: { Authorization: 'Bearer ${TOKEN}' } },
        },
      }),
      OPTIONS,
    );
    expect(workflow.servers.fs).toMatchObject({ env: { KEY: 'secret', ROOT: '/flows/demo/data', BOTH: 'secret@/flows/demo' } });
    expect(workflow.servers.api).toMatchObject({ headers: { Authorization: 'Bearer secret' } });
  });

  it('reads $${ as a literal ${', () => {
    const workflow = parseWorkflow(makeDocument({ servers: { fs: { command: 'npx', env: { A: 'cost $${TOKEN}' } } }, tasks: [{ id: 't', server: 'fs', tool: 'x' }] }), OPTIONS);
    expect(workflow.servers.fs).toMatchObject({ env: { A: 'cost ${TOKEN}' } });
  });

  it('uses process.env when no env is given', () => {
    process.env.ENSEMBLE_TEST_VARIABLE = 'from-process';
    try {
      const workflow = parseWorkflow(makeDocument({ servers: { fs: { command: 'npx', env: { A: '${ENSEMBLE_TEST_VARIABLE}' } } }, tasks: [{ id: 't', server: 'fs', tool: 'x' }] }), { dir: DIR });
      expect(workflow.servers.fs).toMatchObject({ env: { A: 'from-process' } });
    } finally {
      delete process.env.ENSEMBLE_TEST_VARIABLE;
    }
  });

  it('rejects an unset variable, naming the field and the variable', () => {
    const error = errorFor(makeDocument({ servers: { fs: { command: 'npx', env: { A: '${MISSING_ONE}' } } }, tasks: [{ id: 't', server: 'fs', tool: 'x' }] }));
    expect(error.field).toBe('servers.fs.env.A');
    expect(error.message).toBe('wf.yaml: servers.fs.env.A: environment variable MISSING_ONE is not set (used as ${MISSING_ONE})');
  });

  it('rejects an unclosed ${ and a malformed variable name', () => {
    const error = errorFor(makeDocument({ servers: { fs: { command: 'npx', env: { A: 'x${', B: '${1X}' } } }, tasks: [{ id: 't', server: 'fs', tool: 'x' }] }));
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: servers.fs.env.A: unclosed "${" (write "$${" for a literal "${")',
      'wf.yaml: servers.fs.env.B: "${1X}" is not a valid variable reference (write "$${" for a literal "${")',
    ]);
  });
});

describe('parseWorkflow: schema errors', () => {
  it('reports a wrong type as "<file>: <field>: expected …" with file and field on the error', () => {
    const error = errorFor(makeDocument({ tasks: [{ id: 'a', server: 'fs', tool: 7 }] }));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', file: 'wf.yaml', field: 'tasks[0].tool' });
    expect(error.message).toBe('wf.yaml: tasks[0].tool: expected a string, got the number 7');
  });

  it('reports a missing field', () => {
    const error = errorFor(makeDocument({ tasks: [{ id: 'a', server: 'fs' }] }));
    expect(error.message).toBe('wf.yaml: tasks[0].tool: missing (expected a string)');
  });

  it('omits the file from the message when there is none', () => {
    const error = errorFor(makeDocument({ tasks: [{ id: 'a', server: 'fs', tool: 7 }] }), { dir: DIR });
    expect(error.message).toBe('tasks[0].tool: expected a string, got the number 7');
    expect(error.file).toBeUndefined();
  });

  it('rejects a document that is not a mapping', () => {
    expect(errorFor(null).message).toBe('wf.yaml: expected a workflow (a mapping with servers and tasks), got null');
    expect(errorFor(['a']).message).toBe('wf.yaml: expected a workflow (a mapping with servers and tasks), got a list');
  });

  it('names a misspelt key and suggests the right one', () => {
    const error = errorFor(makeDocument({ servers: { fs: { comand: 'npx' } } }));
    expect(error.field).toBe('servers.fs.comand');
    expect(error.message.split('\n')[0]).toBe('wf.yaml: servers.fs.comand: unknown field; did you mean "command"?');
  });

  it('lists the allowed keys when an unknown key is not close to any', () => {
    const error = errorFor(makeDocument({ tasks: [{ id: 'a', server: 'fs', tool: 't', banana: 1 }] }));
    expect(error.message).toBe('wf.yaml: tasks[0].banana: unknown field (expected one of: id, server, tool, args, context, needs, timeoutMs, optional, idempotent, compensate)');
  });

  it('rejects unknown keys at the top level, in the plan and in context entries', () => {
    const error = errorFor(
      makeDocument({
        outptu: 'x',
        plan: { server: 'api', tool: 'p', arg: {} },
        tasks: [{ id: 'a', server: 'fs', tool: 't', context: [{ server: 'fs', url: 'file:///x' }] }],
      }),
    );
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: plan.arg: unknown field; did you mean "args"?',
      'wf.yaml: tasks[0].context[0].uri: missing (expected a string)',
      'wf.yaml: tasks[0].context[0].url: unknown field; did you mean "uri"?',
      'wf.yaml: outptu: unknown field; did you mean "output"?',
    ]);
  });

  it('reports every schema problem, one per line, with field set to the first', () => {
    const error = errorFor(
      makeDocument({ timeoutMs: 1.5, tasks: [{ id: 'a', server: 'fs', tool: '' }, { id: 'b', server: 'fs', tool: 't', args: ['x'] }] }),
    );
    expect(error.field).toBe('timeoutMs');
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: timeoutMs: expected a whole number, got the number 1.5',
      'wf.yaml: tasks[0].tool: must not be empty',
      'wf.yaml: tasks[1].args: expected a mapping, got a list',
    ]);
  });

  it('rejects timeouts that are not positive', () => {
    const error = errorFor(makeDocument({ servers: { fs: { command: 'npx', timeoutMs: 0 } }, tasks: [{ id: 't', server: 'fs', tool: 'x' }] }));
    expect(error.message).toBe('wf.yaml: servers.fs.timeoutMs: must be greater than 0');
  });

  it('rejects bad server names and task ids', () => {
    const error = errorFor(makeDocument({ servers: { 'my server': { command: 'npx' } }, tasks: [{ id: '1st', server: 'x', tool: 't' }, { id: 'a.b', server: 'x', tool: 't' }] }));
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: servers["my server"]: server names start with a letter or digit and use only letters, digits, "_" and "-"',
      'wf.yaml: tasks[0].id: task ids start with a letter or "_" and use only letters, digits, "_" and "-"',
      'wf.yaml: tasks[1].id: task ids start with a letter or "_" and use only letters, digits, "_" and "-"',
    ]);
  });

  it('requires at least one server', () => {
    expect(errorFor(makeDocument({ servers: {} })).message.split('\n')[0]).toBe('wf.yaml: servers: a workflow needs at least one server');
  });
});

describe('parseWorkflow: server kinds', () => {
  it('rejects a server with both command and url', () => {
    const error = errorFor(makeDocument({ servers: { fs: { command: 'npx', url: 'http://h/' } } }));
    expect(error.message).toBe('wf.yaml: servers.fs.url: a server has either "command" (stdio) or "url" (http), not both');
  });

  it('rejects a server with neither command nor url', () => {
    const error = errorFor(makeDocument({ servers: { fs: { args: ['x'] } } }));
    expect(error.message).toBe('wf.yaml: servers.fs: a server needs "command" (started as a child process) or "url" (reached over HTTP)');
  });

  it('rejects keys of the other kind', () => {
    const error = errorFor(makeDocument({ servers: { fs: { command: 'npx', headers: {} }, api: { url: 'http://h/', cwd: '.' } } }));
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: servers.fs.headers: only http servers (with "url") take "headers"',
      'wf.yaml: servers.api.cwd: only stdio servers (with "command") take "cwd"',
    ]);
  });

  it('rejects URLs that are not http(s)', () => {
    expect(errorFor(makeDocument({ servers: { api: { url: 'ftp://h/x' } } })).message).toBe('wf.yaml: servers.api.url: must be an http:// or https:// URL');
    expect(errorFor(makeDocument({ servers: { api: { url: 'not a url' } } })).message).toBe('wf.yaml: servers.api.url: must be an http:// or https:// URL');
  });
});

describe('parseWorkflow: tasks and references', () => {
  it('needs at least one task when there is no plan', () => {
    expect(errorFor(makeDocument({ tasks: [] })).message).toBe('wf.yaml: tasks: a workflow needs at least one task (or a plan)');
    expect(errorFor(makeDocument({ tasks: undefined })).field).toBe('tasks');
  });

  it('rejects duplicate task ids, naming both indexes', () => {
    const error = errorFor(makeDocument({ tasks: [{ id: 'a', server: 'fs', tool: 't' }, { id: 'b', server: 'fs', tool: 't' }, { id: 'a', server: 'fs', tool: 't' }] }));
    expect(error.field).toBe('tasks[2].id');
    expect(error.message).toBe('wf.yaml: tasks[2].id: duplicate task id "a" (also tasks[0])');
  });

  it('rejects unknown servers in tasks, context entries and the plan, listing the servers', () => {
    const error = errorFor(
      makeDocument({
        plan: { server: 'planner', tool: 'p' },
        tasks: [{ id: 'a', server: 'fz', tool: 't', context: [{ server: 'ap', uri: 'x://y' }] }],
      }),
    );
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: plan.server: unknown server "planner" (servers: fs, api)',
      'wf.yaml: tasks[0].server: unknown server "fz" (servers: fs, api)',
      'wf.yaml: tasks[0].context[0].server: unknown server "ap" (servers: fs, api)',
    ]);
  });

  it('accepts text, json and json paths of earlier tasks, and context entries of the task itself', () => {
    const workflow = parseWorkflow(
      makeDocument({
        tasks: [
          { id: 'read', server: 'fs', tool: 't' },
          {
            id: 'use',
            server: 'fs',
            tool: 't',
            context: [{ server: 'api', uri: 'x://y' }],
            args: { a: '{{ tasks.read.text }}', b: ['{{tasks.read.json}}', { c: 'n={{ tasks.read.json.items.0.n }}' }], d: '{{ context.0.json.x }} {{ context.0.text }}' },
          },
        ],
      }),
      OPTIONS,
    );
    expect(workflow.tasks[1]?.args).toEqual({
      a: '{{ tasks.read.text }}',
      b: ['{{tasks.read.json}}', { c: 'n={{ tasks.read.json.items.0.n }}' }],
      d: '{{ context.0.json.x }} {{ context.0.text }}',
    });
  });

  it('rejects a reference to an unknown task', () => {
    const error = errorFor(makeDocument({ tasks: [{ id: 'read', server: 'fs', tool: 't' }, { id: 'save', server: 'fs', tool: 't', args: { content: '{{ tasks.raed.text }}' } }] }));
    expect(error.field).toBe('tasks[1].args.content');
    expect(error.message).toBe('wf.yaml: tasks[1].args.content: {{ tasks.raed.text }} refers to unknown task "raed" (tasks before it: read)');
  });

  it('rejects a reference to a later task in a plain list, which runs in order', () => {
    const error = errorFor(makeDocument({ tasks: [{ id: 'read', server: 'fs', tool: 't', args: { x: '{{ tasks.save.json }}' } }, { id: 'save', server: 'fs', tool: 't' }] }));
    expect(error.message).toBe(
      'wf.yaml: tasks[0].args.x: {{ tasks.save.json }}: task "save" runs after "read" (a plain list runs in order); list it earlier, or declare "needs" to make the tasks a graph',
    );
  });

  it('rejects a task using its own result', () => {
    const error = errorFor(makeDocument({ tasks: [{ id: 'read', server: 'fs', tool: 't', args: { x: '{{ tasks.read.text }}' } }] }));
    expect(error.message).toBe('wf.yaml: tasks[0].args.x: {{ tasks.read.text }}: task "read" cannot use its own result');
  });

  it('rejects a context index outside the task\'s own context list', () => {
    const none = errorFor(makeDocument({ tasks: [{ id: 'a', server: 'fs', tool: 't', args: { x: '{{ context.0.text }}' } }] }));
    expect(none.message).toBe('wf.yaml: tasks[0].args.x: {{ context.0.text }}: task "a" has no context entries');
    const two = errorFor(
      makeDocument({ tasks: [{ id: 'a', server: 'fs', tool: 't', context: [{ server: 'fs', uri: 'u:1' }, { server: 'fs', uri: 'u:2' }], args: { x: ['{{ context.2.json }}'] } }] }),
    );
    expect(two.message).toBe('wf.yaml: tasks[0].args.x[0]: {{ context.2.json }}: task "a" has 2 context entries (context.0…context.1)');
  });

  it.each([
    ['foo'],
    ['tasks.read'],
    ['tasks.read.txt'],
    ['tasks.read.text.more'],
    ['tasks.read.json..x'],
    ['context.x.text'],
    ['context.-1.text'],
    [''],
  ])('rejects the placeholder {{ %s }}, listing the allowed forms', (placeholder) => {
    const error = errorFor(makeDocument({ tasks: [{ id: 'read', server: 'fs', tool: 't' }, { id: 'b', server: 'fs', tool: 't', args: { x: `{{ ${placeholder} }}` } }] }));
    expect(error.field).toBe('tasks[1].args.x');
    expect(error.message).toBe(
      `wf.yaml: tasks[1].args.x: {{ ${placeholder} }} is not a valid placeholder; use tasks.<id>.text, tasks.<id>.json[.path], context.<n>.text or context.<n>.json[.path]`,
    );
  });

  it('rejects placeholders in plan args', () => {
    const error = errorFor(makeDocument({ plan: { server: 'api', tool: 'p', args: { goal: 'do {{ tasks.read.text }}' } } }));
    expect(error.field).toBe('plan.args.goal');
    expect(error.message).toBe('wf.yaml: plan.args.goal: plan args cannot use placeholders ({{ tasks.read.text }}): the plan is made before any task runs');
  });

  it('lets the output use any task, in any position', () => {
    const workflow = parseWorkflow(makeDocument({ output: '{{ tasks.save.text }} after {{ tasks.read.json.x }}' }), OPTIONS);
    expect(workflow.output).toBe('{{ tasks.save.text }} after {{ tasks.read.json.x }}');
  });

  it('rejects context, unknown tasks and bad shapes in the output', () => {
    const error = errorFor(makeDocument({ output: '{{ context.0.text }} {{ tasks.nope.text }} {{ read }}' }));
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: output: {{ context.0.text }}: the output cannot use context; it can use tasks.<id>.text or tasks.<id>.json[.path]',
      'wf.yaml: output: {{ tasks.nope.text }} refers to unknown task "nope" (tasks: read, save)',
      'wf.yaml: output: {{ read }} is not a valid placeholder; the output can use tasks.<id>.text or tasks.<id>.json[.path]',
    ]);
  });

  it('lets the output name tasks a planner will add', () => {
    const workflow = parseWorkflow(makeDocument({ tasks: undefined, plan: { server: 'api', tool: 'p' }, output: '{{ tasks.planned.text }}' }), OPTIONS);
    expect(workflow.output).toBe('{{ tasks.planned.text }}');
  });

  it('reports reference problems from every part of the document together', () => {
    const error = errorFor(
      makeDocument({
        servers: { fs: { command: 'npx', env: { A: '${NOT_SET}' } } },
        tasks: [{ id: 'a', server: 'api', tool: 't', args: { x: '{{ tasks.b.text }}' } }],
        output: '{{ context.0.text }}',
      }),
    );
    expect(error.field).toBe('servers.fs.env.A');
    expect(error.message.split('\n')).toHaveLength(4);
  });

  it('asks lineOf for the line of the first problem', () => {
    const asked: unknown[] = [];
    const error = errorFor(makeDocument({ tasks: [{ id: 'a', server: 'fz', tool: 't' }] }), {
      ...OPTIONS,
      lineOf: (path) => {
        asked.push(path);
        return 12;
      },
    });
    expect(asked).toEqual([['tasks', 0, 'server']]);
    expect(error.line).toBe(12);
  });
});

describe('parseWorkflow: run options', () => {
  it('keeps pattern, concurrency, onError, schedule, groupTimeoutMs and replicas', () => {
    const workflow = parseWorkflow(
      makeDocument({
        servers: { fs: { command: 'npx', replicas: 3 }, api: { url: 'http://h/', replicas: 2 } },
        pattern: 'parallel',
        concurrency: 4,
        onError: 'continue',
        schedule: 'groups',
        groupTimeoutMs: 30000,
      }),
      OPTIONS,
    );
    expect(workflow).toMatchObject({ pattern: 'parallel', concurrency: 4, onError: 'continue', schedule: 'groups', groupTimeoutMs: 30000 });
    expect(workflow.servers.fs).toMatchObject({ kind: 'stdio', replicas: 3 });
    expect(workflow.servers.api).toMatchObject({ kind: 'http', replicas: 2 });
  });

  it('accepts an eager schedule', () => {
    expect(parseWorkflow(makeDocument({ schedule: 'eager' }), OPTIONS).schedule).toBe('eager');
  });

  it('lists the choices of a field with fixed values, and the likely one', () => {
    const error = errorFor(makeDocument({ pattern: 'paralel', onError: 'ignore', schedule: 3 }));
    expect(error.field).toBe('pattern');
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: pattern: expected one of: auto, sequential, parallel, multi-server; got the string "paralel"; did you mean "parallel"?',
      'wf.yaml: onError: expected one of: stop, continue; got the string "ignore"',
      'wf.yaml: schedule: expected one of: groups, eager; got the number 3',
    ]);
  });

  it('rejects counts below 1 and fractions', () => {
    const error = errorFor(makeDocument({ servers: { fs: { command: 'npx', replicas: 0 } }, tasks: [{ id: 't', server: 'fs', tool: 'x' }], concurrency: 1.5, groupTimeoutMs: 0 }));
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: concurrency: expected a whole number, got the number 1.5',
      'wf.yaml: groupTimeoutMs: must be greater than 0',
      'wf.yaml: servers.fs.replicas: must be at least 1',
    ]);
    expect(errorFor(makeDocument({ concurrency: 0 })).message).toBe('wf.yaml: concurrency: must be at least 1');
  });

  it('rejects a group timeout with an eager schedule, which has no groups to wait for', () => {
    const error = errorFor(makeDocument({ schedule: 'eager', groupTimeoutMs: 1000 }));
    expect(error.field).toBe('groupTimeoutMs');
    expect(error.message).toBe('wf.yaml: groupTimeoutMs: only applies with schedule: groups (an eager schedule has no synchronization points to wait at)');
  });
});

describe('parseWorkflow: needs and dependency cycles', () => {
  const task = (id: string, extra: Record<string, unknown> = {}) => ({ id, server: 'fs', tool: 't', ...extra });

  it('keeps needs, and reads a single id as a list of one', () => {
    const workflow = parseWorkflow(makeDocument({ tasks: [task('a'), task('b', { needs: 'a' }), task('c', { needs: ['a', 'b'] })] }), OPTIONS);
    expect(workflow.tasks.map((t) => t.needs)).toEqual([undefined, ['a'], ['a', 'b']]);
  });

  it('leaves an undeclared needs absent, and keeps an explicit empty one', () => {
    const workflow = parseWorkflow(makeDocument({ tasks: [task('a'), task('b', { needs: [] })] }), OPTIONS);
    expect(workflow.tasks[0]).not.toHaveProperty('needs');
    expect(workflow.tasks[1]).toHaveProperty('needs', []);
  });

  it('lets a graph need and read tasks listed later, when nothing waits in a cycle', () => {
    const workflow = parseWorkflow(
      makeDocument({ tasks: [task('save', { needs: ['read'], args: { x: '{{ tasks.read.text }}' } }), task('read'), task('log', { args: { x: '{{ tasks.save.json }}' } })] }),
      OPTIONS,
    );
    expect(workflow.tasks.map((t) => t.id)).toEqual(['save', 'read', 'log']);
  });

  it('rejects a needs cycle, naming the tasks in order and the needs field', () => {
    const error = errorFor(makeDocument({ tasks: [task('x'), task('a', { needs: ['c'] }), task('b', { needs: ['a'] }), task('c', { needs: ['b'] })] }));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'tasks[1].needs' });
    expect(error.message).toBe(
      'wf.yaml: tasks[1].needs: dependency cycle: a → b → c → a (each task waits for the one before it), so none of these tasks can start',
    );
  });

  it('rejects a cycle closed by reading a result, at the placeholder', () => {
    const error = errorFor(makeDocument({ tasks: [task('a', { args: { x: '{{ tasks.b.text }}' } }), task('b', { needs: ['a'] })] }));
    expect(error.field).toBe('tasks[0].args.x');
    expect(error.message).toBe(
      'wf.yaml: tasks[0].args.x: dependency cycle: a → b → a (each task waits for the one before it), so none of these tasks can start',
    );
  });

  it('rejects a cycle through needs and reads together', () => {
    const error = errorFor(
      makeDocument({ tasks: [task('a', { needs: ['c'] }), task('b', { args: { x: '{{ tasks.a.text }}' } }), task('c', { needs: ['b'] })] }),
    );
    expect(error.field).toBe('tasks[0].needs');
    expect(error.message).toContain('a → b → c → a');
  });

  it('rejects needs on itself, on a missing id, and the same id twice', () => {
    const error = errorFor(makeDocument({ tasks: [task('a'), task('b', { needs: ['b', 'ghost', 'a', 'a'] })] }));
    expect(error.field).toBe('tasks[1].needs');
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: tasks[1].needs: task "b" cannot need itself',
      'wf.yaml: tasks[1].needs: unknown task "ghost" (tasks: a)',
      'wf.yaml: tasks[1].needs: "a" is listed twice',
    ]);
  });

  it('rejects needs that are not a list of task ids', () => {
    const error = errorFor(makeDocument({ tasks: [task('a', { needs: 3 }), task('b', { needs: ['1st'] })] }));
    expect(error.message.split('\n')).toEqual([
      'wf.yaml: tasks[0].needs: expected a list, got the number 3',
      'wf.yaml: tasks[1].needs[0]: task ids start with a letter or "_" and use only letters, digits, "_" and "-"',
    ]);
  });

  it('lists every other task for an unknown placeholder in a graph', () => {
    const error = errorFor(makeDocument({ tasks: [task('a', { args: { x: '{{ tasks.nope.text }}' } }), task('b', { needs: ['a'] }), task('c')] }));
    expect(error.message).toBe('wf.yaml: tasks[0].args.x: {{ tasks.nope.text }} refers to unknown task "nope" (tasks: b, c)');
  });

  it('asks lineOf for the line of the needs in a cycle', () => {
    const asked: unknown[] = [];
    errorFor(makeDocument({ tasks: [task('a', { needs: ['b'] }), task('b', { needs: ['a'] })] }), {
      ...OPTIONS,
      lineOf: (path) => {
        asked.push(path);
        return 3;
      },
    });
    expect(asked).toEqual([['tasks', 0, 'needs']]);
  });
});
