/**
 * The run bus: one RxJS subject per run carrying every run, task, server and
 * notification event, stamped with the run id and a timestamp. Embedders see
 * it as an Observable; only the engine and actors publish.
 */
import { Observable, Subject, filter } from 'rxjs';
import type { BusEvent, BusEventOf, BusEventType, BusPayload } from './core/bus-events.js';

export interface RunBus {
  readonly runId: string;
  /** Every event of the run, in the order it happened. */
  readonly events$: Observable<BusEvent>;
  publish(payload: BusPayload): void;
  /** Ends the stream; later publishes are dropped. */
  complete(): void;
}

/**
 * Creates the bus of one run.
 *
 * @example
 * const bus = createBus('run-1');
 * bus.events$.subscribe((event) => console.log(event.type));
 */
export function createBus(runId: string): RunBus {
  const subject = new Subject<BusEvent>();
  let open = true;
  return {
    runId,
    events$: subject.asObservable(),
    publish(payload) {
      if (!open) return;
      // Stamped in place: every payload is a fresh object made for the bus, and copying
      // five events per task was a measurable share of the per-task overhead.
      const event = payload as BusEvent;
      event.runId = runId;
      event.at = Date.now();
      subject.next(event);
    },
    complete() {
      if (!open) return;
      open = false;
      subject.complete();
    },
  };
}

/** Narrows a bus stream to the events of some types, typed. */
export function ofType<T extends BusEventType>(...types: T[]) {
  const wanted = new Set<string>(types);
  return (source: Observable<BusEvent>): Observable<BusEventOf<T>> =>
    source.pipe(filter((event): event is BusEventOf<T> => wanted.has(event.type)));
}
