/**
 * Reading a run's bus and report in tests: the events of one type, the task
 * trail in bus order, one task's report line.
 */
import type { BusEvent, BusEventOf, BusEventType, RunReport } from '../../src/index.js';

/** The bus events of one type, typed, in order. */
export function eventsOf<T extends BusEventType>(events: BusEvent[], type: T): BusEventOf<T>[] {
  return events.filter((event): event is BusEventOf<T> => event.type === type);
}

/** `task.*` events as `type:id`, in bus order. */
export function taskTrail(events: BusEvent[]): string[] {
  return events.flatMap((event) => ('task' in event && typeof event.task === 'object' ? [`${event.type}:${event.task.id}`] : []));
}

/** One task's line in the report; throws naming the id when it is missing. */
export function taskOf(report: RunReport, id: string) {
  const task = report.tasks.find((entry) => entry.id === id);
  if (!task) throw new Error(`no task "${id}" in the report`);
  return task;
}
