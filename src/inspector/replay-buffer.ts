/**
 * What a page that opens late is sent: the last `window` events, and before them every
 * `@xstate.actor` event that fell out of the window (a machine's definition is needed to draw it
 * whatever its age). Memory stays bounded: actors that finished are forgotten.
 */
import type { FeedEvent } from './inspector-model.js';

export interface ReplayBuffer {
  add(event: FeedEvent, json: string): void;
  /** The lines to send a new page, in feed order. */
  lines(): string[];
}

/** Machines alive at once stay few; a run that spawns without end is still bounded. */
const MAX_ACTORS = 2000;

export function createReplayBuffer(window: number): ReplayBuffer {
  // A ring of the last `window` lines, with the sequence number of each.
  const ring: { seq: number; json: string }[] = [];
  let start = 0;
  let seq = 0;
  const actors = new Map<string, { seq: number; json: string }>();
  return {
    add(event, json) {
      const entry = { seq: seq++, json };
      if (ring.length < window) ring.push(entry);
      else {
        ring[start] = entry;
        start = (start + 1) % window;
      }
      const sessionId = typeof event.sessionId === 'string' ? event.sessionId : undefined;
      if (sessionId === undefined) return;
      if (event.type === '@xstate.actor') {
        actors.set(sessionId, entry);
        if (actors.size > MAX_ACTORS) {
          const oldest = actors.keys().next();
          if (!oldest.done) actors.delete(oldest.value);
        }
      } else if (event.type === '@xstate.snapshot' && typeof event.snapshot === 'object' && event.snapshot !== null && 'status' in event.snapshot && event.snapshot.status !== 'active') {
        actors.delete(sessionId);
      }
    },
    lines() {
      const ordered = [...ring.slice(start), ...ring.slice(0, start)];
      const first = ordered[0]?.seq ?? seq;
      const older = [...actors.values()].filter((entry) => entry.seq < first).map((entry) => entry.json);
      return [...older, ...ordered.map((entry) => entry.json)];
    },
  };
}
