/**
 * The process transport under hostile output, driven by the SDK's own
 * `Client` against the fixture server in a real child process: what it keeps
 * of stdout garbage and of stderr stays bounded, whatever the server writes.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  GARBAGE_SAMPLES,
  MAX_GARBAGE_RUN,
  ProcessTransport,
  STDERR_LINE_BYTES,
  STDERR_TAIL_LINES,
} from '../../actors/process-transport.js';
import { fixtureServer, ROOT } from '../support/fixture.js';

const MiB = 1024 * 1024;
const open: Client[] = [];

afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});

async function connect(...flags: string[]): Promise<{ client: Client; transport: ProcessTransport }> {
  const { command, args } = fixtureServer(...flags);
  const transport = new ProcessTransport({ server: 'fx', command, args, env: {}, cwd: ROOT });
  const client = new Client({ name: 'test', version: '0.0.0' }, { capabilities: {} });
  await client.connect(transport);
  open.push(client);
  return { client, transport };
}

/** Resolves when the transport has closed (the process exited). */
function closed(transport: ProcessTransport): Promise<void> {
  return new Promise((resolve) => {
    const previous = transport.onclose;
    transport.onclose = () => {
      previous?.();
      resolve();
    };
  });
}

describe('stdout garbage', () => {
  it('regression: a flood of non-JSON lines is counted, keeps only a few truncated samples, and stops the server after MAX_GARBAGE_RUN in a row', async () => {
    const { client, transport } = await connect();
    const gone = closed(transport);
    await expect(client.callTool({ name: 'garbage', arguments: { lines: 100_000 } })).rejects.toThrow(/Connection closed/);
    await gone;
    const garbage = transport.garbage;
    expect(garbage.lines).toBe(MAX_GARBAGE_RUN);
    expect(garbage.samples).toHaveLength(GARBAGE_SAMPLES);
    expect(transport.fault).toContain(`flooded stdout with ${MAX_GARBAGE_RUN} lines in a row that are not JSON-RPC`);
    expect(transport.pendingBytes.stdout).toBe(0);
  });

  it('carries on after a few garbage lines between messages, counting them', async () => {
    const { client, transport } = await connect('--garbage-on-call', '1');
    const result = await client.callTool({ name: 'echo', arguments: { text: 'still here' } });
    expect(result.content).toEqual([{ type: 'text', text: 'still here' }]);
    expect(transport.garbage).toEqual({ lines: 2, samples: ['this is not json', '{ neither is this'] });
    expect(transport.fault).toBeUndefined();
  });

  it('truncates a long garbage sample', async () => {
    const { client, transport } = await connect();
    // One 300 KB line of "x", then an answer: a garbage line, not a fault.
    await client.callTool({ name: 'garbage', arguments: { lines: 1, text: 'x'.repeat(300_000) } });
    expect(transport.garbage.lines).toBe(1);
    expect(transport.garbage.samples[0]).toBe(`${'x'.repeat(200)}…`);
  });
});

describe('stderr', () => {
  it('regression: 50 MB of stderr without a newline keeps at most STDERR_LINE_BYTES, and calls after it still answer', async () => {
    const { client, transport } = await connect();
    await client.callTool({ name: 'stderr', arguments: { bytes: 50 * MiB } });
    for (let i = 0; i < 20; i++) {
      const result = await client.callTool({ name: 'echo', arguments: { text: `call ${i}` } });
      expect(result.content).toEqual([{ type: 'text', text: `call ${i}` }]);
    }
    // stderr and stdout are separate pipes: wait for stderr's bytes to have arrived.
    await vi.waitFor(() => expect(transport.pendingBytes.stderr).toBe(STDERR_LINE_BYTES));
    expect(transport.stderrLines.join('').length).toBeLessThanOrEqual(STDERR_LINE_BYTES);
  });

  it('keeps only the last STDERR_TAIL_LINES lines of a chatty server', async () => {
    // 2 MiB at start, in 1 KiB lines.
    const { transport } = await connect('--stderr-noise', '2048');
    expect(transport.stderrLines.length).toBeLessThanOrEqual(STDERR_TAIL_LINES + 1);
    expect(transport.stderrLines.every((line) => line.length <= STDERR_LINE_BYTES)).toBe(true);
  });
});

describe('start and close', () => {
  it('spawns nothing when closed while starting', async () => {
    const { command, args } = fixtureServer();
    const transport = new ProcessTransport({ server: 'fx', command, args, env: {}, cwd: ROOT });
    const starting = transport.start();
    await transport.close();
    await expect(starting).rejects.toThrow('closed while starting');
    expect(transport.pid).toBeUndefined();
  });
});
