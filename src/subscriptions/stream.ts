/**
 * A bounded event queue read as an async iterator: the producer (the hub) pushes without ever
 * waiting; the consumer (the transport) pulls. The stream overflows when the consumer is behind
 * by `capacity` events and has not pulled for `stallMs` (a burst from one big batch is fine for
 * a client that keeps reading), or when it is behind by ten times `capacity` whatever its pace.
 * On overflow the queued events are dropped and the stream ends with one last event made by
 * `overflowEvent`, which carries the token of the last event the consumer actually received,
 * so the client resumes exactly there. A slow client is cut off; it never slows ingest or other
 * clients.
 */
export interface EventStream<T> extends AsyncIterableIterator<T> {
  /** Queues an event; false when the stream is closed or has just overflowed. */
  push(event: T): boolean;
  /** Queues `event` (if given) as the last one and ends the stream after it. */
  end(event?: T): void;
  readonly closed: boolean;
}

export interface EventStreamOptions<T> {
  readonly capacity: number;
  /** How long a consumer may not pull while `capacity` events wait (default 1000 ms). */
  readonly stallMs?: number;
  /** The resume token of an event, tracked for the overflow event. */
  readonly tokenOf: (event: T) => string | undefined;
  readonly overflowEvent: (lastDeliveredToken: string | undefined) => T;
  /** Called once when the stream ends for any reason. */
  readonly onClose: () => void;
}

export function createEventStream<T>(options: EventStreamOptions<T>): EventStream<T> {
  const queue: T[] = [];
  let waiting: ((result: IteratorResult<T>) => void) | undefined;
  let ending = false;
  let closed = false;
  let lastToken: string | undefined;
  let lastPull = Date.now();
  let stallTimer: NodeJS.Timeout | undefined;
  const stallMs = options.stallMs ?? 1000;
  const overflow = () => {
    queue.length = 0;
    stream.end(options.overflowEvent(lastToken));
  };
  /** A consumer that stops pulling with a full queue is cut off even if no more events come. */
  const watchStall = () => {
    if (stallTimer || ending) return;
    stallTimer = setTimeout(
      () => {
        stallTimer = undefined;
        if (ending || queue.length < options.capacity) return;
        if (Date.now() - lastPull >= stallMs) overflow();
        else watchStall();
      },
      Math.max(10, lastPull + stallMs - Date.now()),
    );
    stallTimer.unref();
  };

  const close = () => {
    if (closed) return;
    closed = true;
    ending = true;
    clearTimeout(stallTimer);
    options.onClose();
  };
  const deliver = (value: T): IteratorResult<T> => {
    lastToken = options.tokenOf(value) ?? lastToken;
    return { value, done: false };
  };
  const offer = (event: T) => {
    if (waiting) {
      const resolve = waiting;
      waiting = undefined;
      resolve(deliver(event));
    } else {
      queue.push(event);
    }
  };

  const stream: EventStream<T> = {
    get closed() {
      return closed;
    },
    push(event) {
      if (ending) return false;
      const behind = !waiting && queue.length >= options.capacity;
      if (behind && (Date.now() - lastPull >= stallMs || queue.length >= options.capacity * 10)) {
        overflow();
        return false;
      }
      offer(event);
      if (behind) watchStall();
      return true;
    },
    end(event) {
      if (ending) return;
      ending = true;
      if (event !== undefined) offer(event);
      if (queue.length === 0 && waiting) {
        const resolve = waiting;
        waiting = undefined;
        close();
        resolve({ value: undefined, done: true });
      }
    },
    next() {
      lastPull = Date.now();
      if (queue.length > 0) return Promise.resolve(deliver(queue.shift()!));
      if (ending) {
        close();
        return Promise.resolve({ value: undefined, done: true });
      }
      return new Promise((resolve) => {
        waiting = resolve;
      });
    },
    return() {
      queue.length = 0;
      const resolve = waiting;
      waiting = undefined;
      close();
      resolve?.({ value: undefined, done: true });
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
