/**
 * The coordination demo (examples/coordination), run as a user runs it —
 * `node examples/coordination/run-demo.mjs --json` — on a fresh copy: real
 * Claude Code MCP, the SQLite MCP server from npm, and the API gateway in
 * front of the local HTTP API the runner starts. Once with the API refusing
 * orders (the saga deletes the row), then normally in the same folder (so
 * the table holds only the new row).
 */
import { execFile } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import type { RunReport } from '../../src/index.js';
import { taskOf } from '../support/bus-record.js';
import { createTempDir, ROOT } from '../support/fixture.js';

const run = promisify(execFile);
/** Claude Code takes a few seconds to start. */
const TIMEOUT = 90_000;

const sandbox = createTempDir('ensemble-coordination-demo-');
afterAll(() => sandbox.remove());
const folder = join(sandbox.dir, 'examples/coordination');
mkdirSync(folder, { recursive: true });
symlinkSync(join(ROOT, 'node_modules'), join(sandbox.dir, 'node_modules'), 'dir');
symlinkSync(join(ROOT, 'bin'), join(sandbox.dir, 'bin'), 'dir');
for (const name of readdirSync(join(ROOT, 'examples/coordination'))) {
  if (name.endsWith('.mjs') || name.endsWith('.yaml')) copyFileSync(join(ROOT, 'examples/coordination', name), join(folder, name));
}

async function runDemo(...flags: string[]): Promise<{ code: number; report: RunReport }> {
  const env = { ...process.env, ENSEMBLE_FROM_SOURCE: '1', NO_COLOR: '1' };
  try {
    const { stdout } = await run(process.execPath, [join(folder, 'run-demo.mjs'), ...flags, '--json'], { env, timeout: TIMEOUT });
    return { code: 0, report: JSON.parse(stdout) as RunReport };
  } catch (error) {
    const failed = error as { code?: number; stdout?: string };
    if (typeof failed.code !== 'number' || !failed.stdout) throw error;
    return { code: failed.code, report: JSON.parse(failed.stdout) as RunReport };
  }
}

describe('the coordination demo', () => {
  it('with --fail-api: the API step fails, the run stops and the saga deletes the database row', async () => {
    const { code, report } = await runDemo('--fail-api');
    expect(code).not.toBe(0);
    expect(report.pattern).toBe('multi-server');
    expect(report.status).toBe('failed');
    expect(taskOf(report, 'row').status).toBe('completed');
    expect(taskOf(report, 'order')).toMatchObject({ status: 'failed', server: 'gateway' });
    expect(taskOf(report, 'order').text).toContain('HTTP 503');
    expect(taskOf(report, 'receipt').status).toBe('skipped');
    expect(report.compensations).toEqual([{ task: 'row', server: 'database', tool: 'write_query', status: 'compensated', text: expect.stringContaining('"id": 1') }]);
  }, TIMEOUT);

  it('normally: the row id flows to the API, the order id to Claude Code, and the table holds only the new row', async () => {
    const { code, report } = await runDemo();
    expect(code).toBe(0);
    expect(report.status).toBe('completed');
    // Routed by capability: the task named only create_order.
    expect(taskOf(report, 'order')).toMatchObject({ server: 'gateway', status: 'completed' });
    expect(report.compensations).toBeUndefined();
    // The compensated row of the first run is gone: this insert is the only row.
    expect(taskOf(report, 'rows').json).toEqual([{ count: 1 }]);
    expect(readFileSync(join(folder, 'workspace/receipt.md'), 'utf8')).toMatch(/^Order ord-1: espresso machine \(database row \d+\)\n$/);
    expect(report.servers?.map((share) => [share.name, share.state, share.errors])).toEqual([
      ['database', 'serving', 0],
      ['gateway', 'serving', 0],
      ['claude', 'serving', 0],
    ]);
    expect(report.output).toContain('became order ord-1 at the API');
  }, TIMEOUT);
});
