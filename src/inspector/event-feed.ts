/**
 * The feed the inspector and the trace share: XState inspection events (converted to
 * `@statelyai/inspect`'s shapes) and bus events, each redacted, cut to the payload cap and
 * serialized once, then handed to every listener in order.
 */
import type { Observable, Subscription } from 'rxjs';
import type { InspectionEvent, Observer } from 'xstate';
import type { BusEvent } from '../core/bus-events.js';
import { toCappedValue } from './capped-value.js';
import { toInspectionRecord } from './inspection-record.js';
import type { FeedEvent } from './inspector-model.js';

export interface EventFeedConfig {
  /**
   * Called on every event before it is recorded or shown: return the event to keep (changed or
   * not), or undefined to drop it. Use it to mask secrets in arguments and results.
   */
  redact?: (event: FeedEvent) => FeedEvent | undefined;
  /** Characters kept of each payload (context, event, result); the rest is cut. Default 16384. */
  maxPayloadChars?: number;
}

export type FeedListener = (event: FeedEvent, json: string) => void;

export interface EventFeed {
  /** XState's `inspect` observer: pass it as the run's `inspect` option. */
  readonly inspect: Observer<InspectionEvent>;
  /** Records every event of a run's bus until it completes; returns the subscription. */
  attachBus(events$: Observable<BusEvent>): Subscription;
  /** Records an event that already has the feed's shape (a trace line). */
  push(event: FeedEvent): void;
  /** Listens to every event from now on; returns the unsubscribe function. */
  listen(listener: FeedListener): () => void;
  /** Hands every queued event to the listeners now (before a trace closes). */
  drain(): void;
}

export const DEFAULT_MAX_PAYLOAD_CHARS = 16384;

/**
 * @example
 * const feed = createEventFeed({ redact: (event) => event });
 * feed.listen((event, json) => process.stdout.write(json + '\n'));
 * const run = createRun(workflow, { inspect: feed.inspect });
 * feed.attachBus(run.events$);
 */
export function createEventFeed(config: EventFeedConfig = {}): EventFeed {
  const maxPayloadChars = config.maxPayloadChars ?? DEFAULT_MAX_PAYLOAD_CHARS;
  const listeners = new Set<FeedListener>();
  const emit = (event: FeedEvent): void => {
    const kept = config.redact ? config.redact(event) : event;
    if (kept === undefined || listeners.size === 0) return;
    const json = JSON.stringify(kept);
    for (const listener of listeners) listener(kept, json);
  };
  // Events are converted after the step that raised them, in one batch: the run goes on (its call
  // is on its way to the server) while they are cut and serialized. XState snapshots, contexts and
  // events are immutable, so a later conversion sees what was true then. One queue for both kinds
  // keeps their order.
  let queue: (() => FeedEvent | undefined)[] = [];
  let scheduled = false;
  const drain = (): void => {
    scheduled = false;
    const batch = queue;
    queue = [];
    for (const convert of batch) {
      let event: FeedEvent | undefined;
      try {
        event = convert();
      } catch {
        // What the inspector cannot record must never break the run it watches.
        continue;
      }
      if (event) emit(event);
    }
  };
  const enqueue = (convert: () => FeedEvent | undefined): void => {
    if (listeners.size === 0) return;
    queue.push(convert);
    if (!scheduled) {
      scheduled = true;
      setImmediate(drain);
    }
  };
  return {
    inspect: {
      next(event) {
        if (event.type === '@xstate.actor') {
          // Its snapshot is read now (the actor changes later); not while a root actor initializes.
          const snapshot = readSnapshotNow(event);
          enqueue(() => toInspectionRecord(event, maxPayloadChars, snapshot));
        } else if (event.type === '@xstate.snapshot' || event.type === '@xstate.event' || event.type === '@xstate.microstep') {
          enqueue(() => toInspectionRecord(event, maxPayloadChars));
        }
      },
    },
    attachBus(events$) {
      return events$.subscribe((event) => {
        enqueue(() => {
          const capped = toCappedValue(event, maxPayloadChars);
          return typeof capped === 'object' && capped !== null && 'type' in capped && typeof capped.type === 'string' ? { ...capped, type: capped.type } : undefined;
        });
      });
    },
    push: (event) => enqueue(() => event),
    listen(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    drain,
  };
}

function readSnapshotNow(event: InspectionEvent): unknown {
  try {
    return event.actorRef.getSnapshot();
  } catch {
    return { status: 'active' };
  }
}
