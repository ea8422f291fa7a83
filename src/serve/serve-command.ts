/**
 * `ensemble serve`: the aggregator over the servers of a config file, over
 * stdio (the default: stdout carries the protocol, so everything said goes to
 * stderr) or Streamable HTTP with `--http HOST:PORT` (endpoint `/mcp`; one
 * stdout line says where it listens; loopback unless told otherwise, and
 * never anything else without a bearer token, read from the environment
 * variable `--token-env` names). Resolves once serving has ended: stdin
 * closed (stdio), or SIGINT / SIGTERM; every backend process is gone by then.
 */
import process from 'node:process';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { EnsembleError } from '../core/errors.js';
import { createAggregator } from './create-aggregator.js';
import { isLoopbackHost } from './http-guard.js';

export interface ServeCommandOptions {
  /** A config file: `servers` as in workflow files, or `mcpServers` JSON. */
  config: string;
  /** `HOST:PORT` (`PORT` alone binds 127.0.0.1) to serve Streamable HTTP instead of stdio. */
  http?: string;
  /** Accept every tool whose description or schema changed since it was pinned (and re-pin it). */
  acceptChanged?: boolean;
  /** A folder of workflow files, each served as a tool `workflow__<name>`. */
  workflows?: string;
  /** The environment variable holding the HTTP bearer token (default `ENSEMBLE_TOKEN`); checked whenever it is set. */
  tokenEnv?: string;
}

export const DEFAULT_TOKEN_ENV = 'ENSEMBLE_TOKEN';

export async function serveCommand(opts: ServeCommandOptions): Promise<void> {
  const http = opts.http === undefined ? undefined : parseHostPort(opts.http);
  const tokenEnv = opts.tokenEnv ?? DEFAULT_TOKEN_ENV;
  const token = process.env[tokenEnv] || undefined;
  // Checked before any backend starts: a server that must not listen should not spawn anything either.
  if (http && !isLoopbackHost(http.host) && token === undefined) {
    throw new EnsembleError(
      'USAGE',
      `refusing to serve HTTP on ${http.host}, which is not a loopback address, without a bearer token: set the environment variable ${tokenEnv} (or name another with --token-env), or bind 127.0.0.1`,
      { field: 'http' },
    );
  }
  const aggregator = createAggregator({
    config: opts.config,
    ...(opts.acceptChanged ? { acceptChanged: true } : {}),
    ...(opts.workflows !== undefined ? { workflows: opts.workflows } : {}),
    log: (line) => process.stderr.write(`ensemble serve: ${line}\n`),
  });
  let finish!: () => void;
  const ended = new Promise<void>((resolve) => (finish = resolve));
  const stop = () => finish();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    // A client lists tools once it connects: let every backend serve (or fail) first, so that list is whole.
    await aggregator.ready();
    if (http) {
      const listener = await aggregator.listen({ http: { ...http, ...(token !== undefined ? { token } : {}) } });
      process.stdout.write(`listening ${listener.url}\n`);
    } else {
      const transport = new StdioServerTransport();
      transport.onclose = stop;
      // The SDK's stdio transport does not notice its client going away: stdin's end is the sign.
      process.stdin.once('end', stop);
      process.stdin.once('close', stop);
      await aggregator.connect(transport);
    }
    await ended;
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await aggregator.close();
  }
}

/** `HOST:PORT`, `[::1]:PORT` or `PORT`. */
export function parseHostPort(text: string): { host: string; port: number } {
  const match = /^(?:(\[[^\]]+\]|[^:\s]+):)?(\d{1,5})$/.exec(text.trim());
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new EnsembleError('USAGE', `--http takes HOST:PORT (or PORT alone for 127.0.0.1), got "${text}"`, { field: 'http' });
  const host = match[1]?.replace(/^\[(.*)\]$/, '$1') ?? '127.0.0.1';
  return { host, port };
}
