/**
 * Regressions of the degradation machine, named for the bug they pin.
 */
import { createActor, fromCallback, type AnyActorRef } from 'xstate';
import { describe, expect, it } from 'vitest';
import type { ServerReport } from '../../src/core/server-port.js';
import { degradationMachine } from '../../machines/degradation.machine.js';
import { createDegradationInput, FS_FALLBACK } from './degradation-input.js';
import { createRecordingServer, type RecordedCommand } from './fake-server.js';

const input = createDegradationInput([FS_FALLBACK]);

function start() {
  const commands: RecordedCommand[] = [];
  const toParent: ServerReport[] = [];
  const replies: ServerReport[] = [];
  const parent = createActor(fromCallback<ServerReport>(({ receive }) => receive((event) => toParent.push(event)))).start();
  const requester = createActor(fromCallback<ServerReport>(({ receive }) => receive((event) => replies.push(event)))).start();
  const machine = degradationMachine.provide({ actors: { server: createRecordingServer(commands), builtinFiles: createRecordingServer(commands) as never } });
  const actor = createActor(machine, { input, parent: parent as AnyActorRef }).start();
  return { actor, commands, toParent, replies, requester, stop: () => parent.stop() };
}

const ready = (server: string): ServerReport => ({ type: 'server.ready', server, replica: 1, tools: [{ name: 'Write' }] });

describe('degradation machine regressions', () => {
  it('a primary dying while its fallback was still starting failed the call in flight as "no fallback serves this tool"', () => {
    const { actor, toParent, replies, requester, commands, stop } = start();
    actor.send(ready('cc'));
    // Not ready yet: the fallback has not said whether it started.
    expect(toParent.some((event) => event.type === 'server.ready')).toBe(false);
    actor.send(ready('fs'));
    expect(toParent.filter((event) => event.type === 'server.ready')).toHaveLength(1);

    actor.send({ type: 'server.call', callId: 'w', tool: 'Write', args: { file_path: 'a', content: 'A' }, idempotent: true, replyTo: requester });
    actor.send({ type: 'server.unavailable', server: 'cc', replica: 1, error: { code: 'SERVER_UNAVAILABLE', message: 'cc exited', server: 'cc' } });
    actor.send({ type: 'server.failed', server: 'cc', callId: 'w', error: { code: 'SERVER_UNAVAILABLE', message: 'cc exited', server: 'cc' }, durationMs: 1 });
    expect(replies.filter((reply) => reply.type === 'server.failed')).toEqual([]);
    expect(commands.filter((entry) => entry.server === 'fs' && entry.command.type === 'server.call')).toHaveLength(1);
    stop();
  });

  it('a call lacking an argument its fallback mapping reads crashed the degradation actor', () => {
    const { actor, replies, requester, stop } = start();
    actor.send({ type: 'server.unavailable', server: 'cc', replica: 1, error: { code: 'SERVER_START_FAILED', message: 'no start', server: 'cc' } });
    actor.send(ready('fs'));
    actor.send({ type: 'server.call', callId: 'w', tool: 'Write', args: { file_path: 'a' }, replyTo: requester });
    expect(actor.getSnapshot().status).toBe('active');
    expect(replies).toMatchObject([{ type: 'server.failed', callId: 'w', error: { code: 'TEMPLATE', server: 'fs', field: 'args.content' } }]);
    stop();
  });

  it('a recovery attempt that started while the server was still unavailable was never announced', () => {
    const { actor, toParent, stop } = start();
    actor.send({ type: 'server.unavailable', server: 'cc', replica: 1, error: { code: 'SERVER_START_FAILED', message: 'no start', server: 'cc' } });
    actor.send({ type: 'server.recovering', server: 'cc', replica: 1, attempt: 1 });
    actor.send(ready('fs'));
    const notices = toParent.filter((event): event is Extract<ServerReport, { type: 'run.notify' }> => event.type === 'run.notify').map((event) => event.notification.message);
    expect(notices).toContain('server "cc" recovery attempt 1 started');
    expect(notices.some((message) => message.includes('is unavailable (no start)'))).toBe(true);
    stop();
  });
});
