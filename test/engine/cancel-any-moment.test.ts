/**
 * Cancel works at any moment: a `run.cancel()` before `start()`, right after it, or from a
 * subscriber of the run's first events ends the run as cancelled, never lost. The one task hangs
 * (a cancel that is lost would leave the run waiting for its call timeout, which fails the
 * assertion on the error's code). Real fixture server over stdio.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createEnsemble, createRun, loadWorkflow, type BusEvent, type Run, type RunReport } from '../../src/index.js';
import { fixtureServer } from '../support/fixture.js';

const hangingFlow = () => loadWorkflow({ name: 'cancel-any-moment', timeoutMs: 20_000, servers: { fx: fixtureServer() }, tasks: [{ id: 'waits', server: 'fx', tool: 'hang' }] });

function expectCancelled(report: RunReport): void {
  expect(report.status).toBe('failed');
  expect(report.error?.code).toBe('CANCELLED');
  expect(report.tasks.find((task) => task.id === 'waits')?.status).not.toBe('completed');
}

/** Starts a run that cancels itself from its subscriber on the first event of `type`. */
async function cancelOnFirst(run: Run, type: BusEvent['type']): Promise<RunReport> {
  let seen = false;
  run.events$.subscribe((event) => {
    if (seen || event.type !== type) return;
    seen = true;
    run.cancel(`on ${type}`);
  });
  const report = await run.start();
  expect(seen, `a ${type} event`).toBe(true);
  return report;
}

describe('cancel at any moment', () => {
  it('before start(): the run ends cancelled without starting a server', async () => {
    const run = createRun(await hangingFlow());
    const types: string[] = [];
    run.events$.subscribe((event) => types.push(event.type));
    run.cancel('before start');
    const report = await run.start();
    expectCancelled(report);
    expect(report.error?.message).toContain('before start');
    expect(types).not.toContain('server.state');
  });

  it('right after start(), in the same tick', async () => {
    const run = createRun(await hangingFlow());
    const started = run.start();
    run.cancel('right after start');
    expectCancelled(await started);
  });

  it.each(['run.started', 'run.phase', 'server.state', 'run.breakdown', 'task.started'] as const)('from a subscriber of the first %s event', async (type) => {
    expectCancelled(await cancelOnFirst(createRun(await hangingFlow()), type));
  });

  describe('on an ensemble’s warm servers', () => {
    const ensemble = createEnsemble({ servers: { fx: fixtureServer() } });
    afterAll(() => ensemble.close());
    const flow = { name: 'warm-cancel', timeoutMs: 20_000, tasks: [{ id: 'waits', server: 'fx', tool: 'hang' }] };

    it('right after start()', async () => {
      const run = await ensemble.createRun(flow);
      const started = run.start();
      run.cancel('right after start');
      expectCancelled(await started);
    });

    it('from a subscriber of run.started', async () => {
      expectCancelled(await cancelOnFirst(await ensemble.createRun(flow), 'run.started'));
    });
  });
});
