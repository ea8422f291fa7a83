/**
 * `ensemble explain` as a user runs it: a real process, nothing started,
 * the pattern and why on stdout, exit 0; exit 2 for a bad file or usage.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runEnsemble, writeWorkflowFile } from '../support/cli.js';
import { createTempDir } from '../support/fixture.js';

const temp = createTempDir('ensemble-explain-');
afterAll(() => temp.remove());


const ensemble = (...args: string[]) => runEnsemble(temp.dir, ...args);

const writeWorkflow = (name: string, text: string) => writeWorkflowFile(temp.dir, name, text);

// Nothing is started by explain: a command that does not exist proves it.
const servers = `servers:
  fs: { command: ./no-such-server, replicas: 3 }
  api: { url: "http://127.0.0.1:9/mcp" }
`;
const diamond = writeWorkflow(
  'diamond.yaml',
  `${servers}tasks:
  - { id: a, server: fs, tool: read }
  - { id: b, server: api, tool: t, needs: [a] }
  - { id: c, server: fs, tool: t, args: { x: "{{ tasks.a.text }}" }, needs: a }
  - { id: d, server: fs, tool: t, needs: [b, c] }
`,
);
const list = writeWorkflow('list.yaml', `${servers}tasks:\n  - { id: a, server: fs, tool: t }\n  - { id: b, server: api, tool: t }\n`);

describe('ensemble explain', () => {
  it('prints the pattern, what goes with it, the reasons, the groups and the servers', async () => {
    const result = await ensemble('explain', diamond);
    expect(result.code).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(
      [
        'pattern: parallel',
        'with: multi-server',
        'reasons:',
        '  - graph (needs declared on b, c, d): each task waits only for the tasks it needs and those whose results it reads',
        '  - group 2 holds 2 independent tasks (b, c)',
        '  - tasks use 2 servers (fs, api)',
        'groups:',
        '  group 1: a',
        '  group 2: b, c',
        '  group 3: d',
        'servers:',
        '  fs (3 replicas)',
        '  api',
        '',
      ].join('\n'),
    );
  });

  it('prints exactly one JSON object with --json', async () => {
    const result = await ensemble('explain', diamond, '--json');
    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      pattern: 'parallel',
      with: ['multi-server'],
      reasons: [
        'graph (needs declared on b, c, d): each task waits only for the tasks it needs and those whose results it reads',
        'group 2 holds 2 independent tasks (b, c)',
        'tasks use 2 servers (fs, api)',
      ],
      groups: [['a'], ['b', 'c'], ['d']],
      servers: ['fs', 'api'],
      dependencies: 'graph',
    });
  });

  it('chooses multi-server for a plain list across two servers', async () => {
    const result = await ensemble('explain', list, '--json');
    expect(JSON.parse(result.stdout)).toMatchObject({ pattern: 'multi-server', with: [], groups: [['a'], ['b']], dependencies: 'list' });
  });

  it('forces the primary pattern with --pattern, saying what auto would choose', async () => {
    const result = await ensemble('explain', diamond, '--pattern', 'sequential');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('pattern: sequential\n');
    expect(result.stdout).toContain('  - forced to sequential (auto would choose parallel)\n');
  });

  it("shows the workflow's own pattern as forcing", async () => {
    const path = writeWorkflow('forced.yaml', `pattern: sequential\n${servers}tasks:\n  - { id: a, server: fs, tool: t }\n`);
    const result = await ensemble('explain', path, '--json');
    expect(JSON.parse(result.stdout)).toMatchObject({ pattern: 'sequential', reasons: ['the workflow sets pattern: sequential (auto would choose the same)', 'a single task', 'tasks use one server (fs)', 'server api is declared but no task uses it'] });
  });

  it('exits 2 naming the file, the field and the tasks of a cycle', async () => {
    const path = writeWorkflow('cycle.yaml', `${servers}tasks:\n  - { id: a, server: fs, tool: t, needs: [b] }\n  - { id: b, server: fs, tool: t, needs: [a] }\n`);
    const result = await ensemble('explain', path);
    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/cycle\.yaml:5:\d+: tasks\[0\]\.needs: dependency cycle: a → b → a/);
    const json = await ensemble('explain', path, '--json');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ pattern: null, groups: [], error: { code: 'INVALID_WORKFLOW', field: 'tasks[0].needs', line: 5 } });
  });

  it('exits 2 for a missing file', async () => {
    const result = await ensemble('explain', join(temp.dir, 'absent.yaml'));
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('absent.yaml');
  });

  it('exits 2 for an unknown --pattern, like run', async () => {
    const result = await ensemble('explain', diamond, '--pattern', 'paralel');
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('ensemble: --pattern: expected sequential, parallel or multi-server, got "paralel"\n');
    const json = await ensemble('explain', diamond, '--pattern', 'auto', '--json');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error).toMatchObject({ code: 'USAGE', field: '--pattern' });
  });

  it('exits 2 without a file', async () => {
    const result = await ensemble('explain');
    expect(result.code).toBe(2);
  });
});
