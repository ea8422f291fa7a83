#!/usr/bin/env node
/**
 * A backend that asks its client things during a tool call (v1 SDK):
 * `ask` sends `elicitation/create` for a name and answers `hello <name>`
 * (or `<action>` when the user declines or cancels); `sample` sends
 * `sampling/createMessage` and answers with the model's text. A request the
 * client refuses becomes the text `refused: <message>`. Over stdio; with
 * `--http 0` Streamable HTTP on 127.0.0.1 (one stdout line `listening <url>`).
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

function createMcpServer() {
  const server = new McpServer({ name: 'asking', version: '0.0.0' });
  server.registerTool('ask', { description: 'Asks the user for their name' }, async () => {
    try {
      const answer = await server.server.elicitInput({
        mode: 'form',
        message: 'What is your name?',
        requestedSchema: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      });
      return { content: [{ type: 'text', text: answer.action === 'accept' ? `hello ${answer.content?.name}` : answer.action }] };
    } catch (error) {
      return { content: [{ type: 'text', text: `refused: ${error instanceof Error ? error.message : String(error)}` }] };
    }
  });
  server.registerTool('sample', { description: 'Asks the model for a word' }, async () => {
    try {
      const answer = await server.server.createMessage({ messages: [{ role: 'user', content: { type: 'text', text: 'Say a word' } }], maxTokens: 10 });
      return { content: [{ type: 'text', text: `model said: ${answer.content.type === 'text' ? answer.content.text : answer.content.type}` }] };
    } catch (error) {
      return { content: [{ type: 'text', text: `refused: ${error instanceof Error ? error.message : String(error)}` }] };
    }
  });
  return server;
}

const httpAt = process.argv.indexOf('--http');
if (httpAt === -1) {
  await createMcpServer().connect(new StdioServerTransport());
  process.stdin.once('end', () => process.exit(0));
} else {
  const transports = new Map();
  const http = createServer(async (req, res) => {
    const chunks = [];
    for await (const chunk of req) chunks.push(chunk);
    const body = chunks.length > 0 ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : undefined;
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? transports.get(id) : undefined;
    if (!transport) {
      transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => randomUUID(), onsessioninitialized: (sid) => transports.set(sid, transport) });
      await createMcpServer().connect(transport);
    }
    await transport.handleRequest(req, res, body);
  });
  http.listen(Number(process.argv[httpAt + 1] ?? 0), '127.0.0.1', () => process.stdout.write(`listening http://127.0.0.1:${http.address().port}/mcp\n`));
}
