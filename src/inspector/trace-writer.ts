/**
 * `--trace <file.jsonl>`: every event of the feed as one JSON line, inspection events in
 * `@statelyai/inspect`'s shapes. `ensemble inspect <file>` replays it.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { EventFeed } from './event-feed.js';

const FLUSH_MS = 100;

export interface TraceWriter {
  readonly file: string;
  /** Stops recording and waits until every line is on disk. */
  close(): Promise<void>;
}

/**
 * @example
 * const trace = writeTrace(feed, 'run.jsonl');
 * await run.start();
 * await trace.close();
 */
export function writeTrace(feed: EventFeed, file: string): TraceWriter {
  const stream = createWriteStream(file, { flags: 'w' });
  // Lines are gathered and written every FLUSH_MS (and on close): one write per event costs more
  // than the event itself on a busy run.
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    stream.write(`${pending.join('\n')}\n`);
    pending = [];
  };
  const stop = feed.listen((_event, json) => {
    pending.push(json);
    if (!scheduled) {
      scheduled = true;
      setTimeout(flush, FLUSH_MS).unref();
    }
  });
  let closed: Promise<void> | undefined;
  return {
    file,
    close() {
      closed ??= (async () => {
        feed.drain();
        stop();
        flush();
        stream.end();
        await once(stream, 'finish');
      })();
      return closed;
    },
  };
}
