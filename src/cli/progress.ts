/**
 * Progress lines for a person watching a run: one line when a task starts,
 * finishes or fails (with server and duration), server trouble and
 * notifications as they happen.
 */
import type { BusEvent, BusEventOf } from '../core/bus-events.js';
import type { RunReport } from '../core/results.js';

/** At most one progress line per call in this time (ms on the bus clock), besides its first and last. */
export const PROGRESS_LINE_INTERVAL_MS = 1000;

/** Calls whose progress was printed, by run and call id, with when; bounded (oldest dropped first). */
const lastProgressLine = new Map<string, number>();
const MAX_TRACKED_CALLS = 256;
import { AS_ABOVE } from './error-ledger.js';

/**
 * The line for an event, or undefined when it has none. `tell` says how an error message reads
 * on this line (an `ErrorLedger`'s, so each error is printed once); by default, whole.
 */
export function formatProgress(event: BusEvent, tell: (message: string) => string = (message) => message): string | undefined {
  switch (event.type) {
    case 'server.call.progress':
      return formatCallProgress(event);
    case 'run.started':
      return `▶ ${event.workflow} (${event.pattern})`;
    case 'run.breakdown':
      return `  breakdown: ${event.tasks.length} task${event.tasks.length === 1 ? '' : 's'} (${event.source})`;
    case 'task.started':
      return `  … ${event.task.id}  ${event.task.server}.${event.task.tool}`;
    case 'task.completed':
      return `  ✓ ${event.task.id}  ${event.task.server}.${event.task.tool}  ${formatMs(event.durationMs)}${event.servedBy ? `  (served by ${event.servedBy})` : ''}`;
    case 'task.failed':
      return `  ✗ ${event.task.id}  ${event.task.server}.${event.task.tool}  ${formatMs(event.durationMs)}  ${tell(event.error.message)}`;
    case 'task.skipped':
      return `  - ${event.task.id}  skipped: ${event.reason}`;
    case 'task.compensated':
      return `  ↺ ${event.task.id}  compensated by ${event.compensation.server}.${event.compensation.tool}  ${formatMs(event.durationMs)}`;
    case 'task.compensation_failed':
      return `  ✗ ${event.task.id}  compensation ${event.compensation.server}.${event.compensation.tool} failed: ${event.error.message}`;
    case 'server.state':
      if (event.state === 'unavailable') return `  ! server ${event.server} unavailable${event.error ? `: ${tell(event.error.message)}` : ''}`;
      return undefined;
    case 'notification':
      // Warnings and errors often quote a server's error; an info line ("restored") may well repeat.
      return event.notification.level === 'info' ? `  i ${event.notification.message}` : `  ! ${tell(event.notification.message)}`;
    case 'run.finished': {
      const told = event.error ? tell(event.error.message) : AS_ABOVE;
      return told === AS_ABOVE ? `■ ${event.status}` : `■ ${event.status}: ${told}`;
    }
    default:
      return undefined;
  }
}

/**
 * A server may report progress many times a second: a line for the first report of a call, for
 * its last (`progress` reaches `total`), and at most one a second in between.
 */
function formatCallProgress(event: BusEventOf<'server.call.progress'>): string | undefined {
  const key = `${event.runId}\u0000${event.callId}`;
  const last = lastProgressLine.get(key);
  const done = event.total !== undefined && event.progress >= event.total;
  if (last !== undefined && !done && event.at - last < PROGRESS_LINE_INTERVAL_MS) return undefined;
  lastProgressLine.delete(key);
  if (!done) {
    lastProgressLine.set(key, event.at);
    const oldest = lastProgressLine.size > MAX_TRACKED_CALLS ? lastProgressLine.keys().next().value : undefined;
    if (oldest !== undefined) lastProgressLine.delete(oldest);
  }
  const amount = event.total === undefined ? `${event.progress}` : `${event.progress}/${event.total}`;
  // The message is server output: no control characters (escapes, newlines) reach the terminal.
  const message = event.message ? `  ${event.message.replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ')}` : '';
  return `  … ${event.task ?? event.callId}  ${event.server}.${event.tool}  ${amount}${message}`;
}

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/**
 * One line per server of a multi-server run, for the end of the run: its state
 * and its share (calls, errors, time, what served it). Empty for other runs.
 *
 * @example
 * formatServerSummary(report)
 * // ['  db   serving  2 calls, 0 errors, 14 ms  (tasks: insert, undo)', …]
 */
export function formatServerSummary(report: RunReport): string[] {
  const servers = report.servers ?? [];
  const width = Math.max(0, ...servers.map((share) => share.name.length));
  return servers.map((share) => {
    const served = share.servedBy.filter((name) => name !== share.name);
    const tasks = share.tasks.length > 0 ? `  (tasks: ${share.tasks.join(', ')})` : '';
    const by = served.length > 0 ? `  served by ${served.join(', ')}` : '';
    return `  ${share.name.padEnd(width)}  ${share.state}  ${share.calls} call${share.calls === 1 ? '' : 's'}, ${share.errors} error${share.errors === 1 ? '' : 's'}, ${formatMs(share.durationMs)}${tasks}${by}`;
  });
}
