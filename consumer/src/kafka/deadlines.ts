import { KmaintError } from '@kmaint/common';

/**
 * One attempt at one message, as its handler sees it. The AbortController behind `signal` is made only
 * when the handler reads it: a handler that never looks costs no controller, and one that looks after
 * the attempt was aborted gets a signal that is aborted already.
 */
export class Attempt {
  /** performance.now() past which MAX_PROCESSING_TIME aborts the attempt. */
  readonly deadline: number;
  #controller: AbortController | null = null;
  #aborted = false;
  #reason: unknown = undefined;

  constructor(deadline: number) {
    this.deadline = deadline;
  }

  get signal(): AbortSignal {
    if (this.#controller === null) {
      this.#controller = new AbortController();
      if (this.#aborted) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Whether MAX_PROCESSING_TIME or a drain aborted this attempt (without making the signal). */
  get aborted(): boolean {
    return this.#aborted;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
  }
}

/**
 * The running attempts and one timer for all of them, instead of a timer (and a combined signal) per
 * message. Every attempt gets the same time, so the attempts in start order are also in deadline order:
 * the timer only ever waits for the oldest one.
 */
export class Deadlines {
  readonly #timeoutMs: number;
  /** Insertion order is start order, hence deadline order. */
  readonly #live = new Set<Attempt>();
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  start(): Attempt {
    const attempt = new Attempt(performance.now() + this.#timeoutMs);
    this.#live.add(attempt);
    if (this.#timer === null) this.#arm(this.#timeoutMs);
    return attempt;
  }

  end(attempt: Attempt): void {
    this.#live.delete(attempt);
  }

  /** Aborts every running attempt (the drain timeout). */
  abortAll(reason: unknown): void {
    for (const attempt of this.#live) attempt.abort(reason);
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#expire(), ms);
    // Like AbortSignal.timeout: a pending deadline alone does not keep the process alive.
    this.#timer.unref();
  }

  #expire(): void {
    this.#timer = null;
    const now = performance.now();
    for (const attempt of this.#live) {
      if (attempt.deadline > now) {
        this.#arm(attempt.deadline - now);
        return;
      }
      this.#live.delete(attempt);
      attempt.abort(
        new KmaintError('MAX_PROCESSING_TIME', `processing took longer than ${this.#timeoutMs} ms`),
      );
    }
  }
}
