/**
 * Helpers for tests that run workflows on the real fixture server.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURE_SERVER = join(ROOT, 'test/fixtures/fixture-server.mjs');

/** A stdio server entry for the fixture, with flags. */
export function fixtureServer(...flags: string[]): { command: string; args: string[] } {
  return { command: process.execPath, args: [FIXTURE_SERVER, ...flags] };
}

/** A temporary folder removed by the returned function. */
export function createTempDir(prefix = 'ensemble-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** True while a process exists and is not a zombie waiting to be reaped. */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
