/**
 * XState's `inspect` option reaches every actor of a run: the orchestrator,
 * the server actors and their connections.
 */
import { expect, it } from 'vitest';
import type { InspectionEvent } from 'xstate';
import { runWorkflow } from '../../src/index.js';
import { fixtureServer } from '../support/fixture.js';

it('passes the inspect option to the orchestrator and every server actor', async () => {
  const events: InspectionEvent[] = [];
  const report = await runWorkflow(
    { name: 'inspected', servers: { fx: fixtureServer() }, tasks: [{ id: 'a', server: 'fx', tool: 'echo', args: { text: 'seen' } }] },
    { inspect: (event) => events.push(event) },
  );
  expect(report.status).toBe('completed');
  const actorIds = new Set(events.filter((event) => event.type === '@xstate.actor').map((event) => (event.actorRef as unknown as { id: string }).id));
  expect(actorIds).toContain('server:fx#1');
  expect(actorIds).toContain('serverPort');
  expect(actorIds).toContain('connection');
  const states = events
    .filter((event): event is Extract<InspectionEvent, { type: '@xstate.snapshot' }> => event.type === '@xstate.snapshot')
    .map((event) => (event.snapshot as { value?: unknown }).value)
    .filter((value) => typeof value === 'string');
  expect(states).toContain('finalOutput');
});
