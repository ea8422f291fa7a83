/**
 * What the multi-server coordinator adds to a workflow file: tasks routed by
 * capability (`server` omitted or `any`), `compensate`, per-server `maxConcurrent`.
 */
import { describe, expect, it } from 'vitest';
import type { EnsembleError } from '../../src/core/errors.js';
import { parseWorkflow } from '../../src/workflow/parse-workflow.js';
import { catchError } from '../support/catch-error.js';

const OPTIONS = { file: 'wf.yaml', dir: '/flows' };
const SERVERS = { db: { command: 'db-server', maxConcurrent: 3 }, api: { command: 'api-server' } };
const errorFor = (raw: unknown): EnsembleError => catchError(() => parseWorkflow(raw, OPTIONS));

describe('coordinator fields in a workflow', () => {
  it('reads an omitted server and server: any as routed by capability', () => {
    const workflow = parseWorkflow({ servers: SERVERS, tasks: [{ id: 'a', tool: 'insert' }, { id: 'b', server: 'any', tool: 'call' }] }, OPTIONS);
    expect(workflow.tasks.map((task) => task.server)).toEqual(['any', 'any']);
  });

  it('keeps maxConcurrent on the server and compensate on the task', () => {
    const workflow = parseWorkflow(
      { servers: SERVERS, tasks: [{ id: 'a', server: 'db', tool: 'insert', compensate: { server: 'db', tool: 'delete', args: { id: '{{ result.json.id }}' } } }] },
      OPTIONS,
    );
    expect(workflow.servers.db).toMatchObject({ maxConcurrent: 3 });
    expect(workflow.tasks[0]!.compensate).toEqual({ server: 'db', tool: 'delete', args: { id: '{{ result.json.id }}' } });
  });

  it('rejects a compensation on an unknown server or reading something other than results', () => {
    const error = errorFor({
      servers: SERVERS,
      tasks: [{ id: 'a', server: 'db', tool: 'insert', compensate: { server: 'nope', tool: 'delete', args: { id: '{{ context.0.text }}', other: '{{ tasks.ghost.text }}' } } }],
    });
    expect(error.message).toContain('tasks[0].compensate.server: unknown server "nope"');
    expect(error.message).toContain('tasks[0].compensate.args.id: "{{ context.0.text }}"');
    expect(error.message).toContain('tasks[0].compensate.args.other: "{{ tasks.ghost.text }}"');
  });

  it('rejects capability routing and compensations under a pattern that cannot run them', () => {
    const error = errorFor({
      pattern: 'parallel',
      servers: SERVERS,
      tasks: [{ id: 'a', tool: 'insert' }, { id: 'b', server: 'db', tool: 'insert', compensate: { server: 'db', tool: 'delete' } }],
    });
    expect(error.message).toContain('tasks[0].server: a task without a server');
    expect(error.message).toContain('tasks[1].compensate: compensations run under the multi-server coordinator');
  });

  it('reserves the server name any', () => {
    expect(errorFor({ servers: { any: { command: 'x' } }, tasks: [{ id: 'a', server: 'any', tool: 't' }] }).message).toContain('servers.any: "any" is reserved');
  });
});
