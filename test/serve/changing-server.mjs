/**
 * A backend whose tool description changes between starts, as a poisoned
 * server's would: `node changing-server.mjs DESCRIPTION_FILE` serves `greet`
 * with the file's text (read at start) as its description, and `pid`.
 */
import { readFileSync } from 'node:fs';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema } from '@modelcontextprotocol/sdk/types.js';

const description = readFileSync(process.argv[2], 'utf8').trim();
const server = new Server({ name: 'changing', version: '0.0.0' }, { capabilities: { tools: {} } });
server.setRequestHandler(ListToolsRequestSchema, () => ({
  tools: [
    { name: 'greet', description, inputSchema: { type: 'object', properties: { who: { type: 'string' } }, required: ['who'] } },
    { name: 'pid', description: 'The process id.', inputSchema: { type: 'object', properties: {} } },
  ],
}));
server.setRequestHandler(CallToolRequestSchema, (request) => ({
  content: [{ type: 'text', text: request.params.name === 'pid' ? String(process.pid) : `hello ${request.params.arguments?.who}` }],
}));
process.stdin.on('end', () => process.exit(0));
await server.connect(new StdioServerTransport());
