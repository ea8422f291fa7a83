/**
 * Model-based tests of the degradation machine (the control plane of one
 * server with a fallback chain): paths are generated with @xstate/graph over
 * two chains (a server fallback then the built-in files; a server fallback
 * alone, so `down` is reachable), every edge is extended, and each path is
 * replayed on a live machine run as the child of a tiny parent that records
 * the `degradation.notify` notices it gets. Every step checks the live machine
 * against the pure model, its context against what the events said, and the
 * notices against the wording a person reads. The suite fails when any state
 * or transition of the definition is never reached.
 */
import { createActor, fromCallback, initialTransition, transition, type AnyActorRef, type AnyEventObject, type InspectionEvent, type SnapshotFrom } from 'xstate';
import { afterAll, describe, expect, it } from 'vitest';
import type { ErrorInfo } from '../../src/core/errors.js';
import type { ToolInfo } from '../../src/core/results.js';
import type { FallbackSpec } from '../../src/core/workflow.js';
import { degradationMachine, type DegradationEvent, type DegradationInput, type DegradationNotice } from '../../machines/degradation.machine.js';
import { createCoverage, createMachineModel, listEdgePaths } from '../support/transition-coverage.js';
import { BUILTIN_FILES, CC_TOOLS, createDegradationInput, failure, FS_FALLBACK } from './degradation-input.js';

type Snapshot = SnapshotFrom<typeof degradationMachine>;
type Mode = 'starting' | 'normal' | 'unavailable' | 'fallback' | 'down' | 'recovery';

interface Case {
  label: string;
  input: DegradationInput;
}

const cases: Case[] = [
  { label: 'fs then builtin files', input: createDegradationInput([FS_FALLBACK, BUILTIN_FILES]) },
  { label: 'fs alone', input: createDegradationInput([FS_FALLBACK]) },
];

/** What each step can serve of cc's tools, written out here rather than read from the routing code. */
const SERVES: Record<string, readonly string[]> = { fs: ['Write'], 'builtin:files': ['Write', 'Read'] };
const stepName = (step: FallbackSpec) => (step.kind === 'server' ? step.server : 'builtin:files');

const START_FAILED = failure('spawn claude ENOENT', 'SERVER_START_FAILED');
const EXITED = failure('process exited with code 1');

/**
 * What the directory can tell the machine in each state: every event kind,
 * in every mode (a late or repeated report must not confuse it). Attempt
 * numbers differ by mode so a notice is seen to take its number from the event.
 */
function eventsFor(snapshot: Snapshot): DegradationEvent[] {
  const mode = snapshot.value as Mode;
  const events: DegradationEvent[] = [
    { type: 'primary.serving', tools: CC_TOOLS },
    { type: 'primary.unavailable', error: mode === 'starting' ? START_FAILED : EXITED },
    { type: 'primary.recovering', attempt: mode === 'fallback' || mode === 'recovery' ? 2 : 1 },
  ];
  snapshot.context.chain.forEach((step, index) => {
    // The directory reports only server steps: the built-in files have no members.
    if (step.kind === 'server') events.push({ type: 'fallback.changed', step: index, serving: true }, { type: 'fallback.changed', step: index, serving: false });
  });
  return events;
}

/** A short name for an event, for test titles. */
function label(event: DegradationEvent): string {
  if (event.type === 'primary.serving') return 'cc serving';
  if (event.type === 'primary.unavailable') return `cc unavailable (${event.error.code})`;
  if (event.type === 'primary.recovering') return `cc recovering #${event.attempt}`;
  return `step ${event.step} ${event.serving ? 'serving' : 'failed'}`;
}

const model = createMachineModel(degradationMachine);
const generationStarted = performance.now();
const shortest = new Map(cases.map((entry) => [entry, model.getShortestPaths({ input: entry.input, events: eventsFor })]));
const paths = cases.flatMap((entry) => listEdgePaths(shortest.get(entry)!, eventsFor).map((path) => ({ entry, path })));
const generationMs = performance.now() - generationStarted;

// `starting` is entered only by `xstate.init`, which the helper does not count, but
// its own `fallback.changed` self-transition is a microstep in it: no workaround needed.
const coverage = createCoverage(degradationMachine);

/** The machine under a parent that keeps every notice it is sent. */
function startDegradation(input: DegradationInput, inspect?: (event: InspectionEvent) => void) {
  const notices: DegradationNotice[] = [];
  const others: AnyEventObject[] = [];
  // The child joins its parent's actor system, so inspection is set on the parent.
  const parent = createActor(
    fromCallback<AnyEventObject>(({ receive }) => receive((event) => (event.type === 'degradation.notify' ? notices.push(event as DegradationNotice) : others.push(event)))),
    inspect ? { inspect } : {},
  ).start();
  const actor = createActor(degradationMachine, { input, parent: parent as AnyActorRef });
  actor.start();
  return { actor, notices, others, stop: () => parent.stop() };
}

/** What the events said so far, kept by the test itself: the context must agree. */
interface World {
  ready: boolean[];
  settled: boolean[];
  primaryTools: ToolInfo[];
  /** The error that began the current (or last) outage. */
  cause?: ErrorInfo;
}

const PRIMARY_UP: readonly Mode[] = ['starting', 'normal', 'recovery'];
const DEGRADED: readonly Mode[] = ['unavailable', 'fallback', 'down', 'recovery'];

function observe(world: World, mode: Mode, event: DegradationEvent): World {
  const next: World = { ...world, ready: [...world.ready], settled: [...world.settled] };
  if (event.type === 'fallback.changed') {
    next.ready[event.step] = event.serving;
    next.settled[event.step] = true;
  }
  if (event.type === 'primary.serving') next.primaryTools = event.tools;
  // Only a primary that was up (or starting, or being retried) can begin an outage; a repeated report is no news.
  if (event.type === 'primary.unavailable' && PRIMARY_UP.includes(mode)) next.cause = event.error;
  return next;
}

const notice = (level: 'info' | 'warning' | 'error', what: string): DegradationNotice => ({ type: 'degradation.notify', notification: { level, server: 'cc', message: `server "cc" ${what}` } });

function fallbackNotice(input: DegradationInput, world: World): DegradationNotice {
  const ready = input.chain.filter((_, index) => world.ready[index]).map(stepName);
  const served = new Set(ready.flatMap((name) => SERVES[name] ?? []));
  const reduced = world.primaryTools.map((tool) => tool.name).filter((name) => !served.has(name));
  const lost = reduced.length > 0 ? `; reduced functionality, no fallback for: ${reduced.join(', ')}` : '';
  return notice('warning', `is unavailable (${world.cause!.message}); its calls now go to ${ready.join(', then ')}${lost}`);
}

/** The notices one step must produce, and no others. */
function expectedNotices(input: DegradationInput, before: Mode, event: DegradationEvent, after: Mode, world: World): DegradationNotice[] {
  const expected: DegradationNotice[] = [];
  if (event.type === 'primary.recovering' && (before === 'unavailable' || before === 'fallback' || before === 'down')) {
    expected.push(notice('info', `recovery attempt ${event.attempt} started`));
  }
  // Entering fallback announces it; going back to it from a failed recovery attempt does not repeat it.
  if (after === 'fallback' && before !== 'fallback' && before !== 'recovery') expected.push(fallbackNotice(input, world));
  if (after === 'down' && before !== 'down') expected.push(notice('error', `is unavailable (${world.cause!.message}) and no fallback can serve its calls`));
  if (after === 'normal' && DEGRADED.includes(before)) expected.push(notice('info', 'recovered: calls go to it again'));
  return expected;
}

const relevant = (snapshot: Snapshot) => ({ value: snapshot.value, context: snapshot.context });

describe('degradation machine, model-based', () => {
  afterAll(() => {
    // Runs after every path: the generated paths must cover the whole definition.
    expect(coverage.missingStates(), 'states no path reached').toEqual([]);
    expect(coverage.missingTransitions(), 'transitions no path took').toEqual([]);
  });

  it('generates paths for both chains, quickly, reaching every mode that chain can reach', () => {
    for (const entry of cases) {
      const reached = new Set(shortest.get(entry)!.flatMap((path) => [path.state, ...path.steps.map((step) => step.state)]).map((state) => state.value));
      const reachable = entry.input.chain.some((step) => step.kind === 'builtin')
        ? ['starting', 'normal', 'fallback', 'recovery']
        : ['starting', 'normal', 'unavailable', 'fallback', 'down', 'recovery'];
      expect([...reached].sort(), entry.label).toEqual([...reachable].sort());
      expect(paths.filter((path) => path.entry === entry).length, entry.label).toBeGreaterThan(40);
    }
    expect(generationMs).toBeLessThan(5000);
  });

  paths.forEach(({ entry, path }, index) => {
    it(`${entry.label} #${index}: ${path.events.map(label).join(' → ') || '(start)'}${path.expected ? ` ⇒ ${String(path.expected.value)}` : ' (edge)'}`, () => {
      const { input } = entry;
      const live = startDegradation(input, coverage.inspect);
      let [expected] = initialTransition(degradationMachine, input);
      let world: World = { ready: input.chain.map((step) => step.kind === 'builtin'), settled: input.chain.map((step) => step.kind === 'builtin'), primaryTools: [] };
      checkInvariants(input, live.actor.getSnapshot(), world, live.notices);
      for (const event of path.events) {
        const before = live.actor.getSnapshot();
        const noticesBefore = live.notices.length;
        world = observe(world, before.value as Mode, event);
        live.actor.send(event);
        [expected] = transition(degradationMachine, expected, event);
        const snapshot = live.actor.getSnapshot();
        expect(relevant(snapshot), `after ${event.type}`).toEqual(relevant(expected));
        expect(live.notices.slice(noticesBefore), `notices for ${before.value} → ${JSON.stringify(event)}`).toEqual(
          expectedNotices(input, before.value as Mode, event, snapshot.value as Mode, world),
        );
        checkInvariants(input, snapshot, world, live.notices);
      }
      if (path.expected) expect(relevant(live.actor.getSnapshot())).toEqual(relevant(path.expected));
      // Notices are all the machine ever sends its parent.
      expect(live.others).toEqual([]);
      live.stop();
    });
  });
});

/** What must hold in whichever state a step ends. */
function checkInvariants(input: DegradationInput, snapshot: Snapshot, world: World, notices: DegradationNotice[]): void {
  const { context } = snapshot;
  const mode = snapshot.value as Mode;
  expect(snapshot.status).toBe('active');
  expect(context).toEqual({ name: 'cc', chain: input.chain, fallbackReady: world.ready, fallbackSettled: world.settled, primaryTools: world.primaryTools, cause: world.cause });
  // The built-in files serve from the start and nothing says otherwise.
  input.chain.forEach((step, index) => {
    if (step.kind === 'builtin') expect([context.fallbackReady[index], context.fallbackSettled[index]]).toEqual([true, true]);
  });
  for (const entry of notices) expect(entry.notification).toMatchObject({ server: 'cc', message: expect.stringMatching(/^server "cc" /) });
  const last = notices.at(-1)?.notification;

  if (mode === 'starting') {
    // Nothing to say before the primary has settled, whatever the fallbacks do.
    expect(notices).toEqual([]);
    expect(context.primaryTools).toEqual([]);
  }
  if (mode === 'normal') {
    expect(context.primaryTools).toEqual(CC_TOOLS);
    if (notices.length > 0) expect(last!.message).toBe('server "cc" recovered: calls go to it again');
  }
  if (mode === 'unavailable') {
    // Waiting: no fallback serves yet, and one has still to say whether it started.
    expect(context.fallbackReady.some(Boolean)).toBe(false);
    expect(context.fallbackSettled.every(Boolean)).toBe(false);
    expect(notices.filter((entry) => entry.notification.level !== 'info')).toEqual([]);
  }
  if (mode === 'down') {
    expect(context.fallbackReady.some(Boolean)).toBe(false);
    expect(context.fallbackSettled.every(Boolean)).toBe(true);
    expect(notices.filter((entry) => entry.notification.level !== 'info').at(-1)?.notification).toEqual({
      level: 'error',
      server: 'cc',
      message: `server "cc" is unavailable (${context.cause!.message}) and no fallback can serve its calls`,
    });
  }
  if (mode === 'fallback' || mode === 'recovery') {
    // The person was told which server, why, and where its calls went.
    const warning = notices.filter((entry) => entry.notification.level === 'warning').at(-1)?.notification;
    expect(warning?.message).toMatch(/^server "cc" is unavailable \(.+\); its calls now go to (fs|builtin:files)(, then builtin:files)?(;|$)/);
    // What is reduced is named when the primary's tools are known, and never when it never started.
    if (context.primaryTools.length === 0) expect(warning?.message).not.toContain('reduced functionality');
  }
  if (mode === 'recovery') expect(last?.message).toMatch(/^server "cc" recovery attempt \d+ started$/);
}
