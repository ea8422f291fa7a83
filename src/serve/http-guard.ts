/**
 * Who may talk to the Streamable HTTP endpoint, checked before a request
 * reaches a session:
 * - the `Host` header must name this server (the bound host and port, or
 *   `localhost` / `127.0.0.1` / `[::1]` with the port): a DNS-rebinding page
 *   reaches a loopback server under its own name and is refused (403);
 * - an `Origin` header, when a browser sends one, must be such a host too
 *   (403 otherwise: another site's page);
 * - with a token, `Authorization: Bearer <token>` must carry it (401).
 * A server bound to a wildcard address (`0.0.0.0`, `::`) is reached under
 * names it cannot know: it takes any `Host` and an `Origin` equal to it, and
 * is never started without a token (see `serve-command.ts`).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface HttpGuardConfig {
  /** The host as bound (`127.0.0.1`, `::1`, `localhost`, `0.0.0.0`, …). */
  host: string;
  port: number;
  /** The bearer token every request must carry; none: no token is asked for. */
  token?: string;
}

export type GuardVerdict = { ok: true } | { ok: false; status: 401 | 403; message: string };

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];
const WILDCARDS = new Set(['0.0.0.0', '::', '[::]']);

/** True for an address only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

export function createHttpGuard(config: HttpGuardConfig): (req: IncomingMessage) => GuardVerdict {
  const bound = config.host.includes(':') && !config.host.startsWith('[') ? `[${config.host}]` : config.host;
  const wildcard = WILDCARDS.has(bound);
  const allowed = new Set([bound, ...LOOPBACK_NAMES].map((host) => `${host.toLowerCase()}:${config.port}`));
  const expected = config.token === undefined ? undefined : digest(config.token);

  return (req) => {
    const host = req.headers.host?.toLowerCase();
    if (host === undefined) return { ok: false, status: 403, message: 'forbidden: no Host header' };
    if (!wildcard && !allowed.has(host)) return { ok: false, status: 403, message: `forbidden: Host "${host}" is not this server (DNS-rebinding guard)` };
    const origin = req.headers.origin;
    if (origin !== undefined && origin !== 'null') {
      const originHost = hostOf(origin);
      const fits = originHost !== undefined && (wildcard ? originHost === host : allowed.has(originHost));
      if (!fits) return { ok: false, status: 403, message: `forbidden: Origin "${origin}" is not this server` };
    } else if (origin === 'null') {
      return { ok: false, status: 403, message: 'forbidden: Origin "null" (a sandboxed or file page)' };
    }
    if (expected !== undefined) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
      // Compared as digests of equal length, in constant time.
      if (!match || !timingSafeEqual(digest(match[1]!), expected)) return { ok: false, status: 401, message: 'unauthorized: a bearer token is required (Authorization: Bearer <token>)' };
    }
    return { ok: true };
  };
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** `host:port` of an origin (default ports filled in), or undefined when it is not an http(s) URL. */
function hostOf(origin: string): string | undefined {
  try {
    const url = new URL(origin);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    const port = url.port !== '' ? url.port : url.protocol === 'https:' ? '443' : '80';
    return `${url.hostname.toLowerCase()}:${port}`;
  } catch {
    return undefined;
  }
}
