/**
 * The backends' live sessions, found through the server directory. The
 * aggregator forwards requests through a member's SDK client itself (not the
 * call router) so results, errors and progress pass through unchanged, and a
 * call to a server with no live member answers at once instead of waiting for
 * a recovery.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { McpConnection } from '../../actors/mcp-connection.js';
import type { ServerDirectory } from '../engine/server-directory.js';
import type { Member } from '../engine/call-router.js';

export interface BackendSession {
  server: string;
  member: Member;
  client: Client;
}

/** The least busy serving member of a server, or undefined when none serves now. */
export function pickBackend(directory: ServerDirectory, server: string): BackendSession | undefined {
  let best: Member | undefined;
  let client: Client | undefined;
  for (const member of directory.router.pool(server)?.members ?? []) {
    if (member.state !== 'serving' || !(member.session instanceof McpConnection)) continue;
    if (!best || member.inFlight < best.inFlight) {
      best = member;
      client = member.session.sdkClient;
    }
  }
  return best && client ? { server, member: best, client } : undefined;
}

/** Runs a request on a backend, counted as in flight so the router's balancing sees it. */
export async function withBackend<T>(backend: BackendSession, run: (client: Client) => Promise<T>): Promise<T> {
  backend.member.inFlight++;
  try {
    return await run(backend.client);
  } finally {
    backend.member.inFlight--;
  }
}
