#!/usr/bin/env node
/**
 * Runs the coordination demo: starts the local HTTP API (local-api.mjs),
 * waits for its `listening` line, runs the workflow with the API's URL in
 * API_BASE_URL, then stops the API. Exit status is the run's.
 *
 *   node examples/coordination/run-demo.mjs [--fail-api] [ensemble run options…]
 *
 * `--fail-api` (or DEMO_FAIL_API=1) starts the API so that it refuses orders:
 * the `order` task fails, the run stops, and the saga deletes the database
 * row that `row` inserted.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const failApi = argv.includes('--fail-api') || ['1', 'true', 'yes'].includes(process.env.DEMO_FAIL_API ?? '');
const passOn = argv.filter((arg) => arg !== '--fail-api');

const api = spawn(process.execPath, [join(here, 'local-api.mjs'), ...(failApi ? ['--fail'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
const lines = createInterface({ input: api.stdout });
const url = await new Promise((resolve, reject) => {
  lines.once('line', (line) => resolve(line.replace(/^listening /, '')));
  api.once('exit', (code) => reject(new Error(`the local API exited (${code}) before it listened`)));
});
process.stderr.write(`  local API at ${url}${failApi ? ' (refusing orders: --fail-api)' : ''}\n`);

const run = spawn(process.execPath, [join(here, '../../bin/ensemble.js'), 'run', join(here, 'workflow.yaml'), ...passOn], {
  stdio: 'inherit',
  env: { ...process.env, API_BASE_URL: url },
});
const [code] = await once(run, 'exit');
api.kill('SIGTERM');
await once(api, 'exit');
process.exitCode = typeof code === 'number' ? code : 1;
