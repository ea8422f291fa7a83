/**
 * Servers that outlive a run: one ensemble, many runs (one after another and
 * at once) over the same warm processes; pools that know which replicas are
 * alive; one process per server, shared by the servers it stands in for; and
 * snapshots that are plain data.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { listLiveGroups } from '../../actors/process-group.js';
import { createEnsemble, type BusEvent, type BusEventOf, type Ensemble } from '../../src/index.js';
import { createTempDir, fixtureServer, isProcessAlive } from '../support/fixture.js';

let ensemble: Ensemble | undefined;
afterEach(async () => {
  await ensemble?.close();
  ensemble = undefined;
});

const pidOf = (text: string) => (JSON.parse(text) as { pid: number }).pid;

/** True when nothing in the value is a live object with methods (an actor ref, a session): plain data only. */
function isPlainData(value: unknown, seen = new Set<unknown>()): boolean {
  if (value === null || typeof value !== 'object') return typeof value !== 'function';
  if (seen.has(value)) return false; // a cycle is not JSON either
  seen.add(value);
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== Array.prototype && prototype !== null) return false;
  const ok = Object.values(value).every((item) => isPlainData(item, seen));
  seen.delete(value);
  return ok;
}

describe('an ensemble of warm servers', () => {
  it('runs 20 workflows in a row and 5 at once over one process per server, and leaves none after close()', async () => {
    ensemble = createEnsemble({ servers: { fx: fixtureServer(), other: fixtureServer('--name', 'other') } });
    const workflow = { name: 'warm', tasks: [{ id: 'pids', server: 'fx', tool: 'pids' }, { id: 'more', server: 'other', tool: 'pids' }] };
    const pids = new Set<number>();
    for (let i = 0; i < 20; i++) {
      const report = await ensemble.run(workflow);
      expect(report.status).toBe('completed');
      pids.add(pidOf(report.tasks[0]!.text));
      pids.add(pidOf(report.tasks[1]!.text));
      expect(listLiveGroups()).toHaveLength(2);
    }
    const together = await Promise.all(Array.from({ length: 5 }, () => ensemble!.run(workflow)));
    for (const report of together) {
      expect(report.status).toBe('completed');
      pids.add(pidOf(report.tasks[0]!.text));
      pids.add(pidOf(report.tasks[1]!.text));
    }
    // Two declared servers, two processes, the whole time.
    expect(pids.size).toBe(2);
    expect(listLiveGroups()).toHaveLength(2);
    await ensemble.close();
    ensemble = undefined;
    expect(listLiveGroups()).toEqual([]);
    await vi.waitFor(() => {
      for (const pid of pids) expect(isProcessAlive(pid), `server ${pid} alive`).toBe(false);
    });
  });

  it('starts a lazy server on first use, an eager one at once, and takes servers a workflow adds', async () => {
    ensemble = createEnsemble({ servers: { lazy: fixtureServer(), eager: { ...fixtureServer('--name', 'eager'), start: 'eager' } } });
    const events: BusEvent[] = [];
    ensemble.events$.subscribe((event) => events.push(event));
    await vi.waitFor(() => expect(events.some((event) => event.type === 'server.joined' && event.server === 'eager')).toBe(true));
    expect(events.some((event) => event.type === 'server.state' && event.server === 'lazy')).toBe(false);
    const report = await ensemble.run({ name: 'adds', servers: { extra: fixtureServer('--name', 'extra') }, tasks: [{ id: 'a', server: 'lazy', tool: 'echo', args: { text: 'a' } }, { id: 'b', server: 'extra', tool: 'echo', args: { text: 'b' } }] });
    expect(report.status).toBe('completed');
    expect(report.output).toBe('a\nb');
    expect(Object.keys(ensemble.servers).sort()).toEqual(['eager', 'extra', 'lazy']);
    // A workflow may not redefine a server the ensemble has.
    await expect(ensemble.run({ name: 'clash', servers: { lazy: fixtureServer() }, tasks: [{ id: 'a', server: 'lazy', tool: 'noop' }] })).rejects.toMatchObject({
      code: 'INVALID_WORKFLOW',
      message: expect.stringContaining('servers.lazy: the ensemble already has a server "lazy"'),
    });
  });

  it('keeps the directory snapshot and every run snapshot plain data, after every step', async () => {
    ensemble = createEnsemble({ servers: { fx: { ...fixtureServer(), replicas: 2 } } });
    const run = await ensemble.createRun({
      name: 'snapshots',
      pattern: 'parallel',
      tasks: [
        { id: 'a', server: 'fx', tool: 'echo', args: { text: 'a' }, needs: [] },
        { id: 'b', server: 'fx', tool: 'echo', args: { text: '{{ tasks.a.text }}b' }, context: [{ server: 'fx', uri: 'fixture://config' }], needs: ['a'] },
        { id: 'c', server: 'fx', tool: 'noop', needs: [] },
      ],
    });
    let checked = 0;
    run.events$.subscribe(() => {
      for (const snapshot of [run.getPersistedSnapshot(), ensemble!.getPersistedSnapshot()]) {
        if (snapshot === undefined) continue;
        expect(isPlainData(snapshot)).toBe(true);
        expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
        checked++;
      }
    });
    const report = await run.start();
    expect(report.status).toBe('completed');
    expect(report.output).toBe('a\nab\nok');
    expect(checked).toBeGreaterThan(20);
  });
});

describe('pools that know which replicas are alive', () => {
  it('keeps a 60-task run going on the live replicas when one is killed, retries the idempotent call in flight, and takes the replica back once restored', async () => {
    const { dir, remove } = createTempDir();
    try {
      ensemble = createEnsemble({
        servers: { fx: { ...fixtureServer(), cwd: dir, replicas: 3, recovery: { initialDelayMs: 50, maxDelayMs: 100 }, idempotentTools: ['sleep'] } },
      });
      const directoryEvents: BusEvent[] = [];
      ensemble.events$.subscribe((event) => directoryEvents.push(event));
      const pidOfReplica = (replica: number) =>
        directoryEvents.find((event): event is BusEventOf<'server.state'> => event.type === 'server.state' && event.server === 'fx' && event.replica === replica && event.state === 'serving')?.pid;
      let killed: number | undefined;
      const tasks = Array.from({ length: 60 }, (_, i) => ({ id: `t${i}`, server: 'fx', tool: 'sleep', args: { ms: 20, text: `t${i}` }, needs: [] }));
      const events: BusEvent[] = [];
      const report = await ensemble.run(
        { name: 'pool', pattern: 'parallel', onError: 'continue', tasks },
        {
          trace: true,
          onEvent: (event) => {
            events.push(event);
            // Kill replica 2 while calls are in flight on it.
            if (killed === undefined && event.type === 'task.completed' && event.task.id === 't9') {
              killed = pidOfReplica(2);
              process.kill(killed!, 'SIGKILL');
            }
          },
        },
      );
      expect(killed).toBeGreaterThan(0);
      expect(report.status).toBe('completed');
      expect(report.tasks.filter((task) => task.status === 'completed')).toHaveLength(60);
      // The call in flight on the dead replica failed there and was served by a live one.
      const lost = events.filter((event): event is BusEventOf<'server.call.error'> => event.type === 'server.call.error' && event.replica === 2);
      expect(lost.length).toBeGreaterThan(0);
      for (const call of lost) {
        expect(events.some((event) => event.type === 'server.call.result' && event.callId === call.callId && event.replica !== 2)).toBe(true);
      }
      // After the death, no call went to replica 2 until it was restored.
      const withdrawn = directoryEvents.findIndex((event) => event.type === 'server.withdrawn' && event.replica === 2);
      expect(withdrawn).toBeGreaterThanOrEqual(0);
      expect((directoryEvents[withdrawn] as BusEventOf<'server.withdrawn'>).tools.map((tool) => tool.name)).toContain('sleep');

      await vi.waitFor(() => expect(directoryEvents.some((event) => event.type === 'server.restored' && event.replica === 2)).toBe(true), { timeout: 10_000 });
      // The restored replica serves again: three calls at once go to three replicas.
      const again: BusEvent[] = [];
      const second = await ensemble.run(
        { name: 'again', pattern: 'parallel', tasks: ['x', 'y', 'z'].map((id) => ({ id, server: 'fx', tool: 'sleep', args: { ms: 200 }, needs: [] })) },
        { trace: true, onEvent: (event) => again.push(event) },
      );
      expect(second.status).toBe('completed');
      const replicas = again.filter((event): event is BusEventOf<'server.call.result'> => event.type === 'server.call.result').map((event) => event.replica);
      expect(new Set(replicas)).toEqual(new Set([1, 2, 3]));
      expect(pidOfReplica(2)).toBe(killed);
      const restoredPid = [...directoryEvents].reverse().find((event): event is BusEventOf<'server.state'> => event.type === 'server.state' && event.replica === 2 && event.state === 'serving')?.pid;
      expect(restoredPid).not.toBe(killed);
    } finally {
      await ensemble?.close();
      ensemble = undefined;
      remove();
    }
  });
});

describe('a fallback is a directory member like any other', () => {
  it('runs one backup process, shared by two primaries that fall back to it and by its own tasks', async () => {
    const { dir, remove } = createTempDir();
    try {
      const backup = { server: 'backup', tools: { echo: { tool: 'echo' } } };
      ensemble = createEnsemble({
        servers: {
          one: { ...fixtureServer('--name', 'one'), replicas: 2, fallback: [backup] },
          two: { ...fixtureServer('--name', 'two'), fallback: [backup] },
          backup: { ...fixtureServer('--name', 'backup'), cwd: dir },
        },
      });
      const events: BusEvent[] = [];
      ensemble.events$.subscribe((event) => events.push(event));
      const report = await ensemble.run({
        name: 'shared',
        tasks: [
          { id: 'a', server: 'one', tool: 'echo', args: { text: 'a' } },
          { id: 'b', server: 'two', tool: 'echo', args: { text: 'b' } },
          { id: 'c', server: 'backup', tool: 'pids' },
        ],
      });
      expect(report.status).toBe('completed');
      const backupPids = new Set(events.filter((event) => event.type === 'server.state' && event.server === 'backup' && event.state === 'serving').map((event) => (event as BusEventOf<'server.state'>).pid));
      expect(backupPids.size).toBe(1);
      expect([...backupPids][0]).toBe(pidOf(report.tasks[2]!.text));
      // one ×2, two, backup: four processes, not one backup per primary replica.
      expect(listLiveGroups()).toHaveLength(4);
    } finally {
      await ensemble?.close();
      ensemble = undefined;
      remove();
    }
  });

  it('falls back to a server an earlier run already started, and says so', async () => {
    ensemble = createEnsemble({
      servers: {
        backup: fixtureServer('--name', 'backup'),
        primary: { ...fixtureServer('--exit-at-start', '5'), fallback: [{ server: 'backup', tools: { echo: { tool: 'echo' } } }] },
      },
    });
    expect((await ensemble.run({ name: 'first', tasks: [{ id: 'a', server: 'backup', tool: 'noop' }] })).status).toBe('completed');
    const report = await ensemble.run({ name: 'second', tasks: [{ id: 'b', server: 'primary', tool: 'echo', args: { text: 'via backup' } }] });
    expect(report.status).toBe('degraded');
    expect(report.tasks[0]).toMatchObject({ status: 'completed', text: 'via backup', servedBy: 'backup' });
    expect(report.notifications.map((notice) => notice.message)).toContainEqual(expect.stringMatching(/^server "primary" is unavailable \(.*exited with code 5.*\); its calls now go to backup/));
  });

  it('does not fail a run when a server used only as a fallback cannot start', async () => {
    ensemble = createEnsemble({
      servers: {
        main: { ...fixtureServer(), fallback: [{ server: 'spare', tools: { echo: { tool: 'echo' } } }] },
        spare: fixtureServer('--exit-at-start', '4'),
      },
    });
    const events: BusEvent[] = [];
    const report = await ensemble.run({ name: 'spare', tasks: [{ id: 'a', server: 'main', tool: 'echo', args: { text: 'fine' } }] }, { onEvent: (event) => events.push(event) });
    expect(report.status).toBe('completed');
    expect(report.output).toBe('fine');
    // Reported all the same.
    expect(events.some((event) => event.type === 'server.state' && event.server === 'spare' && event.state === 'unavailable' && event.error?.message.includes('exited with code 4'))).toBe(true);
  });
});
