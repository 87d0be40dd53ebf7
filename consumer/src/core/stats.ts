import type { RecordedError } from './types.ts';

/** Keeps the last `capacity` items, oldest first. */
export class RingBuffer<T> {
  readonly #items: T[] = [];
  readonly #capacity: number;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.#capacity) this.#items.shift();
  }

  toArray(): T[] {
    return [...this.#items];
  }
}

/** The message counters of /messages/stats; in-flight is read from the scheduler, not counted here. */
export interface MessageCounters {
  received: number;
  processed: number;
  failed: number;
  retried: number;
  deadLettered: number;
  commits: number;
  rebalances: number;
}

export const emptyCounters = (): MessageCounters => ({
  received: 0,
  processed: 0,
  failed: 0,
  retried: 0,
  deadLettered: 0,
  commits: 0,
  rebalances: 0,
});

const LAST_ERRORS = 10;

export const newErrorLog = (): RingBuffer<RecordedError> => new RingBuffer<RecordedError>(LAST_ERRORS);
