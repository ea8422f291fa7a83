/**
 * Ensemble as a user gets it: the packed tarball, installed into a fresh project offline, loaded by
 * plain Node (ESM and CommonJS) and type-checked by TypeScript consumers against its `.d.ts`.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURE_SERVER, ROOT, createTempDir } from '../support/fixture.js';
import { installOffline, writeConsumerProject } from './consumer-project.js';

const exec = promisify(execFile);
const temp = createTempDir('ensemble-pack-');
const project = join(temp.dir, 'consumer');
let tarballEntries: string[] = [];

/** The environment of a user's shell: the compiled code, never the sources through tsx. */
function userEnv(): NodeJS.ProcessEnv {
  const { ENSEMBLE_FROM_SOURCE: _fromSource, ...env } = process.env;
  return env;
}

async function node(file: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec(process.execPath, [file, ...args], { cwd: project, env: userEnv() });
  return stdout;
}

/** Type-checks `consumer.ts` in its own folder (with its own package.json `type`) under `options`. */
async function typeCheck(folder: string, type: 'module' | 'commonjs', source: string, options: Record<string, unknown>): Promise<{ code: number; output: string }> {
  const dir = join(project, folder);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type }));
  writeFileSync(join(dir, 'consumer.ts'), source);
  const compilerOptions = { target: 'ES2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'], ...options };
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, include: ['consumer.ts'] }));
  try {
    const { stdout } = await exec(join(project, 'node_modules/.bin/tsc'), ['-p', dir], { cwd: dir });
    return { code: 0, output: stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, output: failed.stdout };
  }
}

beforeAll(async () => {
  // `npm pack` runs `prepare`, which builds dist/: the tarball is what `npm publish` would send.
  const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', temp.dir], { cwd: ROOT, env: userEnv() });
  const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as { filename: string; files: { path: string }[] }[];
  if (!packed) throw new Error(`npm pack printed no tarball: ${stdout}`);
  tarballEntries = packed.files.map((file) => file.path);
  mkdirSync(project);
  const tarball = join(project, packed.filename);
  await exec('mv', [join(temp.dir, packed.filename), tarball]);
  writeConsumerProject(project, tarball, ROOT);
  await installOffline(project);
}, 180_000);

afterAll(() => temp.remove());

describe('the packed tarball', () => {
  it('holds the compiled code, its declarations, the CLI and the README, and nothing else', () => {
    expect(tarballEntries).toEqual(expect.arrayContaining(['package.json', 'README.md', 'bin/ensemble.js', 'cjs/require-error.cjs', 'dist/src/index.js', 'dist/src/index.d.ts', 'dist/src/cli/main.js']));
    const unexpected = tarballEntries.filter((path) => !/^(dist\/.+\.(js|d\.ts|js\.map)|bin\/ensemble\.js|cjs\/require-error\.cjs|README\.md|package\.json)$/.test(path));
    expect(unexpected).toEqual([]);
    expect(tarballEntries.filter((path) => /^(test|bench|\.ci|src|machines|actors|examples|scripts)\//.test(path))).toEqual([]);
  });
});

describe('a fresh project that installed the tarball', () => {
  it('runs a workflow from a plain .mjs through runWorkflow, on a real server', async () => {
    writeFileSync(
      join(project, 'run.mjs'),
      `import { runWorkflow } from 'ensemble';
const report = await runWorkflow({
  name: 'from-a-package',
  servers: { fx: { command: process.execPath, args: [process.argv[2]] } },
  tasks: [{ id: 'hello', server: 'fx', tool: 'echo', args: { text: 'hello from the tarball' } }],
});
console.log(JSON.stringify({ status: report.status, text: report.tasks[0].text }));
`,
    );
    expect(JSON.parse(await node('run.mjs', FIXTURE_SERVER))).toEqual({ status: 'completed', text: 'hello from the tarball' });
  });

  it('tells a CommonJS require() to use import, and import() from CommonJS works', async () => {
    writeFileSync(
      join(project, 'run.cjs'),
      `let message = 'loaded';
try { require('ensemble'); } catch (error) { message = error.message; }
import('ensemble').then((api) => console.log(JSON.stringify({ message, runWorkflow: typeof api.runWorkflow })));
`,
    );
    const out = JSON.parse(await node('run.cjs')) as { message: string; runWorkflow: string };
    expect(out.message).toMatch(/ensemble is an ES module: use `import \{ runWorkflow \} from 'ensemble'`/);
    expect(out.runWorkflow).toBe('function');
  });

  it('runs a workflow file through the installed ensemble command, which runs the compiled CLI', async () => {
    writeFileSync(
      join(project, 'flow.json'),
      JSON.stringify({
        name: 'cli-from-a-package',
        servers: { fx: { command: process.execPath, args: [FIXTURE_SERVER] } },
        tasks: [{ id: 'hello', server: 'fx', tool: 'echo', args: { text: 'hi' } }],
      }),
    );
    const { stdout } = await exec(join(project, 'node_modules/.bin/ensemble'), ['run', 'flow.json', '--json'], { cwd: project, env: userEnv() });
    const report = JSON.parse(stdout) as { status: string; tasks: { text: string }[] };
    expect(report.status).toBe('completed');
    expect(report.tasks[0]?.text).toBe('hi');
  });

  const esmConsumer = `import { runWorkflow, createEnsemble, isEnsembleError, type RunReport, type TaskReport, type BusEvent } from 'ensemble';
export async function main(): Promise<string> {
  const report: RunReport = await runWorkflow({ name: 'typed', servers: { fx: { command: 'node', args: ['server.mjs'] } }, tasks: [{ id: 'a', server: 'fx', tool: 'echo', args: {} }] });
  const first: TaskReport | undefined = report.tasks[0];
  const ensemble = createEnsemble({ servers: {} });
  await ensemble.close();
  const seen: BusEvent[] = [];
  return [report.status, first?.text, seen.length, isEnsembleError(null)].join(' ');
}
`;

  it('type-checks a TypeScript consumer under module nodenext with skipLibCheck false', async () => {
    expect(await typeCheck('ts-nodenext', 'module', esmConsumer, { module: 'nodenext', moduleResolution: 'nodenext' })).toEqual({ code: 0, output: '' });
  });

  it('type-checks a CommonJS TypeScript consumer under module node16 with moduleResolution node16', async () => {
    // `module: commonjs` with `moduleResolution: node16` is refused by TypeScript 5.9 itself
    // (TS5110: module must be Node16 when moduleResolution is). Its legal form is `module: node16`
    // in a CommonJS package: types come in with `resolution-mode: import`, the code with import().
    const source = `import type { RunReport } from 'ensemble' with { 'resolution-mode': 'import' };
export async function statusOf(file: string): Promise<string> {
  const { readWorkflowFile, runWorkflow } = await import('ensemble');
  const report: RunReport = await runWorkflow(await readWorkflowFile(file));
  return report.status;
}
`;
    expect(await typeCheck('ts-node16-cjs', 'commonjs', source, { module: 'node16', moduleResolution: 'node16' })).toEqual({ code: 0, output: '' });
  });

  it('type-checks a consumer under module commonjs (with the classic node resolution, which reads "types")', async () => {
    const source = `import type { RunReport, TaskReport } from 'ensemble';
export function summary(report: RunReport): string {
  return report.tasks.map((task: TaskReport) => task.id + ':' + task.status).join(', ');
}
`;
    // esModuleInterop as \`tsc --init\` sets it: without it zod's own .d.cts fails (TS1259), not ours.
    expect(await typeCheck('ts-commonjs', 'commonjs', source, { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: true })).toEqual({ code: 0, output: '' });
  });
});
