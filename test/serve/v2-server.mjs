#!/usr/bin/env node
/**
 * A tiny MCP server built on the v2 SDK (`@modelcontextprotocol/server` 2.x),
 * to show a v2 backend works behind `ensemble serve`. Tools: `greet { name }`
 * (text, plus structuredContent `{ greeting }` under an outputSchema) and
 * `sdk` (the SDK's package version). Over stdio by default; with `--http 0`
 * Streamable HTTP on 127.0.0.1 (any free port) at /mcp, stateless, through
 * the v2 SDK's Web Standard transport behind a small node:http adapter, and
 * one stdout line `listening <url>`.
 */
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { McpServer, WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/server';
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import * as z from 'zod';

// The package exports no ./package.json: read it next to its entry point (dist/index.mjs).
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('@modelcontextprotocol/server')), 'utf8'));

function createMcpServer() {
  const server = new McpServer({ name: 'v2-fixture', version });
  server.registerTool(
    'greet',
    { description: 'Greets someone (v2 SDK)', inputSchema: z.object({ name: z.string() }), outputSchema: z.object({ greeting: z.string() }) },
    async ({ name }) => {
      const greeting = `hello ${name}, from the v2 SDK`;
      return { content: [{ type: 'text', text: greeting }], structuredContent: { greeting } };
    },
  );
  server.registerTool('sdk', { description: 'The v2 SDK version', inputSchema: z.object({}) }, async () => ({ content: [{ type: 'text', text: version }] }));
  return server;
}

const httpAt = process.argv.indexOf('--http');
if (httpAt === -1) {
  await createMcpServer().connect(new StdioServerTransport());
  // The stdio transport does not notice EOF: stdin's end is the client going away.
  process.stdin.once('end', () => process.exit(0));
} else {
  const http = createServer(async (req, res) => {
    try {
      const chunks = [];
      for await (const chunk of req) chunks.push(chunk);
      const body = chunks.length > 0 ? Buffer.concat(chunks) : undefined;
      const headers = new Headers();
      for (const [key, value] of Object.entries(req.headers)) if (typeof value === 'string') headers.set(key, value);
      const request = new Request(`http://${req.headers.host}${req.url}`, { method: req.method, headers, ...(body && req.method !== 'GET' && req.method !== 'HEAD' ? { body } : {}) });
      // Stateless: a server and a transport per request.
      const server = createMcpServer();
      const transport = new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      await server.connect(transport);
      const response = await transport.handleRequest(request);
      res.writeHead(response.status, Object.fromEntries(response.headers));
      if (response.body) for await (const chunk of response.body) res.write(chunk);
      res.end();
      res.once('close', () => void server.close());
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    }
  });
  http.listen(Number(process.argv[httpAt + 1] ?? 0), '127.0.0.1', () => {
    process.stdout.write(`listening http://127.0.0.1:${http.address().port}/mcp\n`);
  });
}
