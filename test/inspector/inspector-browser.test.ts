/**
 * The inspector page in real headless Chromium, during a real run on the fixture server: what a
 * person sees change, that nothing leaves 127.0.0.1, that a replayed trace gives the same model,
 * and that the page says so when the inspector goes away.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createInspector, createRun, loadWorkflow, type BusEvent } from '../../src/index.js';
import { createEventFeed } from '../../src/inspector/event-feed.js';
import type { InspectorModel } from '../../src/inspector/inspector-model.js';
import { readTrace } from '../../src/inspector/read-trace.js';
import { writeTrace } from '../../src/inspector/trace-writer.js';
import { fixtureServer, ROOT } from '../support/fixture.js';

const NO_RECOVERY = { initialDelayMs: 600_000, maxDelayMs: 600_000 };

let browser: Browser;
let dir: string;

beforeAll(async () => {
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  dir = mkdtempSync(join(tmpdir(), 'ensemble-inspector-'));
});

afterAll(async () => {
  await browser?.close();
  rmSync(dir, { recursive: true, force: true });
});

function modelOf(page: Page): Promise<InspectorModel> {
  return page.evaluate(() => JSON.parse(JSON.stringify(Reflect.get(globalThis, '__inspectorModel'))));
}

it('shows a live run: the task busy then done, the state moving, a killed server replaced by its fallback, one bar per call; replays the same; says when it is gone', async () => {
  const workspace = join(dir, 'work');
  mkdirSync(workspace);
  const workflow = await loadWorkflow({
    name: 'inspected-demo',
    // The built-in files write here, never into the repository.
    workspace,
    servers: {
      fx: {
        ...fixtureServer(),
        cwd: workspace,
        recovery: NO_RECOVERY,
        fallback: [{ builtin: 'files', tools: { hang: { tool: 'write_file', args: { path: 'rescued.txt', content: 'written by the built-in files' } } } }],
      },
    },
    tasks: [
      { id: 'who', server: 'fx', tool: 'pids' },
      { id: 'slow', server: 'fx', tool: 'sleep', args: { ms: 1500, text: 'slept' } },
      // Never answered by fx: in flight when the test kills fx, then retried on the fallback.
      { id: 'stuck', server: 'fx', tool: 'hang', idempotent: true },
      { id: 'save', server: 'fx', tool: 'write_file', args: { path: 'saved.txt', content: 'by the fallback' } },
    ],
  }, ROOT);

  const feed = createEventFeed();
  const tracePath = join(dir, 'run.jsonl');
  const trace = writeTrace(feed, tracePath);
  const inspector = await createInspector({ feed });
  expect(inspector.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);

  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  const requests: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  await page.goto(inspector.url);

  const run = createRun(workflow, { inspect: inspector.inspect });
  inspector.attachBus(run.events$);
  const busEvents: BusEvent[] = [];
  let pid: number | undefined;
  run.events$.subscribe((event) => {
    busEvents.push(event);
    // The pids tool answers {"pid": n} as text.
    const match = event.type === 'task.completed' && event.task.id === 'who' ? /\\"pid\\":(\d+)/.exec(JSON.stringify(event.result)) : null;
    if (match) pid = Number(match[1]);
  });
  const finished = run.start();

  // The slow task: busy on the timeline, then done.
  await page.waitForSelector('.bar[data-task="slow"][data-status="busy"]');
  const activeWhileSlow = await page.getAttribute('.chart[data-actor="sequential"]', 'data-active');
  await page.waitForSelector('.bar[data-task="slow"][data-status="done"]');

  // The hanging task is in flight: kill the server under it.
  await page.waitForSelector('.bar[data-task="stuck"][data-status="busy"]');
  expect(pid).toBeTypeOf('number');
  process.kill(pid!, 'SIGKILL');
  // The run may close fx as soon as the fallback has served the rest: the trail keeps the death visible.
  await page.waitForSelector('[data-member-row="fx#1"][data-trail~="unavailable"]');
  await page.waitForSelector('[data-fallback="fx"]');
  expect(await page.textContent('[data-fallback="fx"]')).toContain('builtin:files');

  const report = await finished;
  expect(report.status).toBe('degraded');
  expect(readFileSync(join(workspace, 'saved.txt'), 'utf8')).toBe('by the fallback');
  await trace.close();
  const recorded = await readTrace(tracePath);
  await page.waitForFunction((count) => Reflect.get(globalThis, '__inspectorModel').count === count, recorded.length);
  await page.waitForSelector('#banner.ended');

  const live = await modelOf(page);
  // The active state moved on from where it was during the slow task.
  const activeAtEnd = await page.getAttribute('.chart[data-actor="sequential"]', 'data-active');
  expect(activeWhileSlow).toContain('sequential.');
  expect(activeAtEnd).toContain('sequential.finalOutput');
  expect(activeAtEnd).not.toBe(activeWhileSlow);
  // One bar per call: every task.started has its bar, each closed.
  const started = busEvents.filter((event) => event.type === 'task.started').length;
  expect(live.calls).toHaveLength(started);
  expect(await page.locator('.bar').count()).toBe(started);
  expect(live.calls.map((call) => `${call.task}:${call.status}${call.servedBy ? `:${call.servedBy}` : ''}`)).toEqual(['who:done', 'slow:done', 'stuck:done:builtin:files', 'save:done:builtin:files']);
  expect(live.members['fx#1']?.trail).toEqual(['connecting', 'serving', 'unavailable', 'closed']);

  await page.screenshot({ path: join(ROOT, 'docs/inspector.png'), fullPage: true });

  // The inspector goes away: the page says so and keeps the last state.
  await inspector.close();
  await page.waitForSelector('#banner.gone');
  expect(await page.textContent('#banner')).toContain('inspector gone');
  expect(await page.locator('.bar').count()).toBe(started);

  // The trace, replayed, gives the live page's final model.
  const replay = await createInspector({ replay: recorded });
  const replayPage = await browser.newPage();
  replayPage.on('request', (request) => requests.push(request.url()));
  await replayPage.goto(replay.url);
  await replayPage.waitForSelector('#replay:not([hidden])');
  expect(await modelOf(replayPage)).toEqual(live);
  // The scrubber steps back: at the event where the slow task started, it is busy again.
  const slowStarted = recorded.findIndex((event) => event.type === 'task.started' && JSON.stringify(event).includes('"id":"slow"')) + 1;
  await replayPage.locator('#scrubber').fill(String(slowStarted));
  await replayPage.waitForSelector('.bar[data-task="slow"][data-status="busy"]');
  expect((await modelOf(replayPage)).count).toBe(slowStarted);
  await replay.close();

  expect(requests.length).toBeGreaterThan(0);
  expect(requests.filter((url) => !url.startsWith('http://127.0.0.1:'))).toEqual([]);
});
