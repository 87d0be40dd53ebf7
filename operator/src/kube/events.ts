import type { Logger } from 'pino';

interface Pending {
  /** What the event is about, for the log line when it cannot be sent. */
  about: Record<string, unknown>;
  send: () => Promise<unknown>;
}

/**
 * Sends events in the background, a few at a time and in the order they were recorded (as client-go's
 * event broadcaster does): a reconcile hands its events over and goes on, so a burst of new windows (two
 * events each) does not keep the workers, and the keys behind them, waiting on event writes. Past
 * `backlog` unsent events new ones are dropped with a warning: an event is a courtesy to the reader of
 * `kubectl describe`, never state the operator reads back.
 */
export class EventSink {
  private readonly pending: Pending[] = [];
  private readonly log: Logger;
  private readonly concurrency: number;
  private readonly backlog: number;
  private sending = 0;

  constructor(log: Logger, options: { concurrency?: number; backlog?: number } = {}) {
    this.log = log;
    this.concurrency = options.concurrency ?? 2;
    this.backlog = options.backlog ?? 1_000;
  }

  record(about: Record<string, unknown>, send: () => Promise<unknown>): void {
    if (this.pending.length >= this.backlog) {
      this.log.warn({ ...about, backlog: this.backlog }, 'event dropped: too many events not sent yet');
      return;
    }
    this.pending.push({ about, send });
    this.pump();
  }

  private pump(): void {
    while (this.sending < this.concurrency && this.pending.length > 0) {
      const { about, send } = this.pending.shift() as Pending;
      this.sending++;
      send()
        .catch((err: unknown) => this.log.warn({ ...about, err }, 'event not recorded'))
        .finally(() => {
          this.sending--;
          this.pump();
        });
    }
  }
}
