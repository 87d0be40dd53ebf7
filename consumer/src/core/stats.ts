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

/** What became of the messages of one topic since start (received counts arrivals). */
export interface OutcomeCounts {
  received: number;
  processed: number;
  failed: number;
  retried: number;
  deadLettered: number;
  aborted: number;
}

/** Upper bounds (seconds) of the handler-time histogram. */
export const MESSAGE_DURATION_BUCKETS: readonly number[] = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30];

/**
 * Observations counted into buckets, with their sum: what a Prometheus histogram shows, kept as plain
 * numbers because it is fed once per message and read only at scrape time.
 */
export class Buckets {
  readonly bounds: readonly number[];
  /** Per bound, the observations at or below it and above the previous one; the last slot: above all. */
  readonly #counts: number[];
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.#counts = new Array<number>(bounds.length + 1).fill(0);
  }

  observe(value: number): void {
    let i = 0;
    while (i < this.bounds.length && value > (this.bounds[i] as number)) i += 1;
    this.#counts[i] = (this.#counts[i] as number) + 1;
    this.sum += value;
    this.count += 1;
  }

  /** Per bound, the observations at or below it (Prometheus' `le`); +Inf is `count`. */
  cumulative(): number[] {
    let acc = 0;
    return this.bounds.map((_, i) => (acc += this.#counts[i] as number));
  }
}

/** One topic's outcome counts and handler times (of processed attempts, and of failed ones retried). */
export interface TopicTotals extends OutcomeCounts {
  processedSeconds: Buckets;
  retriedSeconds: Buckets;
}

/** Per-topic totals since start: the message path adds to them, counters and metrics read them. */
export class MessageTotals {
  readonly #byTopic = new Map<string, TopicTotals>();

  /** The totals of `topic`, zero until its first message. */
  topic(topic: string): TopicTotals {
    let t = this.#byTopic.get(topic);
    if (t === undefined) {
      t = {
        ...noOutcomes(),
        processedSeconds: new Buckets(MESSAGE_DURATION_BUCKETS),
        retriedSeconds: new Buckets(MESSAGE_DURATION_BUCKETS),
      };
      this.#byTopic.set(topic, t);
    }
    return t;
  }

  topics(): ReadonlyMap<string, Readonly<TopicTotals>> {
    return this.#byTopic;
  }

  /** The counts of every topic added up. */
  sum(): OutcomeCounts {
    const all = noOutcomes();
    for (const t of this.#byTopic.values()) {
      all.received += t.received;
      all.processed += t.processed;
      all.failed += t.failed;
      all.retried += t.retried;
      all.deadLettered += t.deadLettered;
      all.aborted += t.aborted;
    }
    return all;
  }
}

function noOutcomes(): OutcomeCounts {
  return { received: 0, processed: 0, failed: 0, retried: 0, deadLettered: 0, aborted: 0 };
}

const LAST_ERRORS = 10;

export const newErrorLog = (): RingBuffer<RecordedError> => new RingBuffer<RecordedError>(LAST_ERRORS);
