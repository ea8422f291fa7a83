#!/usr/bin/env node
/**
 * An API-gateway MCP server: MCP tools in front of an HTTP API. Each tool is
 * one route of the API whose base URL is in API_BASE_URL; a non-2xx answer
 * comes back as an `isError` result with the status and the API's message,
 * so the workflow sees a failing tool, not a broken server.
 *
 *   API_BASE_URL=http://127.0.0.1:8080 node examples/coordination/api-gateway-server.mjs
 *
 * Tools: create_order {rowId, item}, list_orders.
 */
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

const base = process.env.API_BASE_URL;
if (!base) {
  process.stderr.write('api-gateway-server: set API_BASE_URL to the API it fronts\n');
  process.exit(2);
}

async function callApi(method, path, body) {
  const response = await fetch(new URL(path, base), {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await response.text();
  if (!response.ok) return { content: [{ type: 'text', text: `${method} ${path}: HTTP ${response.status} ${text}` }], isError: true };
  return { content: [{ type: 'text', text }] };
}

const server = new McpServer({ name: 'api-gateway', version: '0.1.0' });
server.registerTool(
  'create_order',
  { description: 'POST /orders: register an order for a database row', inputSchema: { rowId: z.number().int(), item: z.string() } },
  ({ rowId, item }) => callApi('POST', '/orders', { rowId, item }),
);
server.registerTool('list_orders', { description: 'GET /orders' }, () => callApi('GET', '/orders'));

await server.connect(new StdioServerTransport());
