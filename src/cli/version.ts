/**
 * The package's version, read from its package.json at run time so `--version` can never drift
 * from what is installed. The CLI runs from src/cli (tsx) or dist/src/cli (compiled): the nearest
 * package.json named `ensemble` above this file is the package's own in both.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function readVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (manifest.name === 'ensemble' && typeof manifest.version === 'string') return manifest.version;
    } catch {
      // no package.json here (or not ours): keep looking upward
    }
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
}
