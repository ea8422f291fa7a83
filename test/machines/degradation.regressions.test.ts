/**
 * Regressions of the degradation machine, named for the behaviour they pin.
 * The machine is the control plane only (mode and notices); where calls go is
 * the call router's business and is tested with it.
 */
import { createActor, fromCallback, type AnyActorRef, type AnyEventObject } from 'xstate';
import { describe, expect, it } from 'vitest';
import { degradationMachine, type DegradationInput } from '../../machines/degradation.machine.js';
import { BUILTIN_FILES, CC_TOOLS, createDegradationInput, failure, FS_FALLBACK } from './degradation-input.js';

function start(input: DegradationInput = createDegradationInput([FS_FALLBACK])) {
  const toParent: AnyEventObject[] = [];
  const parent = createActor(fromCallback<AnyEventObject>(({ receive }) => receive((event) => toParent.push(event)))).start();
  const actor = createActor(degradationMachine, { input, parent: parent as AnyActorRef }).start();
  const messages = () => toParent.map((event) => (event.type === 'degradation.notify' ? `${event.notification.level}: ${event.notification.message}` : event.type));
  return { actor, messages, stop: () => parent.stop() };
}

describe('degradation machine regressions', () => {
  it('a primary dying while its fallback is still starting: the notice waits for the fallback and names it once it is ready', () => {
    const { actor, messages, stop } = start();
    actor.send({ type: 'primary.serving', tools: CC_TOOLS });
    actor.send({ type: 'primary.unavailable', error: failure('cc exited') });
    // Not "its calls now go to nothing": fs has not said yet whether it started.
    expect(actor.getSnapshot().value).toBe('unavailable');
    expect(messages()).toEqual([]);

    actor.send({ type: 'fallback.changed', step: 0, serving: true });
    expect(actor.getSnapshot().value).toBe('fallback');
    expect(messages()).toEqual(['warning: server "cc" is unavailable (cc exited); its calls now go to fs; reduced functionality, no fallback for: Read, Bash']);
    stop();
  });

  it('a fallback that failed to start while the primary was down is announced when it comes up later, once', () => {
    const { actor, messages, stop } = start();
    actor.send({ type: 'primary.unavailable', error: failure('spawn claude ENOENT', 'SERVER_START_FAILED') });
    actor.send({ type: 'fallback.changed', step: 0, serving: false });
    expect(actor.getSnapshot().value).toBe('down');
    actor.send({ type: 'fallback.changed', step: 0, serving: true });
    actor.send({ type: 'fallback.changed', step: 0, serving: true });
    expect(actor.getSnapshot().value).toBe('fallback');
    // The primary never started: its tools are unknown, so nothing is called reduced.
    expect(messages()).toEqual([
      'error: server "cc" is unavailable (spawn claude ENOENT) and no fallback can serve its calls',
      'warning: server "cc" is unavailable (spawn claude ENOENT); its calls now go to fs',
    ]);
    stop();
  });

  it('a recovery attempt that starts while the server is still unavailable is announced', () => {
    const { actor, messages, stop } = start();
    actor.send({ type: 'primary.unavailable', error: failure('no start', 'SERVER_START_FAILED') });
    actor.send({ type: 'primary.recovering', attempt: 1 });
    expect(actor.getSnapshot().value).toBe('unavailable');
    actor.send({ type: 'fallback.changed', step: 0, serving: true });
    actor.send({ type: 'primary.recovering', attempt: 2 });
    expect(actor.getSnapshot().value).toBe('recovery');
    actor.send({ type: 'primary.serving', tools: CC_TOOLS });
    expect(actor.getSnapshot().value).toBe('normal');
    expect(messages()).toEqual([
      'info: server "cc" recovery attempt 1 started',
      'warning: server "cc" is unavailable (no start); its calls now go to fs',
      'info: server "cc" recovery attempt 2 started',
      'info: server "cc" recovered: calls go to it again',
    ]);
    stop();
  });

  it('the built-in files serve from the start: a primary dying before its server fallback settled goes straight to them', () => {
    const { actor, messages, stop } = start(createDegradationInput([FS_FALLBACK, BUILTIN_FILES]));
    actor.send({ type: 'primary.serving', tools: CC_TOOLS });
    actor.send({ type: 'primary.unavailable', error: failure('cc exited') });
    expect(actor.getSnapshot().value).toBe('fallback');
    expect(actor.getSnapshot().context).toMatchObject({ fallbackReady: [false, true], fallbackSettled: [false, true] });
    expect(messages()).toEqual(['warning: server "cc" is unavailable (cc exited); its calls now go to builtin:files; reduced functionality, no fallback for: Bash']);
    stop();
  });
});
