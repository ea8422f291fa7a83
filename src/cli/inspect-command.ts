/**
 * `ensemble inspect <trace.jsonl>`: the inspector page on a finished run, with a scrubber that
 * steps through it event by event. Also what `ensemble run --inspect / --trace` use to start
 * and end their inspector and trace.
 */
import process from 'node:process';
import { createInterface } from 'node:readline';
import type { Observable } from 'rxjs';
import type { InspectionEvent, Observer } from 'xstate';
import type { BusEvent } from '../core/bus-events.js';
import { EnsembleError } from '../core/errors.js';
import { createInspector, type Inspector } from '../inspector/create-inspector.js';
import { createEventFeed } from '../inspector/event-feed.js';
import { readTrace } from '../inspector/read-trace.js';
import { writeTrace, type TraceWriter } from '../inspector/trace-writer.js';
import { defineCliCommand } from './cli-command.js';

export const inspectCommand = defineCliCommand({
  name: 'inspect',
  usage: 'inspect <trace.jsonl> [options]',
  summary: 'Open the inspector page on a trace written by run --trace, with a scrubber',
  options: {
    trace: { type: 'positional', description: 'the trace file (one JSON event per line)', required: true },
    port: { type: 'string', valueHint: 'N', description: 'port on 127.0.0.1 (default: any free port)' },
  },
  examples: ['ensemble run flow.yaml --trace run.jsonl', 'ensemble inspect run.jsonl --port 7331'],
  async run(args) {
    const events = await readTrace(args.trace);
    const inspector = await createInspector({ replay: events, port: readPortOption(args.port) });
    process.stderr.write(`inspector: ${inspector.url} (${events.length} events of ${args.trace}; Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await inspector.close();
  },
});

export interface RunInspectionOptions {
  inspect: boolean;
  port?: string | undefined;
  hold?: string | undefined;
  trace?: string | undefined;
}

/** The inspector and the trace of one `ensemble run`, sharing one feed. */
export interface RunInspection {
  readonly inspect: Observer<InspectionEvent>;
  attachBus(events$: Observable<BusEvent>): void;
  /** Writes the rest of the trace, then keeps the page up (Enter on a TTY, or `--inspect-hold`), then closes it. */
  finish(): Promise<void>;
  /** Closes both at once, holding nothing (the run never started). */
  close(): Promise<void>;
}

export async function startRunInspection(options: RunInspectionOptions): Promise<RunInspection> {
  if (!options.inspect && (options.port !== undefined || options.hold !== undefined)) {
    throw new EnsembleError('USAGE', `run: ${options.port !== undefined ? '--port' : '--inspect-hold'} needs --inspect`, { field: options.port !== undefined ? '--port' : '--inspect-hold' });
  }
  const holdSeconds = options.hold === undefined ? undefined : readSecondsOption(options.hold);
  const feed = createEventFeed();
  const trace: TraceWriter | undefined = options.trace === undefined ? undefined : writeTrace(feed, options.trace);
  const inspector: Inspector | undefined = options.inspect ? await createInspector({ feed, port: readPortOption(options.port) }) : undefined;
  if (inspector) process.stderr.write(`inspector: ${inspector.url}\n`);
  return {
    inspect: feed.inspect,
    attachBus: (events$) => {
      feed.attachBus(events$);
    },
    async close() {
      await trace?.close();
      await inspector?.close();
    },
    async finish() {
      await trace?.close();
      if (!inspector) return;
      if (holdSeconds !== undefined) {
        process.stderr.write(`inspector: ${inspector.url} stays up for ${holdSeconds} s\n`);
        // Holding the page up for a person (or a script) to look at is the point of this wait.
        await new Promise((resolve) => setTimeout(resolve, holdSeconds * 1000));
      } else if (process.stdin.isTTY === true) {
        process.stderr.write(`inspector: ${inspector.url} — press Enter to close it\n`);
        await waitForEnter();
      }
      await inspector.close();
    },
  };
}

function waitForEnter(): Promise<void> {
  return new Promise((resolve) => {
    const lines = createInterface({ input: process.stdin });
    lines.once('line', () => {
      lines.close();
      resolve();
    });
    lines.once('close', () => resolve());
  });
}

function readPortOption(value: string | undefined): number {
  if (value === undefined) return 0;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new EnsembleError('USAGE', `--port: expected a port number 0–65535, got "${value}"`, { field: '--port' });
  return port;
}

function readSecondsOption(value: string): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new EnsembleError('USAGE', `--inspect-hold: expected a number of seconds, got "${value}"`, { field: '--inspect-hold' });
  return seconds;
}
