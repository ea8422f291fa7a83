#!/usr/bin/env node
/**
 * A backend that asks its client things during a tool call (v1 SDK):
 * `ask` sends `elicitation/create` for a name and answers `hello <name>`
 * (or `<action>` when the user declines or cancels); `sample` sends
 * `sampling/createMessage` and answers with the model's text; `block` never
 * answers (until cancelled), to hold a call in flight (with `--log-file F` it
 * appends `block` to F when called). A request the
 * client refuses becomes the text `refused: <message>`. Over stdio; with
 * `--http 0` Streamable HTTP on 127.0.0.1 (one stdout line `listening <url>`).
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';

const logAt = process.argv.indexOf('--log-file');
/** `block` appends a line here when a call reaches it, so a test knows the call is in flight. */
const logFile = logAt === -1 ? undefined : process.argv[logAt + 1];

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
  // With no inputSchema the SDK passes the handler only its request context.
  server.registerTool('block', { description: 'Answers only when cancelled' }, (extra) => {
    if (logFile) appendFileSync(logFile, 'block\n');
    return new Promise((resolve) => extra.signal.addEventListener('abort', () => resolve({ content: [{ type: 'text', text: 'cancelled' }] })));
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
