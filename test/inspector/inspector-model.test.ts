/**
 * The inspector's model and feed, without a browser: the reducer gives the same model live and
 * replayed, a late page still gets every machine, payloads are cut and redacted, and the page
 * asks nothing of the outside world.
 */
import { readFileSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createRun, loadWorkflow } from '../../src/index.js';
import { CUT, toCappedValue } from '../../src/inspector/capped-value.js';
import { createEventFeed, type EventFeedConfig } from '../../src/inspector/event-feed.js';
import { inspectorModelKit, type FeedEvent } from '../../src/inspector/inspector-model.js';
import { renderInspectorPage } from '../../src/inspector/inspector-page.js';
import { readTrace } from '../../src/inspector/read-trace.js';
import { createReplayBuffer } from '../../src/inspector/replay-buffer.js';
import { writeTrace } from '../../src/inspector/trace-writer.js';
import { fixtureServer, ROOT } from '../support/fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'ensemble-inspector-model-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const kit = inspectorModelKit();

/** Runs a small workflow on the fixture, recording its feed live and as a trace. */
async function recordRun(name: string, config: EventFeedConfig = {}, args: Record<string, unknown> = { text: 'hello' }) {
  const workflow = await loadWorkflow({ name, servers: { fx: fixtureServer() }, tasks: [{ id: 'a', server: 'fx', tool: 'echo', args }, { id: 'b', server: 'fx', tool: 'add', args: { a: 1, b: 2 } }] }, ROOT);
  const feed = createEventFeed(config);
  const live = kit.createModel();
  const seen: FeedEvent[] = [];
  feed.listen((event) => {
    seen.push(event);
    kit.applyEvent(live, event);
  });
  const file = join(dir, `${name}.jsonl`);
  const trace = writeTrace(feed, file);
  const run = createRun(workflow, { inspect: feed.inspect });
  feed.attachBus(run.events$);
  const report = await run.start();
  await trace.close();
  return { report, live, seen, file };
}

it('gives the same model live and replayed from the trace', async () => {
  const { report, live, file } = await recordRun('same-model');
  expect(report.status).toBe('completed');
  const replayed = kit.createModel();
  for (const event of await readTrace(file)) kit.applyEvent(replayed, event);
  expect(JSON.parse(JSON.stringify(replayed))).toEqual(JSON.parse(JSON.stringify(live)));
  expect(live.run.status).toBe('completed');
  expect(live.calls.map((call) => `${call.task}:${call.status}`)).toEqual(['a:done', 'b:done']);
  const orchestrator = Object.values(live.actors).find((actor) => actor.name === 'sequential');
  expect(orchestrator?.value).toBe('finalOutput');
  expect(kit.activeStateIds(orchestrator?.definition, orchestrator?.value)).toEqual(['sequential.finalOutput']);
  expect(orchestrator?.lastTransition?.targets).toEqual(['#sequential.finalOutput']);
  expect(Object.values(live.actors).map((actor) => actor.name)).toEqual(expect.arrayContaining(['servers', 'sequential', 'server:fx#1']));
});

it('writes inspection events in the shapes @statelyai/inspect sends', async () => {
  const { file } = await recordRun('stately-shapes');
  const events = await readTrace(file);
  const actor = events.find((event) => event.type === '@xstate.actor' && event.name === 'sequential');
  expect(actor).toMatchObject({ sessionId: expect.any(String), _version: expect.any(String), createdAt: expect.any(String), id: null, definition: expect.any(String) });
  expect(JSON.parse(String(actor?.definition))).toMatchObject({ id: 'sequential', states: { finalOutput: { type: 'final' } } });
  const snapshot = events.find((event) => event.type === '@xstate.snapshot');
  expect(snapshot).toMatchObject({ sessionId: expect.any(String), snapshot: { status: expect.any(String) }, event: { type: expect.any(String) }, _version: expect.any(String) });
});

it('redacts through the hook and cuts payloads to the cap', async () => {
  const secret = 'sk-very-secret-token';
  const redact = (event: FeedEvent): FeedEvent => JSON.parse(JSON.stringify(event).replaceAll(secret, '***'));
  const { file } = await recordRun('redacted', { redact, maxPayloadChars: 2048 }, { text: `${secret} ${'x'.repeat(200_000)}` });
  const text = readFileSync(file, 'utf8');
  expect(text).not.toContain(secret);
  expect(text).toContain('***');
  expect(text).toContain(CUT);
  for (const line of text.trim().split('\n')) {
    const event: FeedEvent = JSON.parse(line);
    // Definitions are whole (trusted, bounded); every other line stays near the cap.
    if (event.type !== '@xstate.actor') expect(line.length).toBeLessThan(20_000);
  }
});

it('cuts a huge value in time proportional to the cap, not to the value', () => {
  const huge = { text: 'y'.repeat(10_000_000), list: Array.from({ length: 1_000_000 }, (_, index) => index) };
  const capped = toCappedValue(huge, 1000);
  expect(JSON.stringify(capped).length).toBeLessThan(1200);
  expect(JSON.stringify(capped)).toContain(CUT);
});

it('sends a late page every machine even after their actor events left the window', async () => {
  const { seen } = await recordRun('late-page');
  const buffer = createReplayBuffer(10);
  for (const event of seen) buffer.add(event, JSON.stringify(event));
  const late = kit.createModel(10);
  for (const line of buffer.lines()) kit.applyEvent(late, JSON.parse(line));
  const machines = (model: typeof late) => Object.values(model.actors).filter((actor) => actor.definition !== null && actor.status === 'active').map((actor) => actor.name);
  const full = kit.createModel();
  for (const event of seen) kit.applyEvent(full, event);
  expect(machines(late)).toEqual(machines(full));
  expect(late.bus.length).toBeLessThanOrEqual(10);
});

it('keeps a bounded window of bus rows and calls', () => {
  const model = kit.createModel(3);
  for (let index = 0; index < 10; index++) {
    kit.applyEvent(model, { type: 'task.started', task: { id: `t${index}`, server: 's', tool: 'x' }, args: {}, runId: 'r', at: index });
    kit.applyEvent(model, { type: 'task.completed', task: { id: `t${index}`, server: 's', tool: 'x' }, runId: 'r', at: index + 0.5 });
  }
  expect(model.bus).toHaveLength(3);
  expect(model.calls.map((call) => call.task)).toEqual(['t7', 't8', 't9']);
  expect(model.calls.every((call) => call.status === 'done')).toBe(true);
});

it('serves a page that loads nothing from anywhere', () => {
  const html = renderInspectorPage({ mode: 'live', window: 5000 });
  expect(html).not.toMatch(/\b(src|href)\s*=/i);
  expect(html).not.toMatch(/https?:\/\//);
  expect(html).not.toMatch(/@import|url\(/);
});
