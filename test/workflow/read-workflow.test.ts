import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EnsembleError } from '../../src/core/errors.js';
import { readWorkflowFile } from '../../src/workflow/read-workflow.js';

let folder: string;

beforeAll(async () => {
  folder = await mkdtemp(join(tmpdir(), 'ensemble-read-workflow-'));
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
});

async function writeWorkflow(name: string, text: string): Promise<string> {
  const path = join(folder, name);
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, text);
  return path;
}

async function catchError(promise: Promise<unknown>): Promise<EnsembleError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof EnsembleError) return error;
    throw error;
  }
  throw new Error('expected an EnsembleError, but the promise resolved');
}

const VALID_YAML = `name: copy
servers:
  fs: { command: npx, args: [-y, "@modelcontextprotocol/server-filesystem", "./work"] }
tasks:
  - id: read
    server: fs
    tool: read_text_file
    args: { path: "./work/in.txt" }
  - id: save
    server: fs
    tool: write_file
    args: { path: "./work/out.txt", content: "copied: {{ tasks.read.text }}" }
output: "{{ tasks.save.text }}"
`;

const VALID_JSON = JSON.stringify(
  {
    name: 'copy',
    servers: { fs: { command: './bin/server' } },
    tasks: [{ id: 'read', server: 'fs', tool: 'read_text_file' }],
  },
  null,
  2,
);

describe('readWorkflowFile: reading', () => {
  it('reads a YAML file, resolving paths against its folder', async () => {
    const path = await writeWorkflow('flows/copy.yaml', VALID_YAML);
    const workflow = await readWorkflowFile(path);
    expect(workflow.file).toBe(path);
    expect(workflow.dir).toBe(join(folder, 'flows'));
    expect(workflow.servers.fs).toMatchObject({
      kind: 'stdio',
      args: ['-y', '@modelcontextprotocol/server-filesystem', join(folder, 'flows', 'work')],
      cwd: join(folder, 'flows'),
    });
    expect(workflow.tasks.map((task) => task.id)).toEqual(['read', 'save']);
  });

  it('reads a .yml file', async () => {
    const workflow = await readWorkflowFile(await writeWorkflow('copy.yml', VALID_YAML));
    expect(workflow.name).toBe('copy');
  });

  it('reads a .json file', async () => {
    const workflow = await readWorkflowFile(await writeWorkflow('copy.json', VALID_JSON));
    expect(workflow.servers.fs).toMatchObject({ command: join(folder, 'bin', 'server') });
  });

  it('reads JSON from a file with an unknown extension, as YAML', async () => {
    const workflow = await readWorkflowFile(await writeWorkflow('copy.workflow', VALID_JSON));
    expect(workflow.tasks[0]?.tool).toBe('read_text_file');
  });

  it('reads a JSON file that starts with a byte order mark', async () => {
    const workflow = await readWorkflowFile(await writeWorkflow('bom.json', `\uFEFF${VALID_JSON}`));
    expect(workflow.name).toBe('copy');
  });

  it('makes a relative file path absolute', async () => {
    const path = await writeWorkflow('relative.yaml', VALID_YAML);
    const workflow = await readWorkflowFile(relative(process.cwd(), path));
    expect(workflow.file).toBe(path);
    expect(workflow.dir).toBe(folder);
  });
});

describe('readWorkflowFile: missing files', () => {
  it('reports a missing file as WORKFLOW_NOT_FOUND naming the path', async () => {
    const path = join(folder, 'nope.yaml');
    const error = await catchError(readWorkflowFile(path));
    expect(error).toMatchObject({ code: 'WORKFLOW_NOT_FOUND', file: path });
    expect(error.message).toBe(`workflow file not found: ${path}`);
  });

  it('reports a folder given as the file', async () => {
    const error = await catchError(readWorkflowFile(folder));
    expect(error.code).toBe('WORKFLOW_NOT_FOUND');
    expect(error.message).toBe(`${folder} is a folder, not a workflow file`);
  });
});

describe('readWorkflowFile: syntax errors', () => {
  it('reports a YAML syntax error with its 1-based line', async () => {
    const path = await writeWorkflow('broken.yaml', 'name: x\nservers:\n  fs: [\ntasks: 3\n');
    const error = await catchError(readWorkflowFile(path));
    expect(error).toMatchObject({ code: 'YAML_SYNTAX', file: path, line: 4 });
    expect(error.message).toMatch(new RegExp(`^${escapeRegExp(path)}: line 4, column 1: `));
  });

  it('treats duplicate keys as a syntax error on the line of the second key', async () => {
    const path = await writeWorkflow('dup.yaml', 'name: x\nservers:\n  fs: { command: npx }\n  fs: { command: node }\ntasks: []\n');
    const error = await catchError(readWorkflowFile(path));
    expect(error).toMatchObject({ code: 'YAML_SYNTAX', line: 4 });
    expect(error.message).toBe(`${path}: line 4, column 3: Map keys must be unique`);
  });

  it('rejects a file with more than one YAML document', async () => {
    const error = await catchError(readWorkflowFile(await writeWorkflow('two.yaml', `${VALID_YAML}---\nname: y\n`)));
    expect(error.code).toBe('YAML_SYNTAX');
    expect(error.message).toContain('one YAML document');
  });

  it('reports a JSON syntax error with its line', async () => {
    const path = await writeWorkflow('broken.json', '{\n  "name": "x",\n  "servers": {,\n}\n');
    const error = await catchError(readWorkflowFile(path));
    expect(error).toMatchObject({ code: 'YAML_SYNTAX', file: path, line: 3 });
    expect(error.message).toMatch(new RegExp(`^${escapeRegExp(path)}: line 3: invalid JSON: `));
  });

  it('reports an empty file as an invalid workflow', async () => {
    const path = await writeWorkflow('empty.yaml', '# nothing yet\n');
    const error = await catchError(readWorkflowFile(path));
    expect(error.code).toBe('INVALID_WORKFLOW');
    expect(error.message).toBe(`${path}: expected a workflow (a mapping with servers and tasks), got nothing`);
  });
});

describe('readWorkflowFile: validation errors', () => {
  it('reports the line of an unknown key', async () => {
    const path = await writeWorkflow('typo.yaml', 'name: x\nservers:\n  fs:\n    comand: npx\ntasks:\n  - { id: a, server: fs, tool: t }\n');
    const error = await catchError(readWorkflowFile(path));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', file: path, field: 'servers.fs.comand', line: 4 });
    expect(error.message.split('\n')[0]).toBe(`${path}: servers.fs.comand: unknown field; did you mean "command"?`);
  });

  it('reports the line of a wrong value', async () => {
    const path = await writeWorkflow('wrong.yaml', 'name: x\nservers:\n  fs: { command: npx }\ntasks:\n  - id: a\n    server: fs\n    tool: 7\n');
    const error = await catchError(readWorkflowFile(path));
    expect(error).toMatchObject({ field: 'tasks[0].tool', line: 7 });
  });

  it('reports the line of the enclosing entry when a field is missing', async () => {
    const path = await writeWorkflow('missing.yaml', 'name: x\nservers:\n  fs: { command: npx }\ntasks:\n  - id: a\n    server: fs\n    tool: t\n  - id: b\n    server: fs\n');
    const error = await catchError(readWorkflowFile(path));
    expect(error).toMatchObject({ field: 'tasks[1].tool', line: 8 });
  });

  it('reports the line of a reference problem', async () => {
    const path = await writeWorkflow('ref.yaml', 'name: x\nservers:\n  fs: { command: npx }\ntasks:\n  - id: a\n    server: fz\n    tool: t\n');
    const error = await catchError(readWorkflowFile(path));
    expect(error).toMatchObject({ field: 'tasks[0].server', line: 6 });
    expect(error.message).toBe(`${path}: tasks[0].server: unknown server "fz" (servers: fs)`);
  });

  it('reports the line of a validation error in a JSON file', async () => {
    const path = await writeWorkflow('wrong.json', '{\n  "servers": { "fs": { "command": "npx" } },\n  "tasks": [\n    { "id": "a", "server": "fs", "tool": 7 }\n  ]\n}\n');
    const error = await catchError(readWorkflowFile(path));
    expect(error).toMatchObject({ code: 'INVALID_WORKFLOW', field: 'tasks[0].tool', line: 4 });
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
