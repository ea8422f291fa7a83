#!/usr/bin/env node
// Runs the compiled CLI from dist/ (built by `npm run build`, which `npm install` runs through
// `prepare`). ENSEMBLE_FROM_SOURCE=1 runs the TypeScript sources through tsx instead: that is
// what `npm run dev` and the test suite do, so a change needs no rebuild while developing.
import { existsSync } from 'node:fs';

const compiled = new URL('../dist/src/cli/main.js', import.meta.url);

if (process.env.ENSEMBLE_FROM_SOURCE === '1') {
  // tsx is a development dependency: only a checkout has it.
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
} else if (existsSync(compiled)) {
  await import(compiled.href);
} else {
  process.stderr.write(
    'ensemble: the compiled CLI (dist/) is missing. In a checkout run `npm run build` first, ' +
      'or ENSEMBLE_FROM_SOURCE=1 to run the sources through tsx.\n',
  );
  process.exit(1);
}
