/**
 * `run.reportSoFar()`: what a caller that stops waiting (a second Ctrl-C) can print. Mid-run it
 * holds the finished tasks as they ended and marks the one still running `cancelled`; once the
 * run has ended it is the run's own report. Real fixture server over stdio.
 */
import { describe, expect, it } from 'vitest';
import { createRun, loadWorkflow, type RunReport } from '../../src/index.js';
import { fixtureServer } from '../support/fixture.js';

describe('run.reportSoFar()', () => {
  it('mid-run: finished tasks as they ended, the running one cancelled, the rest skipped; after the end: the final report', async () => {
    const run = createRun(
      await loadWorkflow({
        name: 'so-far',
        servers: { fx: fixtureServer() },
        tasks: [
          { id: 'done', server: 'fx', tool: 'echo', args: { text: 'finished' } },
          { id: 'waits', server: 'fx', tool: 'hang' },
          { id: 'later', server: 'fx', tool: 'echo', args: { text: 'never' } },
        ],
      }),
    );
    expect(run.reportSoFar()).toBeUndefined();
    let midRun: RunReport | undefined;
    run.events$.subscribe((event) => {
      if (event.type !== 'task.started' || event.task.id !== 'waits') return;
      // After this event has reached every subscriber (the run's synthesizer subscribed after this test did).
      queueMicrotask(() => {
        midRun = run.reportSoFar('a second SIGINT');
        run.cancel('test');
      });
    });
    const report = await run.start();

    expect(midRun).toMatchObject({ status: 'failed', error: { code: 'CANCELLED' } });
    expect(midRun?.error?.message).toContain('a second SIGINT');
    expect(midRun?.tasks).toMatchObject([
      { id: 'done', status: 'completed', text: 'finished' },
      { id: 'waits', status: 'cancelled', text: 'still running when the run was interrupted' },
      { id: 'later', status: 'skipped' },
    ]);
    expect(run.reportSoFar()).toBe(report);
  });
});
