/**
 * `createAggregator` as a library: servers given in code, options in code,
 * one session over an in-memory transport pair (the backends are real
 * fixture processes), and a close that leaves no backend behind.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { describe, expect, it } from 'vitest';
import { createAggregator } from '../../src/serve/create-aggregator.js';
import { toShortenedName } from '../../src/serve/exposed-names.js';
import { fixtureServer, isProcessAlive } from '../support/fixture.js';
import { textOf } from './serve-client.js';

describe('createAggregator', () => {
  it('serves backends given in code with the separator, name limit and tool lists given in code', async () => {
    const aggregator = createAggregator({
      servers: { fix: fixtureServer('--name', 'fix'), 'other-fix': { ...fixtureServer(), allow: ['echo', 'write_file'] } },
      separator: '-',
      maxToolNameLength: 31,
      reservePrefix: 15,
      tools: { fix: { allow: ['echo', 'pids', 'write_file'] } },
    });
    const client = new Client({ name: 'library', version: '0' });
    try {
      await aggregator.ready();
      const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
      await aggregator.connect(serverSide);
      await client.connect(clientSide);
      const names = (await client.listTools()).tools.map((tool) => tool.name).sort();
      // 31 - 15 leaves 16 characters: fix-write_file (14) and other-fix-echo (14) fit as they are, other-fix-write_file (20) does not.
      const short = toShortenedName('other-fix', 'write_file', { separator: '-', maxToolNameLength: 31, reservePrefix: 15 });
      expect(short).toMatch(/^other-f_[0-9a-f]{8}$/);
      expect(names).toEqual(['ensemble_explain', 'ensemble_run', 'ensemble_status', 'fix-echo', 'fix-pids', 'fix-write_file', 'other-fix-echo', short].sort());
      const { pid } = JSON.parse(textOf(await client.callTool({ name: 'fix-pids', arguments: {} }))) as { pid: number };
      expect(textOf(await client.callTool({ name: 'other-fix-echo', arguments: { text: 'in memory' } }))).toBe('in memory');

      await expect(client.callTool({ name: 'fix-crash', arguments: {} })).rejects.toThrow(/unknown tool "fix-crash"/);
      await client.close();
      await aggregator.close();
      expect(isProcessAlive(pid)).toBe(false);
    } finally {
      await aggregator.close();
    }
  });

  it('refuses to start without exactly one source of servers', () => {
    expect(() => createAggregator({})).toThrow(/exactly one of servers, mcpServers or config/);
    expect(() => createAggregator({ servers: {}, mcpServers: {} })).toThrow(/exactly one of/);
  });
});
