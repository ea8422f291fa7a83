/**
 * Regression tests for names looked up as inherited properties (issue 8):
 * a server named `__proto__` vanished ("a workflow needs at least one
 * server"), `${constructor}` in `env` sent `function Object() { [native code] }`,
 * and `constructor` or `toString` as a tool name counted as a mapped
 * fallback tool and crashed the built-in files actor.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { callBuiltinFileTool } from '../../actors/builtin-files.js';
import { canServe, listUnservedTools, routeCall } from '../../machines/fallback-routing.js';
import { toBuiltinFileTool } from '../../src/core/builtin-files.js';
import type { FallbackSpec, Workflow } from '../../src/core/workflow.js';
import { parseServers, parseWorkflow } from '../../src/workflow/parse-workflow.js';
import { parsePlannedTasks } from '../../src/workflow/planned-tasks.js';
import { catchError } from '../support/catch-error.js';

const server = { command: 'node', args: ['server.js'] };
const parse = (document: unknown, env: Record<string, string> = {}) => parseWorkflow(document, { file: 'wf.yaml', dir: '/tmp', env });

describe('a server named __proto__', () => {
  it('is refused with an error naming it, instead of vanishing', () => {
    const document = JSON.parse(`{"servers":{"__proto__":${JSON.stringify(server)}},"tasks":[{"id":"a","server":"__proto__","tool":"noop"}]}`);
    const error = catchError(() => parse(document));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'servers.__proto__' });
    expect(error.message).toContain('"__proto__" cannot be used as a name or key');
    expect(error.message).not.toContain('at least one server');
  });

  it('is refused in a servers config too', () => {
    const error = catchError(() => parseServers(JSON.parse(`{"servers":{"__proto__":${JSON.stringify(server)}}}`), { dir: '/tmp' }));
    expect(error.field).toBe('servers.__proto__');
  });

  it('refuses a task id __proto__ as reserved', () => {
    const error = catchError(() => parse({ servers: { s: server }, tasks: [{ id: '__proto__', server: 's', tool: 'noop' }] }));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'tasks[0].id' });
    expect(error.message).toContain('reserved');
  });
});

describe('${NAME} in env reads own variables only', () => {
  it.each(['constructor', 'toString', 'hasOwnProperty', '__proto__'])('treats ${%s} as unset, not as an inherited function', (name) => {
    const error = catchError(() => parse({ servers: { s: { ...server, env: { X: `\${${name}}` } } }, tasks: [{ id: 'a', server: 's', tool: 'noop' }] }));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'servers.s.env.X' });
    expect(error.message).toContain(`environment variable ${name} is not set`);
    expect(error.message).not.toContain('native code');
  });

  it('still reads a variable of that name when it is really set', () => {
    const workflow = parse({ servers: { s: { ...server, env: { X: '${constructor}' } } }, tasks: [{ id: 'a', server: 's', tool: 'noop' }] }, { constructor: 'set' });
    expect(workflow.servers.s).toMatchObject({ env: { X: 'set' } });
  });
});

describe('tool names are looked up as own keys', () => {
  const builtin: FallbackSpec = { kind: 'builtin', builtin: 'files', tools: {} };
  const mapped: FallbackSpec = { kind: 'server', server: 'backup', tools: { echo: { tool: 'say' } } };

  it.each(['constructor', 'toString', 'hasOwnProperty', 'valueOf', '__proto__'])('%s is not a mapped fallback tool nor a built-in file tool', (tool) => {
    expect(toBuiltinFileTool(tool)).toBeUndefined();
    expect(canServe(builtin, tool)).toBe(false);
    expect(canServe(mapped, tool)).toBe(false);
    expect(routeCall([mapped, builtin], [true, true], tool, {})).toBeUndefined();
    expect(listUnservedTools([mapped, builtin], [true, true], [{ name: tool }, { name: 'echo' }])).toEqual([tool]);
  });

  const root = mkdtempSync(join(tmpdir(), 'ensemble-own-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it.each(['constructor', 'toString'])('the built-in files answer %s with an unknown-tool result instead of crashing', async (tool) => {
    const result = await callBuiltinFileTool(root, tool, { path: 'x' });
    expect(result.isError).toBe(true);
    expect(result.text).toContain(`unknown tool "${tool}"`);
  });
});

describe('a planner cannot smuggle inherited names in', () => {
  const workflow: Workflow = parse({ servers: { s: server }, plan: { server: 's', tool: 'plan' } });
  const context = { workflow, planner: 's.plan', earlierTaskIds: [] };

  it('refuses a __proto__ key in a planned task, naming the field', () => {
    const error = catchError(() => parsePlannedTasks(JSON.parse('{"tasks":[{"id":"a","server":"s","tool":"noop","args":{"__proto__":{"x":1}}}]}'), context));
    expect(error).toMatchObject({ code: 'INVALID_PLAN', field: 'tasks[0].args.__proto__' });
  });

  it('refuses a planned task on a server named constructor (not declared)', () => {
    const error = catchError(() => parsePlannedTasks({ tasks: [{ id: 'a', server: 'constructor', tool: 'noop' }] }, context));
    expect(error).toMatchObject({ code: 'INVALID_PLAN', field: 'tasks[0].server' });
  });
});
