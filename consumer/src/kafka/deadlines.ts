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
  /** Set by Deadlines once the attempt ended or its time ran out. */
  ended = false;
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
  /**
   * Attempts in start order, hence deadline order, from `#head` on; ended ones stay until every attempt
   * before them has ended too (a queue with lazy removal: a Set's delete per message cost more).
   */
  #live: Attempt[] = [];
  #head = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  /** An attempt that started at `now` (performance.now(), which the caller has at hand anyway). */
  start(now = performance.now()): Attempt {
    const attempt = new Attempt(now + this.#timeoutMs);
    this.#live.push(attempt);
    if (this.#timer === null) this.#arm(this.#timeoutMs);
    return attempt;
  }

  end(attempt: Attempt): void {
    attempt.ended = true;
    this.#dropEnded();
  }

  /** Aborts every running attempt (the drain timeout). */
  abortAll(reason: unknown): void {
    for (let i = this.#head; i < this.#live.length; i++) {
      const attempt = this.#live[i] as Attempt;
      if (!attempt.ended) attempt.abort(reason);
    }
  }

  #dropEnded(): void {
    const live = this.#live;
    while (this.#head < live.length && (live[this.#head] as Attempt).ended) this.#head += 1;
    if (this.#head === live.length) {
      live.length = 0;
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= live.length) {
      // One attempt that runs long holds the ones after it: keep the array from growing with them.
      this.#live = live.slice(this.#head);
      this.#head = 0;
    }
  }

  #arm(ms: number): void {
    this.#timer = setTimeout(() => this.#expire(), ms);
    // Like AbortSignal.timeout: a pending deadline alone does not keep the process alive.
    this.#timer.unref();
  }

  #expire(): void {
    this.#timer = null;
    const now = performance.now();
    for (let i = this.#head; i < this.#live.length; i++) {
      const attempt = this.#live[i] as Attempt;
      if (attempt.ended) continue;
      if (attempt.deadline > now) {
        this.#arm(attempt.deadline - now);
        return;
      }
      // Ended for the timer's sake: it is not looked at again, whatever the handler does next.
      attempt.ended = true;
      attempt.abort(
        new KmaintError('MAX_PROCESSING_TIME', `processing took longer than ${this.#timeoutMs} ms`),
      );
    }
    this.#dropEnded();
  }
}
