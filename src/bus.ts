/**
 * The run bus: one RxJS subject per run carrying every run, task, server and
 * notification event, stamped with the run id and a timestamp. Embedders see
 * it as an Observable; only the engine and actors publish.
 *
 * A subscriber that throws is isolated: RxJS would rethrow its error from a
 * timer, which crashes the process and loses the report. Here the error is
 * caught, the other subscribers and the run go on, and it is reported once
 * per subscription as a warning notification (on the bus, so in the report).
 */
import type { Observable, Observer, Operator, Subscription } from 'rxjs';
// The classes come from their own modules: RxJS's index is 223 CommonJS files on Node, about 25 ms
// of every start, where these four need about 20. They are the same classes the index exports.
import { Observable as RxObservable } from 'rxjs/internal/Observable';
import { filter } from 'rxjs/internal/operators/filter';
import { Subject } from 'rxjs/internal/Subject';
import { Subscriber } from 'rxjs/internal/Subscriber';
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
  const publish = (payload: BusPayload): void => {
    if (!open) return;
    // Stamped in place: every payload is a fresh object made for the bus, and copying
    // five events per task was a measurable share of the per-task overhead.
    const event = payload as BusEvent;
    event.runId = runId;
    event.at = Date.now();
    subject.next(event);
  };
  const reportSubscriberError = (error: unknown): void => {
    const detail = error instanceof Error ? error.message : String(error);
    publish({ type: 'notification', notification: { level: 'warning', message: `a subscriber of the run's bus threw (${detail}); the run went on without it, and its later errors are not reported` } });
  };
  return {
    runId,
    events$: new GuardedObservable<BusEvent>((subscriber) => subject.subscribe(subscriber), reportSubscriberError),
    publish,
    complete() {
      if (!open) return;
      open = false;
      subject.complete();
    },
  };
}

/**
 * An Observable whose subscribers' callbacks cannot throw into RxJS. `lift`
 * keeps the class through `pipe`, as RxJS's own `Subject` does, so a
 * subscriber of `events$.pipe(ofType(…))` is guarded too (and an operator's
 * error with no error callback to go to is reported instead of rethrown).
 */
class GuardedObservable<T> extends RxObservable<T> {
  constructor(
    subscribe: ((this: Observable<T>, subscriber: Subscriber<T>) => (() => void) | Subscription | void) | undefined,
    private readonly reportError: (error: unknown) => void,
  ) {
    super(subscribe);
  }

  override lift<R>(operator?: Operator<T, R>): Observable<R> {
    const observable = new GuardedObservable<R>(undefined, this.reportError);
    observable.source = this;
    observable.operator = operator;
    return observable;
  }

  override subscribe(
    observerOrNext?: Partial<Observer<T>> | ((value: T) => void) | null,
    error?: ((error: unknown) => void) | null,
    complete?: (() => void) | null,
  ): Subscription {
    // Operators chaining onto this observable pass their own subscribers: those are RxJS's, not users'.
    if (observerOrNext instanceof Subscriber) return super.subscribe(observerOrNext);
    const observer: Partial<Observer<T>> =
      typeof observerOrNext === 'function' || observerOrNext === null || observerOrNext === undefined
        ? { ...(observerOrNext ? { next: observerOrNext } : {}), ...(error ? { error } : {}), ...(complete ? { complete } : {}) }
        : observerOrNext;
    let reported = false;
    const contain = (thrown: unknown): void => {
      if (reported) return;
      reported = true;
      this.reportError(thrown);
    };
    return super.subscribe({
      next: (value) => {
        try {
          observer.next?.(value);
        } catch (thrown) {
          contain(thrown);
        }
      },
      error: (failure: unknown) => {
        if (!observer.error) return contain(failure);
        try {
          observer.error(failure);
        } catch (thrown) {
          contain(thrown);
        }
      },
      complete: () => {
        try {
          observer.complete?.();
        } catch (thrown) {
          contain(thrown);
        }
      },
    });
  }
}

/** Narrows a bus stream to the events of some types, typed. */
export function ofType<T extends BusEventType>(...types: T[]) {
  const wanted = new Set<string>(types);
  return (source: Observable<BusEvent>): Observable<BusEventOf<T>> =>
    source.pipe(filter((event): event is BusEventOf<T> => wanted.has(event.type)));
}
