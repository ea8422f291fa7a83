/**
 * `ensemble serve`: Ensemble as one MCP server over the servers of a config file (see
 * src/serve/). The command line only; the aggregator itself lives in src/serve.
 */
import { EnsembleError } from '../core/errors.js';
import { serveCommand as serve } from '../serve/serve-command.js';
import { defineCliCommand } from './cli-command.js';

export const serveCommand = defineCliCommand({
  name: 'serve',
  usage: 'serve --config <file> [options]',
  summary: 'Serve every server of a config as one MCP server (stdio, or Streamable HTTP with --http)',
  options: {
    config: { type: 'string', valueHint: 'file', description: 'servers as in a workflow file, or the mcpServers JSON of Claude Code, Claude Desktop or Cursor' },
    http: { type: 'string', valueHint: 'host:port', description: 'serve Streamable HTTP at http://HOST:PORT/mcp instead of stdio (PORT alone: 127.0.0.1)' },
    'accept-changed': { type: 'boolean', description: 'accept tools whose description or schema changed since they were pinned' },
    workflows: { type: 'string', valueHint: 'dir', description: 'serve every workflow file in DIR as a tool workflow__<name>, taking its inputs' },
    'token-env': { type: 'string', valueHint: 'name', description: 'environment variable holding the HTTP bearer token (default ENSEMBLE_TOKEN); required to bind a non-loopback host' },
  },
  examples: [
    'claude mcp add ensemble -- npx ensemble serve --config ~/servers.json',
    'ensemble serve --config servers.json --http 127.0.0.1:8931',
    'ENSEMBLE_TOKEN=s3cret ensemble serve --config servers.json --workflows flows/ --http 0.0.0.0:8931',
  ],
  async run(args) {
    if (args.config === undefined) throw new EnsembleError('USAGE', 'serve: --config <file> is required; see `ensemble serve --help`', { field: '--config' });
    await serve({
      config: args.config,
      ...(args.http !== undefined ? { http: args.http } : {}),
      ...(args['accept-changed'] === true ? { acceptChanged: true } : {}),
      ...(args.workflows !== undefined ? { workflows: args.workflows } : {}),
      ...(args['token-env'] !== undefined ? { tokenEnv: args['token-env'] } : {}),
    });
  },
});
