// The minimal SDK script a user would write instead of Ensemble: connect to the fixture server
// over stdio, make N `echo` calls in turn, close. `node bench/sdk-calls-script.mjs <server.mjs> <N>`
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';

const [server, count = '1'] = process.argv.slice(2);
const client = new Client({ name: 'sdk-script', version: '1.0.0' });
await client.connect(new StdioClientTransport({ command: process.execPath, args: [server] }));
let last = '';
for (let i = 0; i < Number(count); i += 1) {
  const result = await client.callTool({ name: 'echo', arguments: { text: `call ${i}` } });
  last = result.content[0]?.text ?? '';
}
await client.close();
process.stdout.write(`${last}\n`);
