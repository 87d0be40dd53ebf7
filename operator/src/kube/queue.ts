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
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class WorkQueue<T extends string = string> {
  private readonly queues: T[][];
  private readonly lane: (item: string) => number;
  private readonly waiting = new Set<T>();
  private readonly processing = new Set<T>();
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
    while (this.depth === 0) {
      if (this.shut) return null;
      await new Promise<void>((resolve) => this.wakers.push(resolve));
    }
    const item = (this.queues.find((q) => q.length > 0) as T[]).shift() as T;
    this.waiting.delete(item);
    this.processing.add(item);
    this.lastWaitMs = Date.now() - (this.queuedAt.get(item) ?? Date.now());
    this.queuedAt.delete(item);
    return item;
  }

  /** How long the item get() returned last had waited since it was queued. */
  lastWaitMs = 0;

  done(item: T): void {
    this.processing.delete(item);
    if (this.dirty.delete(item)) this.add(item);
  }

  shutdown(): void {
    this.shut = true;
    for (const t of this.timers.values()) t.cancel();
    this.timers.clear();
    for (const wake of this.wakers.splice(0)) wake();
  }
}
