/**
 * Help, version and usage errors answer without loading the engine: `ensemble --help` (and a
 * command's `--help`, `help <command>`, `--version`, an unknown flag) must not import XState, the
 * MCP SDK, zod, the machines or src/engine. A module hook in the real CLI process records every
 * module it resolves.
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { createTempDir, ROOT } from '../support/fixture.js';

const exec = promisify(execFile);
const temp = createTempDir('ensemble-lazy-');
afterAll(() => temp.remove());

// A resolve hook (it runs on Node's hooks thread) that appends each resolved URL to a file.
const hooks = join(temp.dir, 'record-hooks.mjs');
writeFileSync(
  hooks,
  `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.ENSEMBLE_TEST_MODULE_LOG, resolved.url + '\\n');
  return resolved;
}
`,
);
const register = join(temp.dir, 'register-hooks.mjs');
writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(hooks).href)});\n`);

/** The modules the CLI resolved for `args`, whatever its exit status. */
async function modulesLoadedBy(name: string, ...args: string[]): Promise<string[]> {
  const log = join(temp.dir, `${name}.log`);
  writeFileSync(log, '');
  const env = { ...process.env, ENSEMBLE_TEST_MODULE_LOG: log };
  await exec(process.execPath, ['--import', pathToFileURL(register).href, join(ROOT, 'bin/ensemble.js'), ...args], { cwd: temp.dir, env }).catch(() => undefined);
  return readFileSync(log, 'utf8').split('\n').filter(Boolean);
}

const HEAVY = [/\/node_modules\/xstate\//, /\/node_modules\/@modelcontextprotocol\//, /\/node_modules\/zod\//, /\/node_modules\/rxjs\//, /\/machines\//, /\/src\/engine\//, /\/actors\//];

describe('commands load only when they run', () => {
  it.each([
    ['help', ['--help']],
    ['version', ['--version']],
    ['run-help', ['run', '--help']],
    ['help-tools', ['help', 'tools']],
    ['explain-help', ['explain', '--help']],
    ['unknown-flag', ['run', 'flow.yaml', '--jsn']],
  ])('%s loads neither the engine, XState, the SDK nor zod', async (name, args) => {
    const loaded = await modulesLoadedBy(name, ...args);
    // The hook saw the CLI itself: the check is not vacuous.
    expect(loaded.some((url) => url.endsWith('/src/cli/main.ts') || url.endsWith('/src/cli/main.js'))).toBe(true);
    expect(loaded.filter((url) => HEAVY.some((pattern) => pattern.test(url)))).toEqual([]);
  });
});
