/**
 * `ensemble serve`: the aggregator over the servers of a config file, over
 * stdio (the default: stdout carries the protocol, so everything said goes to
 * stderr) or Streamable HTTP with `--http HOST:PORT` (endpoint `/mcp`; one
 * stdout line says where it listens). Resolves once serving has ended: stdin
 * closed (stdio), or SIGINT / SIGTERM; every backend process is gone by then.
 */
import process from 'node:process';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { EnsembleError } from '../core/errors.js';
import { createAggregator } from './create-aggregator.js';

export interface ServeCommandOptions {
  /** A config file: `servers` as in workflow files, or `mcpServers` JSON. */
  config: string;
  /** `HOST:PORT` (`PORT` alone binds 127.0.0.1) to serve Streamable HTTP instead of stdio. */
  http?: string;
  /** Accept every tool whose description or schema changed since it was pinned (and re-pin it). */
  acceptChanged?: boolean;
}

export async function serveCommand(opts: ServeCommandOptions): Promise<void> {
  const http = opts.http === undefined ? undefined : parseHostPort(opts.http);
  const aggregator = createAggregator({
    config: opts.config,
    ...(opts.acceptChanged ? { acceptChanged: true } : {}),
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
      const listener = await aggregator.listen({ http });
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
