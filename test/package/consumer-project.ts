/**
 * A fresh Node project that installs Ensemble's packed tarball offline, as a user's would.
 *
 * `npm install <tarball>` needs the registry's package documents to resolve version ranges, and
 * `npm ci` caches only tarballs, so an offline install of ranges fails (ENOTCACHED). A lockfile
 * needs no resolution: this one takes Ensemble's own lockfile entries for its runtime
 * dependencies (the ones not marked `dev`), plus `@types/node` and `typescript` for the
 * TypeScript consumers, and points `ensemble` at the tarball. `npm ci --offline` then installs
 * exactly what a user would get, from the local cache.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

interface LockEntry {
  version?: string;
  resolved?: string;
  integrity?: string;
  dev?: boolean;
  dependencies?: Record<string, string>;
  [field: string]: unknown;
}

interface Lockfile {
  packages: Record<string, LockEntry>;
}

/** Packages a TypeScript consumer adds itself, taken from our lockfile at the same versions. */
const CONSUMER_TOOLS = ['typescript', '@types/node', 'undici-types'];

/** Writes package.json and package-lock.json for a project depending on `tarball` only. */
export function writeConsumerProject(dir: string, tarball: string, repoRoot: string): void {
  const lock = JSON.parse(readFileSync(join(repoRoot, 'package-lock.json'), 'utf8')) as Lockfile;
  const ours = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
    version: string;
    dependencies: Record<string, string>;
    bin: Record<string, string>;
    engines: Record<string, string>;
  };
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  const file = `file:${basename(tarball)}`;

  const packages: Record<string, LockEntry> = {};
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '') continue;
    const tool = CONSUMER_TOOLS.some((name) => path === `node_modules/${name}`);
    if (entry.dev && !tool) continue;
    const { dev: _dev, ...kept } = entry;
    packages[path] = kept;
  }
  const toolVersions = Object.fromEntries(
    ['typescript', '@types/node'].map((name) => [name, packages[`node_modules/${name}`]?.version ?? 'missing']),
  );
  packages['node_modules/ensemble'] = {
    version: ours.version,
    resolved: file,
    integrity,
    license: 'MIT',
    dependencies: ours.dependencies,
    bin: ours.bin,
    engines: ours.engines,
  };
  const manifest = { name: 'consumer', version: '1.0.0', private: true, dependencies: { ensemble: file, ...toolVersions } };
  packages[''] = { name: manifest.name, version: manifest.version, dependencies: manifest.dependencies };

  writeFileSync(join(dir, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(dir, 'package-lock.json'), `${JSON.stringify({ name: 'consumer', version: '1.0.0', lockfileVersion: 3, requires: true, packages }, null, 2)}\n`);
}

/** Installs the project offline, from the local npm cache, running no install scripts. */
export async function installOffline(dir: string): Promise<void> {
  await exec('npm', ['ci', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: dir });
}
