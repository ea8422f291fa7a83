/**
 * The inspector server: one page and one Server-Sent Events feed (`/events`) on 127.0.0.1.
 * A page that connects gets the machines seen so far and the last `window` events, then every
 * new event as it happens; when the inspector closes, the feed says `end`.
 */
import { createServer, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import type { Observable, Subscription } from 'rxjs';
import type { InspectionEvent, Observer } from 'xstate';
import type { BusEvent } from '../core/bus-events.js';
import { createEventFeed, type EventFeed, type EventFeedConfig } from './event-feed.js';
import type { FeedEvent } from './inspector-model.js';
import { renderInspectorPage } from './inspector-page.js';
import { createReplayBuffer } from './replay-buffer.js';
import { writeTrace } from './trace-writer.js';

const FLUSH_MS = 50;

export interface InspectorConfig extends EventFeedConfig {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1: the page shows arguments and results, so it stays on this machine. */
  host?: string;
  /** Events a newly opened page is sent (older ones stay in the trace). Default 5000. */
  window?: number;
  /** Serve a finished run (a trace) with a scrubber instead of a live feed. */
  replay?: FeedEvent[];
  /** Share a feed with a trace writer; by default the inspector has its own. */
  feed?: EventFeed;
  /** Also write every event to this file, one JSON line each (what `--trace` does); closed by `close()`. */
  trace?: string;
}

export interface Inspector {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string;
  /** XState's `inspect` observer: pass it as the run's `inspect` option. */
  readonly inspect: Observer<InspectionEvent>;
  /** Shows every event of a run's bus (`run.events$`). */
  attachBus(events$: Observable<BusEvent>): Subscription;
  /** Ends every page's feed (they show "inspector gone") and stops the server. */
  close(): Promise<void>;
}

/**
 * @example
 * const inspector = await createInspector({ port: 0, trace: 'run.jsonl', redact: (event) => event });
 * console.error(`inspector: ${inspector.url}`);
 * const run = createRun(workflow, { inspect: inspector.inspect });
 * inspector.attachBus(run.events$);
 * await run.start();
 * await inspector.close();
 */
export async function createInspector(config: InspectorConfig = {}): Promise<Inspector> {
  const window = config.window ?? 5000;
  const feed = config.feed ?? createEventFeed(config);
  const buffer = createReplayBuffer(window);
  const trace = config.trace === undefined ? undefined : writeTrace(feed, config.trace);
  const clients = new Set<ServerResponse>();
  const replay = config.replay;
  const page = renderInspectorPage({ mode: replay ? 'replay' : 'live', window });

  // Events reach pages in batches, every FLUSH_MS: a write per event per page would cost more
  // than the run itself.
  let pending: string[] = [];
  let scheduled = false;
  const flush = () => {
    scheduled = false;
    if (pending.length === 0) return;
    const chunk = pending.join('');
    pending = [];
    for (const client of clients) client.write(chunk);
  };
  const stopListening = feed.listen((event, json) => {
    buffer.add(event, json);
    if (clients.size === 0) return;
    pending.push(`data: ${json}\n\n`);
    if (!scheduled) {
      scheduled = true;
      // The page redraws a few times a second: sending more often only costs both sides.
      setTimeout(flush, FLUSH_MS).unref();
    }
  });

  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET') {
      response.writeHead(405).end();
      return;
    }
    if (path === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store', 'content-security-policy': "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'" });
      response.end(page);
      return;
    }
    if (path === '/events') {
      response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', connection: 'keep-alive' });
      if (replay) {
        response.write(replay.map((event) => `data: ${JSON.stringify(event)}\n\n`).join(''));
        response.end('event: end\ndata: {}\n\n');
        return;
      }
      flush();
      response.write(buffer.lines().map((json) => `data: ${json}\n\n`).join(''));
      clients.add(response);
      response.on('close', () => clients.delete(response));
      return;
    }
    if (path === '/favicon.ico') {
      response.writeHead(204).end();
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  });
  server.listen(config.port ?? 0, config.host ?? '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the inspector listens on TCP, not on a pipe');
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closed: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}/`,
    inspect: feed.inspect,
    attachBus: (events$) => feed.attachBus(events$),
    close() {
      closed ??= (async () => {
        feed.drain();
        stopListening();
        await trace?.close();
        flush();
        for (const client of clients) client.end('event: end\ndata: {}\n\n');
        clients.clear();
        const done = once(server, 'close');
        server.close();
        server.closeAllConnections();
        await done;
      })();
      return closed;
    },
  };
}
