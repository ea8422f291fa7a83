/**
 * XState inspection events as `@statelyai/inspect` sends them (`{ type: '@xstate.snapshot',
 * sessionId, snapshot, event, _version, createdAt, id, rootId }` and so on), so a trace also
 * plays in Stately's tools. Payloads (contexts, events) are cut to a size budget.
 */
import type { InspectionEvent } from 'xstate';
import { toCappedValue } from './capped-value.js';
import type { FeedEvent } from './inspector-model.js';

/** The `@statelyai/inspect` version whose event shapes these follow. */
export const STATELY_INSPECT_VERSION = '0.7.2';

/**
 * A machine's context is sent with every snapshot (several per task) and holds the whole run
 * (workflow, results so far): only its start is kept, whatever the payload cap.
 */
const MAX_CONTEXT_CHARS = 512;

/** Definitions are our own machines (trusted, ≈ 10 KB each): a generous bound all the same. */
const MAX_DEFINITION_CHARS = 256 * 1024;

/**
 * Converts one XState inspection event, or returns undefined for kinds the inspector does not
 * record (`@xstate.action`, `@xstate.transition`).
 */
export function toInspectionRecord(event: InspectionEvent, maxPayloadChars: number, actorSnapshot?: unknown): FeedEvent | undefined {
  const base = { sessionId: event.actorRef.sessionId, _version: STATELY_INSPECT_VERSION, createdAt: Date.now().toString(), id: null, rootId: event.rootId };
  switch (event.type) {
    case '@xstate.actor': {
      // The inspection type names only `ActorRefLike`; the actor behind it is an `Actor`, read defensively.
      const actorRef: object = event.actorRef;
      const ownId = 'id' in actorRef && typeof actorRef.id === 'string' ? actorRef.id : event.actorRef.sessionId;
      const logic = 'logic' in actorRef ? actorRef.logic : undefined;
      // A root actor's id is its session id; like Stately, name it after its machine then.
      const machineId = typeof logic === 'object' && logic !== null && 'id' in logic && typeof logic.id === 'string' ? logic.id : undefined;
      const name = ownId === event.actorRef.sessionId && machineId !== undefined ? machineId : ownId;
      const parent = '_parent' in actorRef && typeof actorRef._parent === 'object' && actorRef._parent !== null && 'sessionId' in actorRef._parent ? actorRef._parent.sessionId : undefined;
      const definition = readDefinition(logic);
      return {
        type: '@xstate.actor',
        name,
        definition: definition ?? JSON.stringify({ id: name }),
        ...base,
        parentId: typeof parent === 'string' ? parent : undefined,
        snapshot: toSnapshotRecord(actorSnapshot ?? readSnapshot(event.actorRef), maxPayloadChars),
      };
    }
    case '@xstate.event':
      return { type: '@xstate.event', event: toCappedEvent(event.event, maxPayloadChars), sourceId: event.sourceRef?.sessionId, ...base };
    case '@xstate.snapshot':
      return { type: '@xstate.snapshot', event: toCappedEvent(event.event, maxPayloadChars), snapshot: toSnapshotRecord(event.snapshot, maxPayloadChars), ...base };
    case '@xstate.microstep':
      return {
        type: '@xstate.microstep',
        // The snapshot event that follows carries the payload; a microstep names its event only.
        event: { type: event.event.type },
        value: readValue(event.snapshot),
        transitions: event._transitions.map((transition) => ({
          source: `#${transition.source.id}`,
          targets: (transition.target ?? []).map((target) => `#${target.id}`),
          eventType: transition.eventType,
        })),
        ...base,
      };
    default:
      return undefined;
  }
}

/**
 * One XState event reaches the inspector several times (as `@xstate.event`, in each microstep and
 * in the snapshot): it is cut once. Events are never mutated, so the copy stays right.
 */
const cappedEvents = new WeakMap<object, { cap: number; value: unknown }>();

function toCappedEvent(event: object, maxPayloadChars: number): unknown {
  const known = cappedEvents.get(event);
  if (known && known.cap === maxPayloadChars) return known.value;
  const value = toCappedValue(event, maxPayloadChars);
  cappedEvents.set(event, { cap: maxPayloadChars, value });
  return value;
}

/** A context is the same object across the snapshots of the steps that did not assign: cut once. */
const cappedContexts = new WeakMap<object, { cap: number; value: unknown }>();

function toCappedContext(context: unknown, maxChars: number): unknown {
  if (typeof context !== 'object' || context === null) return toCappedValue(context, maxChars);
  const known = cappedContexts.get(context);
  if (known && known.cap === maxChars) return known.value;
  const value = toCappedValue(context, maxChars);
  cappedContexts.set(context, { cap: maxChars, value });
  return value;
}

/** A machine's definition as JSON (`machine.toJSON()`); undefined for other logic. */
function readDefinition(logic: unknown): string | undefined {
  if (typeof logic !== 'object' || logic === null || !('definition' in logic) || !('root' in logic)) return undefined;
  try {
    const json = JSON.stringify(logic.definition);
    return json.length <= MAX_DEFINITION_CHARS ? json : undefined;
  } catch {
    return undefined;
  }
}

/** A root actor is announced while it initializes, when its snapshot cannot be read yet. */
function readSnapshot(actorRef: { getSnapshot(): unknown }): unknown {
  try {
    return actorRef.getSnapshot();
  } catch {
    return { status: 'active' };
  }
}

function readValue(snapshot: unknown): unknown {
  return typeof snapshot === 'object' && snapshot !== null && 'value' in snapshot ? toCappedValue(snapshot.value, 4096) : undefined;
}

/** The snapshot's status and value whole, the rest (context, output, error) within the budget. */
function toSnapshotRecord(snapshot: unknown, maxPayloadChars: number): Record<string, unknown> {
  if (typeof snapshot !== 'object' || snapshot === null) return { status: 'active' };
  const record: Record<string, unknown> = { status: 'status' in snapshot ? snapshot.status : 'active' };
  if ('value' in snapshot) record.value = toCappedValue(snapshot.value, 4096);
  if ('context' in snapshot) record.context = toCappedContext(snapshot.context, Math.min(MAX_CONTEXT_CHARS, maxPayloadChars));
  if ('output' in snapshot && snapshot.output !== undefined) record.output = toCappedValue(snapshot.output, maxPayloadChars);
  if ('error' in snapshot && snapshot.error !== undefined) record.error = toCappedValue(snapshot.error, maxPayloadChars);
  if ('children' in snapshot && typeof snapshot.children === 'object' && snapshot.children !== null) record.children = Object.keys(snapshot.children);
  return record;
}
