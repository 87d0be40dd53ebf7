import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The handler side of a benchmark: counts handler calls and stamps when they start and finish, and lets
 * the bench await a condition at the exact event that makes it true (no polling delay in the numbers).
 */
export class Probe {
  inFlight = 0;
  started = 0;
  finished = 0;
  lastStartAt = 0;
  lastFinishAt = 0;
  /** Every handler call: when it started, how long it ran, whether its signal aborted it. */
  readonly calls: { startAt: number; durationMs: number; aborted: boolean }[] = [];
  /** Completed handler calls per message id ("partition/offset"), for duplicates and gaps. */
  readonly seen = new Map<string, number>();
  readonly #waiters = new Set<{ cond: () => boolean; resolve: (at: number) => void }>();

  /** The handler body: `workMs` of pretend work (0: a no-op) for the message `id` ("partition/offset"). */
  async handle(id: string, workMs: number, signal?: AbortSignal): Promise<void> {
    this.inFlight += 1;
    this.started += 1;
    const startAt = performance.now();
    this.lastStartAt = startAt;
    this.#notify();
    try {
      if (workMs > 0) await sleep(workMs, undefined, signal === undefined ? {} : { signal });
      this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
    } finally {
      this.inFlight -= 1;
      this.finished += 1;
      this.lastFinishAt = performance.now();
      this.calls.push({
        startAt,
        durationMs: this.lastFinishAt - startAt,
        aborted: signal?.aborted ?? false,
      });
      this.#notify();
    }
  }

  /** Resolves with performance.now() of the handler event after which `cond` holds (or now, if it does). */
  until(cond: () => boolean, timeoutMs = 60_000, what = 'probe condition'): Promise<number> {
    if (cond()) return Promise.resolve(performance.now());
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    const waiter = { cond, resolve };
    this.#waiters.add(waiter);
    const timer = setTimeout(() => {
      this.#waiters.delete(waiter);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
    }, timeoutMs);
    return promise.finally(() => clearTimeout(timer));
  }

  /** Completed calls beyond the first for any message. */
  get duplicates(): number {
    let n = 0;
    for (const count of this.seen.values()) n += count - 1;
    return n;
  }

  #notify(): void {
    const now = performance.now();
    for (const w of this.#waiters) {
      if (w.cond()) {
        this.#waiters.delete(w);
        w.resolve(now);
      }
    }
  }
}
