// Ensemble is an ES module package (its dependencies xstate and the MCP SDK are loaded as ESM
// and its API uses top-level ESM features). `require('ensemble')` lands here, to say so plainly
// instead of failing deep inside a dependency.
throw new Error(
  "ensemble is an ES module: use `import { runWorkflow } from 'ensemble'`, or from CommonJS " +
    "`const { runWorkflow } = await import('ensemble')`. (Node 20.19+ can also require() ES " +
    'modules, but this package does not rely on it.)',
);
