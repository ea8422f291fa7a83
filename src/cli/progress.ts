/**
 * Progress lines for a person watching a run: one line when a task starts,
 * finishes or fails (with server and duration), server trouble and
 * notifications as they happen.
 */
import type { BusEvent } from '../core/bus-events.js';
import { AS_ABOVE } from './error-ledger.js';

/**
 * The line for an event, or undefined when it has none. `tell` says how an error message reads
 * on this line (an `ErrorLedger`'s, so each error is printed once); by default, whole.
 */
export function formatProgress(event: BusEvent, tell: (message: string) => string = (message) => message): string | undefined {
  switch (event.type) {
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

export function formatMs(ms: number): string {
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}
