// The floor for an MCP aggregator over Streamable HTTP: the smallest SDK-only proxy, one backend
// over stdio, tools/list and tools/call forwarded as they are. What the SDK transports cost by
// themselves, with no aggregation, routing or membership at all.
// `node bench/sdk-http-proxy.mjs <command> [args…]` prints `listening <url>` once it listens.
import { createServer } from 'node:http';
import { randomUUID } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, ListToolsRequestSchema, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';

const [command, ...args] = process.argv.slice(2);
const backend = new Client({ name: 'floor-proxy', version: '1.0.0' });
await backend.connect(new StdioClientTransport({ command, args }));
const sessions = new Map();

function createSession() {
  const server = new Server({ name: 'floor-proxy', version: '1.0.0' }, { capabilities: { tools: {} } });
  server.setRequestHandler(ListToolsRequestSchema, (request) => backend.listTools(request.params));
  server.setRequestHandler(CallToolRequestSchema, (request) => backend.callTool(request.params));
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: randomUUID, onsessioninitialized: (id) => sessions.set(id, transport) });
  return server.connect(transport).then(() => transport);
}

const http = createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
  const id = req.headers['mcp-session-id'];
  const transport = typeof id === 'string' ? sessions.get(id) : isInitializeRequest(body) ? await createSession() : undefined;
  if (!transport) {
    res.writeHead(400).end();
    return;
  }
  await transport.handleRequest(req, res, body);
});
http.listen(0, '127.0.0.1', () => process.stdout.write(`listening http://127.0.0.1:${http.address().port}/mcp\n`));
process.on('SIGTERM', async () => {
  await backend.close();
  process.exit(0);
});
