/**
 * Model-based tests of the degradation machine: paths generated with
 * @xstate/graph over a primary with a server fallback and the built-in files
 * fallback, replayed on a live actor whose servers are recording fakes.
 * Every step checks where calls went and what the parent was told; the suite
 * fails if a state or transition is never reached.
 */
import { createActor, fromCallback, type AnyActorRef, type SnapshotFrom } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { ServerReport } from '../../src/core/server-port.js';
import { degradationMachine, type DegradationEvent } from '../../machines/degradation.machine.js';
import { createCoverage, createMachineModel } from '../support/transition-coverage.js';
import { createDegradationInput, FS_FALLBACK } from './degradation-input.js';
import { createRecordingServer, type RecordedCommand } from './fake-server.js';

const input = createDegradationInput([FS_FALLBACK, { kind: 'builtin', builtin: 'files', tools: {} }]);

type Snapshot = SnapshotFrom<typeof degradationMachine>;
const tools = [{ name: 'Write' }, { name: 'Read' }, { name: 'Bash' }];
const unavailable = (server: string): DegradationEvent => ({ type: 'server.unavailable', server, replica: 1, error: { code: 'SERVER_UNAVAILABLE', message: `${server} exited`, server } });
const ready = (server: string): DegradationEvent => ({ type: 'server.ready', server, replica: 1, tools: server === 'cc' ? tools : [{ name: 'x' }] });

/** One call per tool kind: one the server fallback maps, one only built-in files knows, one nothing serves. */
const calls: DegradationEvent[] = [
  { type: 'server.call', callId: 'w', tool: 'Write', args: { file_path: 'a.txt', content: 'A' } },
  { type: 'server.call', callId: 'r', tool: 'Read', args: { file_path: 'a.txt' }, idempotent: true },
  { type: 'server.call', callId: 'b', tool: 'Bash', args: { command: 'ls' } },
];

function eventsFor(snapshot: Snapshot): DegradationEvent[] {
  const { context } = snapshot;
  const events: DegradationEvent[] = [];
  const waitingFallbacks = ['fs', 'builtin:files'].filter((_, index) => !context.fallbackSettled[index]);
  for (const server of waitingFallbacks) events.push(ready(server), unavailable(server));
  if (snapshot.matches('starting') || snapshot.matches('recovery') || snapshot.matches('unavailable') || snapshot.matches('down')) events.push(ready('cc'));
  if (snapshot.matches('starting') || snapshot.matches('normal') || snapshot.matches('recovery')) events.push(unavailable('cc'));
  if (snapshot.matches('fallback') || snapshot.matches('unavailable') || snapshot.matches('down')) events.push({ type: 'server.recovering', server: 'cc', replica: 1, attempt: 1 });
  if (snapshot.matches('fallback') && context.fallbackSettled.every(Boolean)) events.push(ready('cc'));
  // A fallback that recovers by itself while everything was down.
  if (snapshot.matches('down')) events.push(ready('fs'));
  // Calls only once the pending map is empty, to keep the model small.
  if (Object.keys(context.pending).length === 0) events.push(...calls);
  if (snapshot.matches('normal')) events.push({ type: 'server.read', callId: 'res', uri: 'file:///x' }, { type: 'server.cancel', callId: 'w', reason: 'user' });
  for (const [callId, pending] of Object.entries(context.pending)) {
    const server = pending.route === 'primary' ? 'cc' : pending.route === 0 ? 'fs' : 'builtin:files';
    events.push({ type: 'server.result', server, callId, result: { text: 'ok', json: undefined, isError: false, content: [] }, durationMs: 1 });
    if (pending.route === 'primary') events.push({ type: 'server.failed', server, callId, error: { code: 'SERVER_UNAVAILABLE', message: 'died mid-call', server }, durationMs: 1 });
  }
  return events;
}

const model = createMachineModel(degradationMachine);
const coverage = createCoverage(degradationMachine);
// Shortest paths reach every state; a transition that returns to a state seen
// before (a reply that empties the pending map) is on none of them. So every
// path is also extended by each event its end state accepts: every edge.
const shortest = model.getShortestPaths({ input, events: eventsFor });
const paths = shortest.flatMap((path) => [
  { description: path.description, events: path.steps.map((step) => step.event).filter((event) => (event.type as string) !== 'xstate.init') },
  ...eventsFor(path.state).map((event) => ({
    description: `${path.description} → ${event.type}${'callId' in event ? ` ${event.callId}` : ''}${'server' in event ? ` (${event.server})` : ''}`,
    events: [...path.steps.map((step) => step.event).filter((step) => (step.type as string) !== 'xstate.init'), event],
  })),
]);

describe('degradation machine, model-based', () => {
  afterAll(() => {
    expect(coverage.missingStates(), 'states no path reached').toEqual([]);
    expect(coverage.missingTransitions(), 'transitions no path took').toEqual([]);
  });

  it('generates paths', () => {
    expect(shortest.length).toBeGreaterThan(20);
    expect(paths.length).toBeGreaterThan(shortest.length * 2);
  });

  for (const path of paths) {
    it(path.description.replace(/\{"input".*?\}\)/, '(…)'), () => {
      const commands: RecordedCommand[] = [];
      const toParent: ServerReport[] = [];
      const replies: ServerReport[] = [];
      // The child joins its parent's actor system, so inspection is set on the parent.
      const parent = createActor(fromCallback<ServerReport>(({ receive }) => receive((event) => toParent.push(event))), { inspect: coverage.inspect }).start();
      const requester = createActor(fromCallback<ServerReport>(({ receive }) => receive((event) => replies.push(event)))).start();
      const machine = degradationMachine.provide({ actors: { server: createRecordingServer(commands), builtinFiles: createRecordingServer(commands) as never } });
      const actor = createActor(machine, { input, parent: parent as AnyActorRef });
      actor.start();
      const send = (step: { event: DegradationEvent }) => {
        const event = step.event.type === 'server.call' || step.event.type === 'server.read' ? { ...step.event, replyTo: requester } : step.event;
        actor.send(event);
      };
      for (const event of path.events) send({ event });
      const snapshot = actor.getSnapshot();
      expect(snapshot.status).toBe('active');
      checkInvariants(snapshot, commands, toParent, replies);
      parent.stop();
      requester.stop();
    });
  }
});

function checkInvariants(snapshot: Snapshot, commands: RecordedCommand[], toParent: ServerReport[], replies: ServerReport[]): void {
  const { context } = snapshot;
  // Calls go where the mode says: the primary in normal, a fallback otherwise.
  for (const [callId, pending] of Object.entries(context.pending)) {
    const sent = commands.filter((entry) => entry.command.type === 'server.call' && entry.command.callId === callId).at(-1)!;
    expect(sent.server).toBe(pending.route === 'primary' ? 'cc' : pending.route === 0 ? 'fs' : 'builtin:files');
    if (pending.route === 0) expect(sent.command).toMatchObject({ tool: 'write_file', args: { path: 'a.txt', content: 'A' } });
  }
  // The parent hears "ready" at most once, and "unavailable" only when nothing at all can serve.
  expect(toParent.filter((event) => event.type === 'server.ready').length).toBeLessThanOrEqual(1);
  if (snapshot.matches('down')) {
    expect(context.fallbackReady.some(Boolean)).toBe(false);
    expect(toParent.at(-1)?.type === 'server.unavailable' || toParent.some((event) => event.type === 'server.unavailable')).toBe(true);
  }
  // Every mode change away from the primary is announced, naming the server and the cause.
  if (snapshot.matches('fallback') || snapshot.matches('recovery')) {
    const notice = toParent.filter((event) => event.type === 'run.notify' && event.notification.level === 'warning').at(-1);
    const message = notice && notice.type === 'run.notify' ? notice.notification.message : '';
    expect(message).toMatch(/^server "cc" is unavailable \(.+\); its calls now go to (fs|builtin:files)/);
    // What is reduced is named whenever the primary's tools are known (not when it never started).
    if (context.primaryTools.length > 0) expect(message).toMatch(/reduced functionality, no fallback for: (Read, )?Bash$/);
  }
  // Results served by a fallback say so; the primary's own do not.
  for (const reply of replies) {
    if (reply.type !== 'server.result') continue;
    expect(reply.server).toBe('cc');
  }
  // A call nothing can serve is answered at once with a clear error, never left hanging.
  for (const reply of replies) {
    if (reply.type === 'server.failed' && reply.callId === 'b' && reply.error.message.includes('no fallback')) {
      expect(reply.error.message).toContain('no fallback serves its tool "Bash"');
    }
  }
}
