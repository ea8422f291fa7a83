/**
 * Coverage of a machine's definition by model-based paths: which state nodes
 * were entered and which transitions were taken, read from XState's own
 * inspection (`@xstate.microstep` carries the transitions it took; an
 * actor's first `@xstate.snapshot` carries the state `xstate.init` entered,
 * which no microstep reports).
 */
import { TestModel } from '@xstate/graph';
import type { ActorLogic, AnyStateMachine, AnyStateNode, EventFromLogic, InputFrom, InspectionEvent, SnapshotFrom } from 'xstate';

export interface Coverage {
  inspect: (event: InspectionEvent) => void;
  missingStates(): string[];
  missingTransitions(): string[];
}

/** A stable name for a transition: source, event, guard and targets. */
export function describeTransition(transition: { source: AnyStateNode; eventType: string; guard?: unknown; target?: readonly AnyStateNode[] | undefined }): string {
  const guard = transition.guard as { type?: string } | string | undefined;
  const guardName = typeof guard === 'string' ? guard : guard?.type ?? (typeof guard === 'function' ? 'inline' : '');
  const targets = (transition.target ?? []).map((node) => node.id).join(',') || '(self)';
  return `${transition.source.id} --${transition.eventType || 'always'}${guardName ? ` [${guardName}]` : ''}--> ${targets}`;
}

function listNodes(node: AnyStateNode): AnyStateNode[] {
  return [node, ...Object.values(node.states).flatMap((child) => listNodes(child as AnyStateNode))];
}

export function listTransitions(machine: AnyStateMachine): string[] {
  const all: string[] = [];
  for (const node of listNodes(machine.root)) {
    for (const transitions of node.transitions.values()) for (const transition of transitions) all.push(describeTransition(transition));
    for (const transition of node.always ?? []) all.push(describeTransition(transition));
  }
  return all;
}

export function createCoverage(machine: AnyStateMachine): Coverage {
  const states = new Set<string>();
  const transitions = new Set<string>();
  // Actors whose first snapshot (the initial state) has been counted.
  const started = new WeakSet<object>();
  const addNodes = (snapshot: unknown) => {
    for (const node of (snapshot as { _nodes?: AnyStateNode[] })._nodes ?? []) states.add(node.id);
  };
  return {
    inspect(event) {
      if (event.type === '@xstate.snapshot') {
        if (started.has(event.actorRef)) return;
        started.add(event.actorRef);
        addNodes(event.snapshot);
        return;
      }
      if (event.type !== '@xstate.microstep') return;
      for (const transition of event._transitions) transitions.add(describeTransition(transition));
      addNodes(event.snapshot);
    },
    missingStates: () => listNodes(machine.root).map((node) => node.id).filter((id) => !states.has(id)),
    missingTransitions: () => listTransitions(machine).filter((name) => !transitions.has(name)),
  };
}

/**
 * A test model over any machine, including ones that invoke actors or use
 * delays (`createTestModel` refuses those; path generation only needs the
 * machine's pure transitions, which work for every machine).
 */
export function createMachineModel<TMachine extends AnyStateMachine>(machine: TMachine) {
  return new TestModel(machine as unknown as ActorLogic<SnapshotFrom<TMachine>, EventFromLogic<TMachine>, InputFrom<TMachine>>);
}

export interface EdgePath<TSnapshot, TEvent> {
  description: string;
  /** Events to send after start, in order. */
  events: TEvent[];
  /** The state the model says the path ends in; absent for one-step extensions. */
  expected?: TSnapshot;
}

/**
 * Every edge of the model, not only every state. `getShortestPaths` returns
 * only maximal paths (those to final states, prefixes dropped), and a
 * transition that leads back to a state already reached lies on none of
 * them. So each state along each path is extended by every event it
 * accepts, once per (state, event).
 */
export function listEdgePaths<TSnapshot extends { value: unknown; context?: unknown }, TEvent extends { type: string }>(
  shortest: readonly { description: string; state: TSnapshot; steps: readonly { event: TEvent; state: TSnapshot }[] }[],
  eventsFor: (snapshot: TSnapshot) => readonly TEvent[],
  serialize: (snapshot: TSnapshot) => string = (snapshot) => JSON.stringify({ value: snapshot.value, context: snapshot.context }),
): EdgePath<TSnapshot, TEvent>[] {
  const seen = new Set<string>();
  const edges: EdgePath<TSnapshot, TEvent>[] = [];
  for (const path of shortest) {
    const label = path.description.replace(/\(\{.*?\}\): /, ': ');
    const events = path.steps.map((step) => step.event).filter((event) => event.type !== 'xstate.init');
    edges.push({ description: label, events, expected: path.state });
    path.steps.forEach((step, index) => {
      const prefix = path.steps.slice(0, index + 1).map((entry) => entry.event).filter((event) => event.type !== 'xstate.init');
      const state = serialize(step.state);
      for (const event of eventsFor(step.state)) {
        const key = `${state}|${JSON.stringify(event)}`;
        if (seen.has(key)) continue;
        seen.add(key);
        edges.push({ description: `${describeValue(step.state.value)} after ${prefix.length} events → ${describeEvent(event)}`, events: [...prefix, event] });
      }
    });
  }
  return edges;
}

function describeValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function describeEvent(event: { type: string }): string {
  const detail = ['callId', 'server', 'taskId'].map((key) => (event as Record<string, unknown>)[key]).filter((value) => value !== undefined);
  return detail.length > 0 ? `${event.type} (${detail.join(', ')})` : event.type;
}
