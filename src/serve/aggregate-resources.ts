/**
 * Resources and resource templates of every serving backend, under URIs that
 * name their server (`ensemble://<server>/<encoded uri>`), and reads routed
 * back to the backend with its own URI. A backend that fails to list is left
 * out of that list; it does not fail the others.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { ErrorCode, McpError, type ListResourcesResult, type ListResourceTemplatesResult, type ReadResourceResult } from '@modelcontextprotocol/sdk/types.js';
import type { ServerDirectory } from '../engine/server-directory.js';
import { pickBackend, withBackend } from './backend-sessions.js';
import { describeFailure, isLocalFailure, toPassThroughError } from './backend-errors.js';
import { fromAggregateUri, toAggregateUri, toAggregateUriTemplate } from './resource-uris.js';

/** Pages read from one backend per list: bounded, since a backend's cursor is untrusted. */
const MAX_PAGES = 50;

export interface ResourceContext {
  directory: ServerDirectory;
  servers(): string[];
  timeoutOf(server: string): number;
}

export async function listAllResources(context: ResourceContext): Promise<ListResourcesResult> {
  const lists = await eachBackend(context, async (server, client, timeout) => {
    const resources = await readPages((cursor) => client.listResources(cursor === undefined ? undefined : { cursor }, { timeout }), (page) => page.resources);
    return resources.map((resource) => ({ ...resource, uri: toAggregateUri(server, resource.uri), description: origin(server, resource.description) }));
  });
  return { resources: lists.flat() };
}

export async function listAllResourceTemplates(context: ResourceContext): Promise<ListResourceTemplatesResult> {
  const lists = await eachBackend(context, async (server, client, timeout) => {
    const templates = await readPages((cursor) => client.listResourceTemplates(cursor === undefined ? undefined : { cursor }, { timeout }), (page) => page.resourceTemplates);
    return templates.map((template) => ({ ...template, uriTemplate: toAggregateUriTemplate(server, template.uriTemplate), description: origin(server, template.description) }));
  });
  return { resourceTemplates: lists.flat() };
}

export async function readAggregateResource(context: ResourceContext, uri: string, signal: AbortSignal): Promise<ReadResourceResult> {
  const target = fromAggregateUri(uri);
  if (!target || !context.servers().includes(target.server)) {
    throw new McpError(ErrorCode.InvalidParams, `unknown resource "${uri}": resources here are ensemble://<server>/<encoded uri>, as resources/list gives them`);
  }
  const backend = pickBackend(context.directory, target.server);
  if (!backend) {
    const cause = context.directory.router.pool(target.server)?.members.find((member) => member.error)?.error?.message;
    throw new McpError(ErrorCode.InternalError, `server "${target.server}" is unavailable${cause ? `: ${cause}` : ''}`);
  }
  try {
    const result = await withBackend(backend, (client) => client.readResource({ uri: target.uri }, { signal, timeout: context.timeoutOf(target.server) }));
    // Contents name the URI they came from: the client must be able to read it again through us.
    return { ...result, contents: result.contents.map((content) => ({ ...content, uri: toAggregateUri(target.server, content.uri) })) };
  } catch (error) {
    if (!isLocalFailure(error) && error instanceof McpError) throw toPassThroughError(error);
    throw new McpError(ErrorCode.InternalError, `server "${target.server}": resources/read ${target.uri} failed: ${describeFailure(error)}`);
  }
}

/** Runs `list` on every serving backend that offers resources; a failing one gives nothing. */
export async function eachBackend<T>(context: ResourceContext, list: (server: string, client: Client, timeout: number) => Promise<T[]>, capability: 'resources' | 'prompts' = 'resources'): Promise<T[][]> {
  return Promise.all(
    context.servers().map(async (server) => {
      const backend = pickBackend(context.directory, server);
      if (!backend?.client.getServerCapabilities()?.[capability]) return [];
      try {
        return await withBackend(backend, (client) => list(server, client, context.timeoutOf(server)));
      } catch {
        return [];
      }
    }),
  );
}

export async function readPages<P extends { nextCursor?: string }, T>(fetch: (cursor: string | undefined) => Promise<P>, items: (page: P) => T[]): Promise<T[]> {
  const all: T[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const result = await fetch(cursor);
    all.push(...items(result));
    cursor = result.nextCursor;
    if (cursor === undefined) break;
  }
  return all;
}

function origin(server: string, description: string | undefined): string {
  return description ? `[from ${server}] ${description}` : `[from ${server}]`;
}
