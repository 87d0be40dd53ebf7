/**
 * A de-duplicating work queue with rate-limited retries, after client-go's workqueue: an item queued
 * while it waits is queued once; an item queued while it is being processed runs again afterwards (never
 * twice at once); failures come back after a per-item exponential delay; delayed adds keep the earliest.
 */
export interface QueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Injectable for tests. */
  setTimer?: (fn: () => void, ms: number) => { cancel(): void };
  /**
   * The item's lane, 0 first: an item is handed out only when every lower lane is empty (first in, first
   * out within a lane). Asked when the item is queued. Absent: one lane.
   */
  lane?: (item: string) => number;
  /** How many lanes `lane` uses (1 by default). */
  lanes?: number;
  /**
   * At most this many items of each lane in processing at once (absent or missing: no limit), so a lane
   * of slow, many items cannot take every worker from the lanes before it as their items come in.
   */
  laneLimits?: readonly (number | undefined)[];
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class WorkQueue<T extends string = string> {
  private readonly queues: T[][];
  private readonly lane: (item: string) => number;
  private readonly waiting = new Set<T>();
  /** Items being processed, each with the lane it was handed out from. */
  private readonly processing = new Map<T, number>();
  private readonly inFlight: number[];
  private readonly laneLimits: readonly (number | undefined)[];
  private readonly dirty = new Set<T>();
  private readonly failures = new Map<T, number>();
  private readonly timers = new Map<T, { due: number; cancel(): void }>();
  private readonly wakers: (() => void)[] = [];
  /** When each waiting item was queued, for the wait-time metric. */
  private readonly queuedAt = new Map<T, number>();
  private shut = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly setTimer: NonNullable<QueueOptions['setTimer']>;

  constructor(options: QueueOptions = {}) {
    this.queues = Array.from({ length: options.lanes ?? 1 }, () => []);
    this.lane = options.lane ?? (() => 0);
    this.inFlight = this.queues.map(() => 0);
    this.laneLimits = options.laneLimits ?? [];
    this.baseDelayMs = options.baseDelayMs ?? 200;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
    this.setTimer =
      options.setTimer ??
      ((fn, ms) => {
        const t = setTimeout(fn, ms);
        t.unref();
        return { cancel: () => clearTimeout(t) };
      });
  }

  get depth(): number {
    return this.queues.reduce((n, q) => n + q.length, 0);
  }

  add(item: T): void {
    if (this.shut) return;
    if (this.processing.has(item)) {
      this.dirty.add(item);
      return;
    }
    if (this.waiting.has(item)) return;
    this.waiting.add(item);
    this.queuedAt.set(item, Date.now());
    const lane = Math.min(this.queues.length - 1, Math.max(0, this.lane(item)));
    (this.queues[lane] as T[]).push(item);
    this.wakers.shift()?.();
  }

  /** Adds the item after `ms`, unless it is already due sooner. */
  addAfter(item: T, ms: number): void {
    if (this.shut) return;
    if (ms <= 0) {
      this.add(item);
      return;
    }
    // setTimeout fires at once for delays past 2^31-1 ms (~24.8 days): a window scheduled further ahead
    // would spin. Waking early is harmless; the reconcile simply requeues itself again.
    ms = Math.min(ms, MAX_TIMER_MS);
    const due = Date.now() + ms;
    const existing = this.timers.get(item);
    if (existing !== undefined && existing.due <= due) return;
    existing?.cancel();
    const timer = this.setTimer(() => {
      this.timers.delete(item);
      this.add(item);
    }, ms);
    this.timers.set(item, { due, cancel: timer.cancel });
  }

  /** Retries a failed item after a delay that doubles with each consecutive failure. */
  addRateLimited(item: T): number {
    const n = this.failures.get(item) ?? 0;
    this.failures.set(item, n + 1);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** n);
    this.addAfter(item, delay);
    return delay;
  }

  /** The item succeeded: its next failure starts from the base delay again. */
  forget(item: T): void {
    this.failures.delete(item);
  }

  /** The next item to process, or null once the queue is shut down. Call done() when finished. */
  async get(): Promise<T | null> {
    for (;;) {
      if (this.shut && this.depth === 0) return null;
      const lane = this.queues.findIndex(
        (q, i) => q.length > 0 && (this.inFlight[i] as number) < (this.laneLimits[i] ?? Infinity),
      );
      if (lane !== -1) return this.take(lane);
      await new Promise<void>((resolve) => this.wakers.push(resolve));
    }
  }

  private take(lane: number): T {
    const item = (this.queues[lane] as T[]).shift() as T;
    this.waiting.delete(item);
    this.processing.set(item, lane);
    (this.inFlight[lane] as number)++;
    this.lastWaitMs = Date.now() - (this.queuedAt.get(item) ?? Date.now());
    this.queuedAt.delete(item);
    return item;
  }

  /** How long the item get() returned last had waited since it was queued. */
  lastWaitMs = 0;

  done(item: T): void {
    const lane = this.processing.get(item);
    if (lane === undefined) return;
    this.processing.delete(item);
    (this.inFlight[lane] as number)--;
    if (this.dirty.delete(item)) this.add(item);
    // A worker waiting only because this lane was at its limit may take the lane's next item now; after
    // a shutdown, the workers that waited on a limited lane must see the queue run empty and end.
    if (this.shut) for (const wake of this.wakers.splice(0)) wake();
    else if ((this.queues[lane] as T[]).length > 0) this.wakers.shift()?.();
  }

  shutdown(): void {
    this.shut = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    for (const wake of this.wakers.splice(0)) wake();
  }
}
