/**
 * `ensemble serve --inspect`: the inspector shows the aggregator — its client sessions, the tools
 * each backend serves now, the runs started through it — read here from the page's own feed with
 * the page's own reducer (the browser test covers drawing).
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { chromium } from 'playwright-core';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { inspectorModelKit, type FeedEvent, type InspectorModel } from '../../src/inspector/inspector-model.js';
import { ROOT, createTempDir, fixtureServer } from '../support/fixture.js';
import { writeConfig } from '../serve/serve-client.js';

const temp = createTempDir('ensemble-serve-inspect-');
afterAll(() => temp.remove());

/** Follows the inspector's SSE feed, folding every event into a model with the page's reducer. */
function followFeed(url: string): { model: InspectorModel; stop: () => void } {
  const kit = inspectorModelKit();
  const model = kit.createModel();
  const controller = new AbortController();
  void (async () => {
    const response = await fetch(new URL('events', url), { signal: controller.signal });
    const decoder = new TextDecoder();
    let pending = '';
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      pending += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = pending.indexOf('\n\n')) !== -1) {
        const block = pending.slice(0, end);
        pending = pending.slice(end + 2);
        const data = block.split('\n').find((line) => line.startsWith('data: '));
        if (data && !block.startsWith('event: end')) kit.applyEvent(model, JSON.parse(data.slice(6)) as FeedEvent);
      }
    }
  })().catch(() => undefined);
  return { model, stop: () => controller.abort() };
}

describe('ensemble serve --inspect', () => {
  it('shows the sessions, the tools each backend serves now and the runs started through it', async () => {
    const config = writeConfig(temp.dir, { servers: { fx: fixtureServer() } });
    const transport = new StdioClientTransport({ command: process.execPath, args: [join(ROOT, 'bin/ensemble.js'), 'serve', '--config', config, '--inspect'], stderr: 'pipe', env: { ...process.env } as Record<string, string> });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const client = new Client({ name: 'inspecting-client', version: '1.2.3' });
    await client.connect(transport);
    try {
      await vi.waitFor(() => expect(stderr).toMatch(/inspector: http:\/\/127\.0\.0\.1:\d+\//), { timeout: 20_000 });
      const url = /inspector: (\S+)/.exec(stderr)![1]!;
      const feed = followFeed(url);
      const report = await client.callTool({ name: 'ensemble_run', arguments: { workflow: { name: 'through-serve', tasks: [{ id: 'say', server: 'fx', tool: 'echo', args: { text: 'hi' } }] } } });
      expect(report.isError).toBeFalsy();
      await vi.waitFor(() => {
        const sessions = Object.values(feed.model.serve.sessions);
        expect(sessions).toMatchObject([{ transport: 'stdio', state: 'open', client: 'inspecting-client 1.2.3' }]);
        expect(feed.model.serve.tools.fx).toEqual(expect.arrayContaining(['echo', 'add', 'sleep']));
        expect(feed.model.serve.runs).toMatchObject([{ workflow: 'through-serve', status: 'completed' }]);
        // The run's own machine reached the page too, drawn from its definition.
        expect(Object.values(feed.model.actors).some((actor) => actor.definition !== null && actor.status === 'done')).toBe(true);
      }, { timeout: 20_000 });
      feed.stop();

      // And the page draws it: the serve section, in real headless Chromium, asking nothing of the outside.
      const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
      try {
        const page = await browser.newPage();
        const requested: string[] = [];
        page.on('request', (request) => requested.push(new URL(request.url()).hostname));
        await page.goto(url);
        await page.waitForSelector('#serve-section:not([hidden]) .run-row');
        const text = await page.textContent('#serve');
        expect(text).toContain('stdio · inspecting-client 1.2.3 · open');
        expect(text).toMatch(/through-serve · [a-z-]+ · completed/);
        expect(await page.locator('.served[data-server="fx"]').count()).toBe(1);
        expect(new Set(requested)).toEqual(new Set(['127.0.0.1']));
      } finally {
        await browser.close();
      }
    } finally {
      await client.close();
    }
  });
});
