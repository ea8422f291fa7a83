/**
 * Regression tests: a bus subscriber that threw crashed the whole process
 * (RxJS rethrows a subscriber's error from a timer) and lost the report.
 * Now its error is contained, the run and the other subscribers go on, and
 * it is reported once, as a warning notification in the report.
 */
import { map } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createBus, ofType } from '../../src/bus.js';
import { createRun, loadWorkflow, type BusEvent } from '../../src/index.js';
import { eventsOf } from '../support/bus-record.js';
import { fixtureServer } from '../support/fixture.js';

const WARNING = "a subscriber of the run's bus threw";

describe('the bus', () => {
  it('keeps delivering to the other subscribers, in order, when one throws on every event', () => {
    const bus = createBus('r');
    const before: string[] = [];
    const after: string[] = [];
    bus.events$.subscribe((event) => before.push(event.type));
    bus.events$.subscribe(() => {
      throw new Error('boom');
    });
    bus.events$.subscribe((event) => after.push(event.type));
    bus.publish({ type: 'run.phase', phase: 'initializing' });
    bus.publish({ type: 'run.phase', phase: 'planning' });
    bus.complete();
    // The warning is published while the first event is being delivered: once, for the one subscription.
    expect(before).toEqual(['run.phase', 'notification', 'run.phase']);
    expect(after.filter((type) => type === 'run.phase')).toHaveLength(2);
    expect(after.filter((type) => type === 'notification')).toHaveLength(1);
  });

  it('contains a subscriber of a piped stream, and an operator error with no error callback', () => {
    const bus = createBus('r');
    const seen: BusEvent[] = [];
    bus.events$.subscribe((event) => seen.push(event));
    bus.events$.pipe(ofType('run.phase')).subscribe(() => {
      throw new Error('piped');
    });
    bus.events$
      .pipe(
        ofType('task.started'),
        ofType('task.started'),
      )
      .subscribe({
        next: () => {
          throw new Error('object observer');
        },
      });
    bus.events$
      .pipe(
        ofType('run.finished'),
        map(() => {
          throw new Error('operator');
        }),
      )
      .subscribe(() => undefined);
    bus.publish({ type: 'run.phase', phase: 'initializing' });
    bus.publish({ type: 'task.started', task: { id: 'a', server: 's', tool: 't' }, args: {} });
    bus.publish({ type: 'run.finished', status: 'completed', output: '' });
    const warnings = eventsOf(seen, 'notification').map((event) => event.notification.message);
    expect(warnings).toHaveLength(3);
    expect(warnings[0]).toContain('(piped)');
    expect(warnings[1]).toContain('(object observer)');
    expect(warnings[2]).toContain('(operator)');
  });
});

describe('a run with a subscriber that throws', () => {
  it('completes, every other subscriber sees every event, and the report warns once', async () => {
    const workflow = await loadWorkflow({
      name: 'throwing-subscriber',
      servers: { fx: fixtureServer() },
      tasks: [
        { id: 'a', server: 'fx', tool: 'echo', args: { text: 'one' } },
        { id: 'b', server: 'fx', tool: 'echo', args: { text: '{{ tasks.a.text }} two' } },
      ],
    });
    const run = createRun(workflow);
    const seen: BusEvent[] = [];
    let throws = 0;
    run.events$.subscribe(() => {
      throws++;
      throw new Error('subscriber bug');
    });
    run.events$.subscribe((event) => seen.push(event));
    const report = await run.start();

    expect(report.status).toBe('completed');
    expect(report.output).toBe('one\none two');
    expect(eventsOf(seen, 'task.completed').map((event) => event.task.id)).toEqual(['a', 'b']);
    expect(seen.at(-1)?.type).toBe('run.finished');
    expect(throws).toBe(seen.length);
    const warnings = report.notifications.filter((notification) => notification.message.includes(WARNING));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 'warning' });
    expect(warnings[0]?.message).toContain('subscriber bug');
  });
});
