#!/usr/bin/env node
/**
 * The small local HTTP API the coordination demo talks to through its API
 * gateway MCP server: it registers orders by database row id.
 *
 *   POST /orders {"rowId": 1, "item": "…"}  → 201 {"orderId": "ord-1", …}
 *   GET  /orders                            → 200 [ … ]
 *
 * `--fail` (or LOCAL_API_FAIL=1) makes every POST answer 503, which is what
 * the demo's `--fail-api` shows: the saga then deletes the database row.
 * Prints one line, `listening http://127.0.0.1:<port>`, once it listens.
 */
import { createServer } from 'node:http';

const fail = process.argv.includes('--fail') || ['1', 'true', 'yes'].includes(process.env.LOCAL_API_FAIL ?? '');
const portArg = process.argv.indexOf('--port');
const port = portArg > 0 ? Number(process.argv[portArg + 1]) : 0;
const orders = [];

const server = createServer((request, response) => {
  const send = (status, body) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
  if (request.url === '/orders' && request.method === 'GET') return send(200, orders);
  if (request.url === '/orders' && request.method === 'POST') {
    let body = '';
    request.setEncoding('utf8');
    request.on('data', (chunk) => {
      body += chunk;
      if (body.length > 64 * 1024) request.destroy();
    });
    request.on('end', () => {
      if (fail) return send(503, { error: 'order service unavailable (started with --fail)' });
      let input;
      try {
        input = JSON.parse(body);
      } catch {
        return send(400, { error: 'body is not JSON' });
      }
      const order = { orderId: `ord-${orders.length + 1}`, rowId: input.rowId, item: input.item };
      orders.push(order);
      send(201, order);
    });
    return undefined;
  }
  return send(404, { error: `no route ${request.method} ${request.url}` });
});

server.listen(port, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`listening http://127.0.0.1:${address.port}\n`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => server.close(() => process.exit(0)));
