/**
 * Coverage of a machine's definition by model-based paths: which state nodes
 * were entered and which transitions were taken, read from XState's own
 * inspection (`@xstate.microstep` carries the transitions it took).
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
  return {
    inspect(event) {
      if (event.type !== '@xstate.microstep') return;
      for (const transition of event._transitions) transitions.add(describeTransition(transition));
      const nodes = (event.snapshot as { _nodes?: AnyStateNode[] })._nodes ?? [];
      for (const node of nodes) states.add(node.id);
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
