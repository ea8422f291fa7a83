/**
 * Streamable HTTP at `http://HOST:PORT/mcp`: one SDK transport and one
 * `Server` per client session (created at `initialize`, found again by its
 * `mcp-session-id`), all over the same backends. Every request passes the
 * guard first (Host, Origin, bearer token: see `http-guard.ts`). Bodies are
 * bounded (413) and a body that is not JSON gets a JSON-RPC parse error; the
 * listener keeps serving either way.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { createHttpGuard } from './http-guard.js';

export interface HttpListener {
  /** `http://host:port/mcp`, with the port actually bound. */
  readonly url: string;
  close(): Promise<void>;
}

export interface HttpEndpointConfig {
  host: string;
  port: number;
  createSession(): Server;
  /** Largest request body accepted (default 4 MiB). */
  maxBodyBytes?: number;
  /** A bearer token every request must carry. */
  token?: string;
}

class HttpProblem extends Error {
  constructor(
    readonly status: number,
    readonly rpcCode: number,
    message: string,
  ) {
    super(message);
  }
}

export async function listenHttp(config: HttpEndpointConfig): Promise<HttpListener> {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  const maxBodyBytes = config.maxBodyBytes ?? 4 * 1024 * 1024;

  const openSession = async (): Promise<StreamableHTTPServerTransport> => {
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (id) => void transports.set(id, transport) });
    transport.onclose = () => {
      if (transport.sessionId) transports.delete(transport.sessionId);
    };
    await config.createSession().connect(transport);
    return transport;
  };

  let guard = createHttpGuard({ host: config.host, port: config.port, ...(config.token !== undefined ? { token: config.token } : {}) });
  const route = async (req: IncomingMessage, res: ServerResponse) => {
    const verdict = guard(req);
    if (!verdict.ok) throw new HttpProblem(verdict.status, -32000, verdict.message);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) throw new HttpProblem(413, -32600, `request body over ${maxBodyBytes} bytes`);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/mcp') throw new HttpProblem(404, -32000, `not found: ${url.pathname} (the MCP endpoint is /mcp)`);
    const header = req.headers['mcp-session-id'];
    const sessionId = Array.isArray(header) ? header[0] : header;
    const body = req.method === 'POST' ? await readJsonBody(req, maxBodyBytes) : undefined;
    if (sessionId !== undefined) {
      const transport = transports.get(sessionId);
      if (!transport) throw new HttpProblem(404, -32001, 'session not found (it ended, or this server restarted): initialize again');
      await transport.handleRequest(req, res, body);
      return;
    }
    if (req.method === 'POST' && isInitializeRequest(body)) {
      await (await openSession()).handleRequest(req, res, body);
      return;
    }
    throw new HttpProblem(400, -32000, 'bad request: no mcp-session-id header, and the body is not an initialize request');
  };

  const http = createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      const problem = error instanceof HttpProblem ? error : new HttpProblem(500, -32603, error instanceof Error ? error.message : String(error));
      if (res.headersSent) {
        res.end();
        return;
      }
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (problem.status === 401) headers['www-authenticate'] = 'Bearer';
      if (!req.complete) discardBody(req, maxBodyBytes);
      res.writeHead(problem.status, headers);
      res.end(JSON.stringify({ jsonrpc: '2.0', error: { code: problem.rpcCode, message: problem.message }, id: null }));
    });
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(config.port, config.host, () => {
      http.off('error', reject);
      resolve();
    });
  });
  const address = http.address() as AddressInfo;
  // Port 0 picked a port: the Host header carries the real one.
  guard = createHttpGuard({ host: config.host, port: address.port, ...(config.token !== undefined ? { token: config.token } : {}) });
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}/mcp`,
    close() {
      closing ??= (async () => {
        await Promise.allSettled([...transports.values()].map((transport) => transport.close()));
        await new Promise<void>((resolve) => {
          http.close(() => resolve());
          http.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

/**
 * Reads a body of at most `limit` bytes. Past the limit it stops keeping
 * what arrives but lets it drain (see `discardBody`), so the client can read
 * the 413 instead of failing to write into a closed socket.
 */
function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer | string) => {
      const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
      size += buffer.length;
      if (size > limit) {
        cleanup();
        reject(new HttpProblem(413, -32600, `request body over ${limit} bytes`));
        return;
      }
      chunks.push(buffer);
    };
    const onEnd = () => {
      cleanup();
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new HttpProblem(400, -32700, 'parse error: the body is not JSON'));
      }
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
  });
}

/** How much of a refused body is drained before the connection is cut instead. */
const DRAIN_FACTOR = 4;

/** Drops the rest of a refused body as it arrives, up to a bound past which the socket is closed. */
function discardBody(req: IncomingMessage, limit: number): void {
  let drained = 0;
  req.on('data', (chunk: Buffer | string) => {
    drained += chunk.length;
    if (drained > DRAIN_FACTOR * limit) req.socket.destroy();
  });
  req.resume();
}
