/**
 * Progress lines for a person watching a run: one line when a task starts,
 * finishes or fails (with server and duration), server trouble and
 * notifications as they happen.
 */
import type { BusEvent } from '../core/bus-events.js';
import type { RunReport } from '../core/results.js';

export function formatProgress(event: BusEvent): string | undefined {
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
      return `  ✗ ${event.task.id}  ${event.task.server}.${event.task.tool}  ${formatMs(event.durationMs)}  ${event.error.message}`;
    case 'task.skipped':
      return `  - ${event.task.id}  skipped: ${event.reason}`;
    case 'task.compensated':
      return `  ↺ ${event.task.id}  compensated by ${event.compensation.server}.${event.compensation.tool}  ${formatMs(event.durationMs)}`;
    case 'task.compensation_failed':
      return `  ✗ ${event.task.id}  compensation ${event.compensation.server}.${event.compensation.tool} failed: ${event.error.message}`;
    case 'server.state':
      if (event.state === 'unavailable') return `  ! server ${event.server} unavailable${event.error ? `: ${event.error.message}` : ''}`;
      return undefined;
    case 'notification':
      return `  ${event.notification.level === 'info' ? 'i' : '!'} ${event.notification.message}`;
    case 'run.finished':
      return event.error ? `■ ${event.status}: ${event.error.message}` : `■ ${event.status}`;
    default:
      return undefined;
  }
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
