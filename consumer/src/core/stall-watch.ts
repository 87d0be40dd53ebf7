/**
 * Tells a consumer that has gone quiet from one that is busy, paused or waiting out a rebalance.
 * kafkajs can stop fetching after a broker restart without crashing or saying so (seen here once after
 * "coordinator is loading" answers; upstream reports the same); a session quiet for longer than any
 * legitimate wait is given up so a fresh consumer can join. Nothing is lost: what the quiet consumer
 * had not committed is fetched again.
 */
export class StallWatch {
  readonly #limitMs: number;
  #lastActivity: number;
  #running = 0;
  #paused = false;

  /** `limitMs` must exceed the longest quiet time a healthy consumer has: a whole rebalance. */
  constructor(limitMs: number, now: number) {
    this.#limitMs = limitMs;
    this.#lastActivity = now;
  }

  /** A fetch, heartbeat, join or rebalance: the client is alive. */
  activity(now: number): void {
    this.#lastActivity = now;
  }

  batchStarted(now: number): void {
    this.#running += 1;
    this.#lastActivity = now;
  }

  batchEnded(now: number): void {
    this.#running = Math.max(0, this.#running - 1);
    this.#lastActivity = now;
  }

  /** A paused consumer fetches nothing by design. */
  pause(): void {
    this.#paused = true;
  }

  resume(now: number): void {
    this.#paused = false;
    this.#lastActivity = now;
  }

  /** Quiet for longer than the limit while neither paused nor running a handler (a slow one is no stall). */
  stalled(now: number): boolean {
    return !this.#paused && this.#running === 0 && now - this.#lastActivity > this.#limitMs;
  }
}
