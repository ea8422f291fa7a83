/**
 * Regression tests for input that passed validation and then misbehaved
 * (issue 8): durations past what a Node timer can wait (then treated as
 * 1 ms), unbounded replicas, args nested 10,000 deep ("Maximum call stack
 * size exceeded", no field named), workflow files that are FIFOs (hung) or
 * devices (`/dev/zero` read to 512 MB), and the YAML alias limit refusing
 * ordinary files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EnsembleError } from '../../src/core/errors.js';
import { MAX_NESTING_DEPTH } from '../../src/workflow/document-shape.js';
import { parseServers, parseWorkflow } from '../../src/workflow/parse-workflow.js';
import { MAX_WORKFLOW_BYTES, readWorkflowFile } from '../../src/workflow/read-workflow.js';
import { MAX_DURATION_MS, MAX_REPLICAS } from '../../src/workflow/workflow.schema.js';
import { catchError } from '../support/catch-error.js';
import { createTempDir } from '../support/fixture.js';

const temp = createTempDir('ensemble-limits-');
afterAll(() => temp.remove());

const server = { command: 'node', args: ['server.js'] };
const task = { id: 'a', server: 's', tool: 'noop' };
const parse = (document: unknown) => parseWorkflow(document, { file: 'wf.yaml', dir: temp.dir });

async function catchAsync(promise: Promise<unknown>): Promise<EnsembleError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EnsembleError) return error;
    throw error;
  }
  throw new Error('expected an EnsembleError, but the promise resolved');
}

describe('durations are range-checked at validation', () => {
  it.each([
    ['timeoutMs', { timeoutMs: MAX_DURATION_MS + 1, servers: { s: server }, tasks: [task] }],
    ['groupTimeoutMs', { groupTimeoutMs: 2 ** 40, servers: { s: server }, tasks: [task] }],
    ['servers.s.timeoutMs', { servers: { s: { ...server, timeoutMs: 2 ** 31 } }, tasks: [task] }],
    ['servers.s.healthCheck.intervalMs', { servers: { s: { ...server, healthCheck: { intervalMs: 2 ** 31 } } }, tasks: [task] }],
    ['servers.s.recovery.maxDelayMs', { servers: { s: { ...server, recovery: { maxDelayMs: 1e12 } } }, tasks: [task] }],
    ['servers.s.circuitBreaker.resetTimeoutMs', { servers: { s: { ...server, circuitBreaker: { failureThreshold: 1, resetTimeoutMs: 2 ** 31 } } }, tasks: [task] }],
    ['tasks[0].timeoutMs', { servers: { s: server }, tasks: [{ ...task, timeoutMs: 2 ** 31 }] }],
  ])('refuses %s above 2^31-1 ms, naming the field', (field, document) => {
    const error = catchError(() => parse(document));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', field });
    expect(error.message).toContain(`${field}: must be at most ${MAX_DURATION_MS} ms`);
  });

  it('accepts exactly 2^31-1 ms', () => {
    expect(parse({ timeoutMs: MAX_DURATION_MS, servers: { s: server }, tasks: [task] }).timeoutMs).toBe(MAX_DURATION_MS);
  });
});

describe('replicas have a limit', () => {
  it(`refuses more than ${MAX_REPLICAS} replicas with an error naming the field`, () => {
    const error = catchError(() => parse({ servers: { s: { ...server, replicas: 100_000_000 } }, tasks: [task] }));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'servers.s.replicas' });
    expect(error.message).toContain(`must be at most ${MAX_REPLICAS}`);
    expect(() => parseServers({ servers: { s: { ...server, replicas: MAX_REPLICAS + 1 } } }, { dir: temp.dir })).toThrow(/at most 64/);
  });

  it(`accepts ${MAX_REPLICAS} replicas`, () => {
    expect(parse({ servers: { s: { ...server, replicas: MAX_REPLICAS } }, tasks: [task] }).servers.s?.replicas).toBe(MAX_REPLICAS);
  });
});

describe('nesting depth has a limit', () => {
  const nest = (depth: number): unknown => {
    let value: unknown = 'leaf';
    for (let level = 0; level < depth; level++) value = { x: value };
    return value;
  };

  it('refuses args nested 10,000 deep with an error naming the field, not a stack overflow', () => {
    const error = catchError(() => parse({ servers: { s: server }, tasks: [{ ...task, args: { deep: nest(10_000) } }] }));
    expect(error.code).toBe('INVALID_WORKFLOW');
    expect(error.field).toMatch(/^tasks\[0\]\.args\.deep(\.x)+$/);
    expect(error.message).toContain(`nested too deeply: at most ${MAX_NESTING_DEPTH} levels`);
  });

  it('accepts args nested as deep as real tools take', () => {
    expect(parse({ servers: { s: server }, tasks: [{ ...task, args: { deep: nest(40) } }] }).tasks[0]?.args.deep).toEqual(nest(40));
  });

  it('refuses a JSON workflow file nested 10,000 deep, naming the field', async () => {
    const path = join(temp.dir, 'deep.json');
    const deep = `${'{"x":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    await writeFile(path, `{"servers":{"s":{"command":"node"}},"tasks":[{"id":"a","server":"s","tool":"noop","args":{"deep":${deep}}}]}`);
    const error = await catchAsync(readWorkflowFile(path));
    expect(error.code).toBe('INVALID_WORKFLOW');
    expect(error.field).toMatch(/^tasks\[0\]\.args\.deep/);
  });

  it('refuses a YAML workflow file nested 10,000 deep with a syntax error that says so', async () => {
    const path = join(temp.dir, 'deep.yaml');
    await writeFile(path, `servers: { s: { command: node } }\ntasks:\n  - { id: a, server: s, tool: noop, args: { deep: ${'['.repeat(10_000)}${']'.repeat(10_000)} } }\n`);
    const error = await catchAsync(readWorkflowFile(path));
    expect(error.code).toBe('YAML_SYNTAX');
    expect(error.message).toContain('nested too deeply');
    expect(error.message).not.toContain('Maximum call stack');
    expect(error.line).toBe(3);
  });
});

describe('workflow files must be regular files of bounded size', () => {
  it.runIf(process.platform !== 'win32')('refuses a FIFO at once instead of waiting for a writer', async () => {
    const path = join(temp.dir, 'fifo.yaml');
    execFileSync('mkfifo', [path]);
    expect(existsSync(path)).toBe(true);
    const error = await catchAsync(readWorkflowFile(path));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', file: path });
    expect(error.message).toContain('not a regular file');
  });

  it.runIf(existsSync('/dev/zero'))('refuses /dev/zero without reading it', async () => {
    const error = await catchAsync(readWorkflowFile('/dev/zero'));
    expect(error.code).toBe('INVALID_WORKFLOW');
    expect(error.message).toContain('not a regular file');
  });

  it('refuses a file larger than the cap, naming the file and the cap', async () => {
    const path = join(temp.dir, 'big.yaml');
    await writeFile(path, `# ${'x'.repeat(MAX_WORKFLOW_BYTES)}\n`);
    const error = await catchAsync(readWorkflowFile(path));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', file: path });
    expect(error.message).toContain(`larger than ${MAX_WORKFLOW_BYTES} bytes`);
  });

  it('still says a folder is a folder', async () => {
    const error = await catchAsync(readWorkflowFile(temp.dir));
    expect(error.code).toBe('WORKFLOW_NOT_FOUND');
    expect(error.message).toContain('is a folder');
  });
});

describe('the YAML alias limit', () => {
  it('allows an ordinary file that reuses one anchor in 150 places', async () => {
    const reuses = Array.from({ length: 149 }, (_, index) => `  - { id: t${index + 1}, server: s, tool: noop, args: *args }`);
    const path = join(temp.dir, 'aliases.yaml');
    await writeFile(path, ['servers: { s: { command: node } }', 'tasks:', '  - { id: t0, server: s, tool: noop, args: &args { mode: fast } }', ...reuses, ''].join('\n'));
    const workflow = await readWorkflowFile(path);
    expect(workflow.tasks).toHaveLength(150);
    expect(workflow.tasks[149]?.args).toEqual({ mode: 'fast' });
  });

  it('still refuses a billion-laughs document', async () => {
    const levels = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let level = 1; level < 9; level++) {
      const previous = String.fromCharCode(96 + level);
      const name = String.fromCharCode(97 + level);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    const path = join(temp.dir, 'laughs.yaml');
    await writeFile(path, `${levels.join('\n')}\n`);
    const error = await catchAsync(readWorkflowFile(path));
    expect(error.code).toBe('YAML_SYNTAX');
    expect(error.message).toContain('alias');
  });
});
