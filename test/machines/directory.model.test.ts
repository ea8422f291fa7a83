/**
 * Model-based tests of the server directory machine: paths are generated with
 * @xstate/graph over a directory holding `cc` (two replicas, falling back to
 * the server `fx`) and `fx` (one replica, no recovery), every edge is
 * extended, and each path is replayed on a live directory whose members are
 * recording fakes (their reports are simulated by sending `member.state` to
 * the directory, as a member would), whose degradation machines are the real
 * one, and whose engine ports (`memberChanged`, `notify`) record their calls.
 * Every step checks the members' summary, that the context stays plain data,
 * and which pool-level event each degradation machine was told. The suite
 * fails when any state or transition of the definition is never reached.
 */
import { createActor, fromCallback, initialTransition, transition, type AnyActorRef, type AnyEventObject, type InspectionEvent, type SnapshotFrom } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { ErrorInfo } from '../../src/core/errors.js';
import type { ToolInfo } from '../../src/core/results.js';
import type { ServerLifecycle, ServerMemberInput } from '../../src/core/server-port.js';
import type { ServerSpec } from '../../src/core/workflow.js';
import { degradationMachine, type DegradationEvent, type DegradationNotice } from '../../machines/degradation.machine.js';
import { directoryMachine, memberSystemId, type DirectoryEvent, type DirectoryServer, type MemberSummary } from '../../machines/directory.machine.js';
import type { MemberStateReport, ServerMachine } from '../../machines/server.machine.js';
import { createCoverage, createMachineModel, listEdgePaths } from '../support/transition-coverage.js';
import { failure, stdio } from './degradation-input.js';

type Snapshot = SnapshotFrom<typeof directoryMachine>;

/** `cc`: two replicas, one recovery attempt each, falling back to `fx`. */
const CC: ServerSpec = {
  ...stdio('claude', 2),
  fallback: [{ kind: 'server', server: 'fx', tools: { Write: { tool: 'write_file', args: { path: '{{ args.file_path }}', content: '{{ args.content }}' } } } }],
  recovery: { initialDelayMs: 10, maxDelayMs: 100, factor: 2, maxAttempts: 1 },
  idempotentTools: [],
};
/** `fx`: one process, no recovery: its first unavailability is final. */
const FX: ServerSpec = stdio('fx');
const SERVERS: DirectoryServer[] = [
  { name: 'cc', spec: CC, timeoutMs: 1000 },
  { name: 'fx', spec: FX, timeoutMs: 500 },
];
const MEMBERS = [
  { member: 'cc#1', server: 'cc', replica: 1, pid: 101 },
  { member: 'cc#2', server: 'cc', replica: 2, pid: 102 },
  { member: 'fx#1', server: 'fx', replica: 1, pid: 201 },
] as const;
type MemberRow = (typeof MEMBERS)[number];

const TOOLS: Record<string, ToolInfo[]> = { cc: [{ name: 'Write' }, { name: 'Bash' }], fx: [{ name: 'write_file' }] };
/** Errors that leave a `cc` member backing off; any other unavailability is final. */
const BACKING_OFF: ErrorInfo['code'] = 'SERVER_UNAVAILABLE';

const add: DirectoryEvent = { type: 'directory.add', servers: SERVERS };
/** Adding a server the directory already has changes nothing. */
const addAgain: DirectoryEvent = { type: 'directory.add', servers: [SERVERS[0]!] };
const close: DirectoryEvent = { type: 'directory.close' };
const outsideNotice: DirectoryEvent = { type: 'degradation.notify', notification: { level: 'info', server: 'cc', message: 'server "cc" says hello' } };

const report = (row: MemberRow, state: ServerLifecycle, extra: Partial<MemberStateReport> = {}): MemberStateReport => ({
  type: 'member.state',
  member: row.member,
  server: row.server,
  replica: row.replica,
  state,
  ...extra,
});

/**
 * What each member can report next, as its lifecycle machine would: `cc`
 * members back off once, retry (recovering, probing) and give up on a failed
 * attempt; `fx` has no recovery, so its first unavailability is final.
 */
function reportsFor(row: MemberRow, summary: MemberSummary): MemberStateReport[] {
  const serving = report(row, 'serving', { tools: TOOLS[row.server]!, pid: row.pid });
  const recovers = row.server === 'cc';
  const lost = recovers
    ? report(row, 'unavailable', { error: failure('process exited with code 1', BACKING_OFF, row.server) })
    : report(row, 'unavailable', { error: failure('spawn fx ENOENT', 'SERVER_START_FAILED', row.server), final: true });
  const gaveUp = report(row, 'unavailable', { error: failure(`server "${row.server}" restarted but did not answer the probe ping`, 'HEALTH_CHECK_FAILED', row.server), final: true });
  switch (summary.state) {
    case 'connecting':
      return [serving, lost];
    case 'serving':
      return [serving, lost];
    case 'unavailable':
      return recovers && summary.error?.code === BACKING_OFF ? [report(row, 'recovering', { attempt: 1, error: summary.error })] : [];
    case 'recovering':
      return [report(row, 'probing'), gaveUp];
    case 'probing':
      return [serving, gaveUp];
    default:
      return [];
  }
}

function eventsFor(snapshot: Snapshot): DirectoryEvent[] {
  if (snapshot.matches('closed')) return [];
  const { members } = snapshot.context;
  if (Object.keys(members).length === 0) return [add, close];
  const reports = MEMBERS.flatMap((row) => reportsFor(row, members[row.member]!));
  // Events that change nothing here are offered where every member has at most served: enough to see them change nothing.
  const fresh = Object.values(members).every((member) => member.state === 'connecting' || member.state === 'serving');
  return [...reports, ...(fresh ? [outsideNotice, addAgain] : []), close];
}

/** A short name for an event, for test titles. */
function label(event: DirectoryEvent): string {
  if (event.type === 'member.state') return `${event.member} ${event.state}${event.final ? ' (final)' : ''}`;
  if (event.type === 'directory.add') return `add ${event.servers.map((server) => server.name).join('+')}`;
  if (event.type === 'degradation.notify') return 'notice';
  return 'close';
}

/** The model's state: a closed directory is closed, whatever its members were. */
const serializeState = (snapshot: Snapshot) => (snapshot.matches('closed') ? 'closed' : JSON.stringify({ value: snapshot.value, context: snapshot.context }));

/** Pure path generation spawns nothing live; the fake stands in for the member machine there too. */
const inertMember = fromCallback<AnyEventObject, ServerMemberInput>(() => undefined);
/** A fake member in the member machine's slot: the directory only spawns it and stops it, so the type is all that differs. */
const asMember = (logic: typeof inertMember) => logic as unknown as ServerMachine;
const modelMachine = directoryMachine.provide({ actors: { server: asMember(inertMember), degradation: degradationMachine } });
const model = createMachineModel(modelMachine);
const generationStarted = performance.now();
const shortest = model.getShortestPaths({ events: eventsFor, serializeState });
const paths = listEdgePaths(shortest, eventsFor, serializeState);
const generationMs = performance.now() - generationStarted;

// `open` is entered only by `xstate.init`, which the helper does not count, but
// its self-transitions are microsteps in it: no workaround needed.
const coverage = createCoverage(directoryMachine);

interface FakeMember {
  id: string;
  input: ServerMemberInput;
  received: AnyEventObject[];
  stopped: boolean;
}

/** A live directory with recording members and ports, and the events its degradation machines were sent. */
function startDirectory() {
  const fakes: FakeMember[] = [];
  const changed: MemberStateReport[] = [];
  const notified: DegradationNotice[] = [];
  const toDegradation: { id: string; event: DegradationEvent }[] = [];
  const fromDegradation: { id: string; event: DegradationNotice }[] = [];
  const server = fromCallback<AnyEventObject, ServerMemberInput>(({ input, self, receive }) => {
    const fake: FakeMember = { id: self.id, input, received: [], stopped: false };
    fakes.push(fake);
    receive((event) => fake.received.push(event));
    return () => {
      fake.stopped = true;
    };
  });
  const machine = directoryMachine.provide({
    actors: { server: asMember(server), degradation: degradationMachine },
    actions: {
      memberChanged: (_, changedReport) => changed.push(changedReport),
      notify: (_, notice) => notified.push(notice),
    },
  });
  const inspect = (event: InspectionEvent) => {
    coverage.inspect(event);
    if (event.type !== '@xstate.event' || event.event.type.startsWith('xstate.')) return;
    const target = (event.actorRef as AnyActorRef).id;
    const source = (event.sourceRef as AnyActorRef | undefined)?.id;
    if (target.startsWith('degradation:')) toDegradation.push({ id: target, event: event.event as DegradationEvent });
    if (event.event.type === 'degradation.notify' && source?.startsWith('degradation:')) fromDegradation.push({ id: source, event: event.event as DegradationNotice });
  };
  const actor = createActor(machine, { inspect });
  actor.start();
  return { actor, fakes, changed, notified, toDegradation, fromDegradation };
}

/** The summary the reports imply, kept by the test: the last state and error; the pid until the member is unavailable. */
function summarize(previous: MemberSummary | undefined, event: MemberStateReport): MemberSummary {
  const summary: MemberSummary = { server: event.server, replica: event.replica, state: event.state };
  if (event.error) summary.error = event.error;
  const pid = event.pid ?? previous?.pid;
  if (pid !== undefined && event.state !== 'unavailable') summary.pid = pid;
  return summary;
}

const serves = (members: Record<string, MemberSummary>, server: string) => Object.values(members).some((member) => member.server === server && member.state === 'serving');

/** The pool-level event one report means for `cc`'s degradation machine (primary `cc`, step 0 `fx`). */
function impliedDegradationEvents(event: MemberStateReport, membersAfter: Record<string, MemberSummary>): DegradationEvent[] {
  if (event.server === 'cc') {
    if (event.state === 'serving') return [{ type: 'primary.serving', tools: event.tools! }];
    if (event.state === 'recovering') return [{ type: 'primary.recovering', attempt: event.attempt! }];
    // One replica gone while another serves: the pool still serves, nothing to tell.
    if (event.state === 'unavailable' && !serves(membersAfter, 'cc')) return [{ type: 'primary.unavailable', error: event.error! }];
    return [];
  }
  if (event.state === 'serving') return [{ type: 'fallback.changed', step: 0, serving: true }];
  if (event.state === 'unavailable' && !serves(membersAfter, 'fx')) return [{ type: 'fallback.changed', step: 0, serving: false }];
  return [];
}

const WATCHERS = { cc: [{ degradation: 'degradation:cc', role: 'primary' }], fx: [{ degradation: 'degradation:cc', role: 0 }] };

describe('server directory machine, model-based', () => {
  afterAll(() => {
    // Runs after every path: the generated paths must cover the whole definition.
    expect(coverage.missingStates(), 'states no path reached').toEqual([]);
    expect(coverage.missingTransitions(), 'transitions no path took').toEqual([]);
  });

  it('generates paths, quickly, through every lifecycle state of every member', () => {
    const seen = new Set(shortest.flatMap((path) => [path.state, ...path.steps.map((step) => step.state)]).flatMap((state) => Object.entries(state.context.members).map(([id, member]) => `${id}:${member.state}`)));
    for (const state of ['connecting', 'serving', 'unavailable', 'recovering', 'probing']) for (const id of ['cc#1', 'cc#2']) expect(seen, `${id}:${state}`).toContain(`${id}:${state}`);
    for (const state of ['connecting', 'serving', 'unavailable']) expect(seen).toContain(`fx#1:${state}`);
    expect(paths.length).toBeGreaterThan(300);
    expect(generationMs).toBeLessThan(5000);
  });

  paths.forEach((path, index) => {
    it(`#${index}: ${path.events.map(label).join(' → ') || '(start)'}${path.expected ? '' : ' (edge)'}`, () => {
      const live = startDirectory();
      let [expected] = initialTransition(modelMachine, undefined);
      let members: Record<string, MemberSummary> = {};
      checkInvariants(live, members);
      for (const event of path.events) {
        const before = live.actor.getSnapshot();
        const marks = { changed: live.changed.length, notified: live.notified.length, to: live.toDegradation.length, from: live.fromDegradation.length, fakes: live.fakes.length };
        const open = before.matches('open');
        const firstAdd = open && event.type === 'directory.add' && Object.keys(before.context.members).length === 0;
        if (open && event.type === 'directory.add') {
          for (const { name, spec } of event.servers) for (let replica = 1; replica <= spec.replicas; replica++) members[`${name}#${replica}`] ??= { server: name, replica, state: 'connecting' };
        }
        if (open && event.type === 'member.state') members = { ...members, [event.member]: summarize(members[event.member], event) };

        live.actor.send(event);
        [expected] = transition(modelMachine, expected, event);
        const snapshot = live.actor.getSnapshot();
        const fromDegradation = live.fromDegradation.slice(marks.from);
        expect(
          {
            value: snapshot.value,
            context: snapshot.context,
            changed: live.changed.slice(marks.changed),
            toDegradation: live.toDegradation.slice(marks.to),
            notified: live.notified.slice(marks.notified),
            noticeSources: fromDegradation.map((entry) => [entry.id, entry.event.notification.server]),
            spawned: live.fakes.length - marks.fakes,
          },
          `after ${JSON.stringify(event)}`,
        ).toEqual({
          // The live directory agrees with the pure model.
          value: expected.value,
          context: expected.context,
          // The engine hears of every report, once, as the member sent it.
          changed: open && event.type === 'member.state' ? [event] : [],
          // cc's degradation machine gets the pool-level event the report implies, and nothing else.
          toDegradation: (open && event.type === 'member.state' ? impliedDegradationEvents(event, members) : []).map((entry) => ({ id: 'degradation:cc', event: entry })),
          // Every notice is passed on to the engine: the degradation machine's own, and any other sent here.
          notified: [...fromDegradation.map((entry) => entry.event), ...(open && event.type === 'degradation.notify' ? [event] : [])],
          noticeSources: fromDegradation.map(() => ['degradation:cc', 'cc']),
          // Members are spawned by the first add only.
          spawned: firstAdd ? MEMBERS.length : 0,
        });
        checkInvariants(live, members);
      }
      if (path.expected) expect(serializeState(live.actor.getSnapshot())).toBe(serializeState(path.expected));
      live.actor.stop();
    });
  });
});

/** What must hold after every step; gathered into one comparison, so a failure shows every fact at once. */
function checkInvariants(live: ReturnType<typeof startDirectory>, members: Record<string, MemberSummary>): void {
  const snapshot = live.actor.getSnapshot();
  const { context } = snapshot;
  // Plain data: the persisted snapshot survives JSON unchanged (no actor refs, no functions).
  const persisted = live.actor.getPersistedSnapshot();
  expect(JSON.parse(JSON.stringify(persisted)), 'persisted snapshot after a JSON round trip').toEqual(persisted);

  const added = Object.keys(members).length > 0;
  const closed = snapshot.matches('closed');
  const degradation = added && !closed ? (snapshot.children['degradation:cc']?.getSnapshot() as SnapshotFrom<typeof degradationMachine> | undefined) : undefined;
  const ccStates = Object.values(members).filter((member) => member.server === 'cc').map((member) => member.state);
  const fx = members['fx#1']?.state;
  const actual = {
    // The summary is what the reports said.
    members: context.members,
    watchers: context.watchers,
    status: snapshot.status,
    // One fake per member, started with its server's spec; the directory itself sends members nothing.
    fakes: live.fakes.map((fake) => ({ id: fake.id, input: fake.input, received: fake.received, stopped: fake.stopped })).sort((a, b) => a.id.localeCompare(b.id)),
    children: Object.entries(snapshot.children)
      .map(([id, child]) => [id, child!.getSnapshot().status])
      .sort(([a], [b]) => String(a).localeCompare(String(b))),
    degradation: degradation && {
      status: degradation.status,
      normal: degradation.matches('normal'),
      fallbackReady: degradation.context.fallbackReady,
      fallbackSettled: degradation.context.fallbackSettled,
      startingWithAllConnecting: degradation.matches('starting') ? ccStates.every((state) => state === 'connecting') : true,
      downWithFallbackGone: degradation.matches('down') ? fx === 'unavailable' : true,
    },
  };
  expect(actual).toEqual({
    members,
    watchers: added ? WATCHERS : {},
    // Final on close: every member is stopped (its process would end with it).
    status: closed ? 'done' : 'active',
    fakes: Object.keys(members)
      .sort()
      .map((id) => {
        const server = SERVERS.find((entry) => entry.name === members[id]!.server)!;
        return { id: memberSystemId(id), input: { name: server.name, replica: members[id]!.replica, spec: server.spec, timeoutMs: server.timeoutMs }, received: [], stopped: closed };
      }),
    // A degradation machine only for the server with a fallback chain, none for `fx`; all stopped on close.
    children: added ? ['degradation:cc', 'server:cc#1', 'server:cc#2', 'server:fx#1'].map((id) => [id, closed ? 'stopped' : 'active']) : [],
    // The degradation machine's mode follows the pools it was told about.
    degradation: added && !closed
      ? {
          status: 'active',
          normal: ccStates.includes('serving'),
          fallbackReady: [fx === 'serving'],
          fallbackSettled: [fx !== 'connecting'],
          startingWithAllConnecting: true,
          downWithFallbackGone: true,
        }
      : undefined,
  });
}
