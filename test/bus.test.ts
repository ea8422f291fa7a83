/**
 * The run bus: stamping, ordering and typed filtering, on simulated time.
 */
import { TestScheduler } from 'rxjs/testing';
import { expect, it } from 'vitest';
import { createBus, ofType } from '../src/bus.js';
import type { BusEvent } from '../src/core/bus-events.js';

it('stamps every event with the run id and a timestamp, in publish order', () => {
  const bus = createBus('run-7');
  const seen: BusEvent[] = [];
  bus.events$.subscribe((event) => seen.push(event));
  bus.publish({ type: 'run.phase', phase: 'initializing' });
  bus.publish({ type: 'run.phase', phase: 'planning' });
  expect(seen.map((event) => [event.runId, (event as { phase: string }).phase])).toEqual([
    ['run-7', 'initializing'],
    ['run-7', 'planning'],
  ]);
  expect(seen.every((event) => typeof event.at === 'number' && event.at > 0)).toBe(true);
});

it('drops publishes after complete, and completes its subscribers', () => {
  const bus = createBus('r');
  const seen: string[] = [];
  let completed = false;
  bus.events$.subscribe({ next: (event) => seen.push(event.type), complete: () => (completed = true) });
  bus.complete();
  bus.publish({ type: 'run.phase', phase: 'planning' });
  expect(seen).toEqual([]);
  expect(completed).toBe(true);
});

it('ofType keeps only the named types, in order (marble test)', () => {
  const scheduler = new TestScheduler((actual, expected) => expect(actual).toEqual(expected));
  scheduler.run(({ cold, expectObservable }) => {
    const event = (type: string) => ({ type, runId: 'r', at: 0 }) as unknown as BusEvent;
    const source = cold('a-b-c-d|', { a: event('task.started'), b: event('server.state'), c: event('task.completed'), d: event('run.phase') });
    expectObservable(source.pipe(ofType('task.started', 'task.completed'))).toBe('a---c--|', { a: event('task.started'), c: event('task.completed') });
  });
});
