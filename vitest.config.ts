import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Tests start real server processes (Claude Code among them): give them room on a 2-core machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // The CLI (bin/ensemble.js) runs dist/ by default; tests run the sources, so no build is needed
    // and a stale dist/ can never hide a change. The pack-and-install test covers the compiled code.
    env: { ENSEMBLE_FROM_SOURCE: '1' },
  },
});
