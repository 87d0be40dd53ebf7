import { KmaintError } from '@kmaint/common';
import type { Logger } from 'pino';
import { backoffDelay } from '../core/backoff.ts';
import type { MessageOutcome } from '../core/events.ts';
import { OffsetTracker } from '../core/offset-tracker.ts';
import { LaneScheduler } from '../core/scheduler.ts';
import { settlesWithin } from '../core/timeout.ts';
import type { RecordedError } from '../core/types.ts';
import { abortableDelay, type ConsumedMessage, type MessageHandler } from '../handler.ts';
import type { Batch, OutgoingMessage, SentMessage } from './client.ts';

export interface ProcessorOptions {
  maxWorkers: number;
  maxProcessingTimeMs: number;
  retryBackoffMs: number;
  maxRetries: number;
  dlqTopicSuffix: string;
  orderBy: 'partition' | 'key';
  /** Commit after this many finished messages of a batch (KAFKA_BATCH_SIZE), and at its end. */
  commitEveryMessages: number;
  /** With auto-commit (KAFKA_ENABLE_AUTO_COMMIT): commit on this interval instead of by count. */
  autoCommitIntervalMs: number | null;
  heartbeatIntervalMs: number;
}

export interface ProcessorDeps {
  handler: MessageHandler;
  produce: (topic: string, message: OutgoingMessage) => Promise<SentMessage>;
  logger: Logger;
  onMessage: (event: {
    outcome: MessageOutcome;
    topic: string;
    partition: number;
    offset: string;
    attempt: number;
    durationMs: number;
  }) => void;
  onError: (error: RecordedError) => void;
}

export interface DrainOutcome {
  timedOut: boolean;
  /** Messages still running when the timeout struck; aborted and left uncommitted for redelivery. */
  leftInFlight: number;
}

type Result = 'done' | 'failed' | 'aborted';

/** After the drain timeout aborts the handlers, how long they get to honour the signal before we move on. */
const ABANDON_GRACE_MS = 2_000;

/**
 * Runs the messages of each fetched batch through the bounded, ordered worker pool, retries and
 * dead-letters failures, and commits only the contiguous finished offsets of each partition. Knows
 * nothing of kafkajs: it sees batches through the `Batch` interface.
 */
export class Processor {
  readonly #opts: ProcessorOptions;
  readonly #deps: ProcessorDeps;
  #scheduler: LaneScheduler;
  readonly #batches = new Set<Promise<void>>();
  #stopping = false;
  /**
   * Counts group generations (assignments). A batch belongs to the generation it started in; once the group
   * moved on it neither commits (the partition may be someone else's now) nor stops the new generation.
   */
  #generation = 0;
  /** The generation in which a rebalance was seen: its remaining batches are left to the next owner. */
  #revokedGeneration = -1;
  /** Aborted by a drain timeout: every handler signal and backoff wait follows it. */
  #abort = new AbortController();
  /** Resolves when a drain gives up on handlers that ignore their signal. */
  #abandon = Promise.withResolvers<undefined>();

  constructor(options: ProcessorOptions, deps: ProcessorDeps) {
    this.#opts = options;
    this.#deps = deps;
    this.#scheduler = new LaneScheduler(options.maxWorkers);
  }

  get inFlight(): number {
    return this.#scheduler.running;
  }

  /** Handles one batch to the end (or until a drain or rebalance stops it), then commits. */
  handleBatch(batch: Batch): Promise<void> {
    const revoked = this.#revokedGeneration === this.#generation;
    if (this.#stopping || revoked || batch.messages.length === 0) return Promise.resolve();
    const run = this.#handle(batch);
    this.#batches.add(run);
    const forget = (): void => void this.#batches.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Stops taking messages: queued ones are dropped (they stay uncommitted and are fetched again). */
  beginStop(): void {
    this.#stopping = true;
    this.#scheduler.cancel();
  }

  /** Waits for in-flight messages and the commits of their batches, aborting them past `timeoutMs`. */
  async drain(timeoutMs: number): Promise<DrainOutcome> {
    this.beginStop();
    const settled = (): Promise<unknown> =>
      Promise.all([...this.#batches].map((b) => b.catch(() => undefined)));
    if (await settlesWithin(settled(), timeoutMs)) return { timedOut: false, leftInFlight: 0 };
    const leftInFlight = this.#scheduler.running;
    this.#abort.abort(new KmaintError('DRAIN_TIMEOUT', `drain timeout of ${timeoutMs} ms reached`));
    if (!(await settlesWithin(settled(), ABANDON_GRACE_MS))) {
      this.#deps.logger.warn(
        { leftInFlight },
        'handlers ignored their abort signal; committing without them',
      );
      this.#abandon.resolve(undefined);
      await settled();
    }
    return { timedOut: true, leftInFlight };
  }

  /** The group assigned partitions: a new generation begins. */
  assigned(): void {
    this.#generation += 1;
  }

  /** Takes messages again after a drain (resume or rejoin). */
  reopen(): void {
    this.#stopping = false;
    this.#revokedGeneration = -1;
    this.#abort = new AbortController();
    this.#abandon = Promise.withResolvers<undefined>();
    // A handler that ignored its abort may still hold a lane of the old pool: start with a fresh one.
    this.#scheduler = new LaneScheduler(this.#opts.maxWorkers);
  }

  async #handle(batch: Batch): Promise<void> {
    const { topic, partition } = batch;
    const tracker = new OffsetTracker();
    for (const m of batch.messages) tracker.register(BigInt(m.offset));
    tracker.setEnd(BigInt(batch.nextOffset));
    for (const m of batch.messages) {
      this.#deps.onMessage({
        outcome: 'received',
        topic,
        partition,
        offset: m.offset,
        attempt: 0,
        durationMs: 0,
      });
    }

    const laneOf = (m: ConsumedMessage): string =>
      this.#opts.orderBy === 'key'
        ? `${topic}/${partition}/${m.key?.toString('hex') ?? ''}`
        : `${topic}/${partition}`;

    let revokedBy: unknown = null;
    let sinceCommit = 0;
    let lastCommitAt = Date.now();
    let committing: Promise<void> = Promise.resolve();
    const generation = this.#generation;
    const current = (): boolean => generation === this.#generation;
    const commit = (): Promise<void> => {
      committing = committing.then(async () => {
        const next = tracker.pendingCommit();
        if (next === null || !current()) return;
        try {
          await batch.commit(next.toString());
          tracker.markCommitted(next);
        } catch (err) {
          this.#recordError('COMMIT_FAILED', err, topic, partition, next.toString());
        }
      });
      return committing;
    };
    const abandoned = this.#abandon.promise;

    const jobs = batch.messages.map(async (m) => {
      const outcome = await this.#scheduler.submit(laneOf(m), () => this.#process(m));
      if (outcome.status !== 'ran') return;
      if (outcome.value === 'done') tracker.finish(BigInt(m.offset));
      else if (outcome.value === 'failed') tracker.fail(BigInt(m.offset));
      sinceCommit += 1;
      const auto = this.#opts.autoCommitIntervalMs;
      const due =
        auto === null ? sinceCommit >= this.#opts.commitEveryMessages : Date.now() - lastCommitAt >= auto;
      if (due) {
        sinceCommit = 0;
        lastCommitAt = Date.now();
        void commit();
      }
    });

    // kafkajs only heartbeats between batches; a long batch must keep the membership alive itself, and a
    // rejected heartbeat is how a rebalance shows up. kafkajs rebalances eagerly (every partition is
    // revoked): so stop taking messages everywhere, let the running ones finish, commit, and give the
    // partitions up promptly. A rejection that reaches a batch of an older generation changes nothing.
    const ticker = setInterval(() => {
      batch.heartbeat().catch((err: unknown) => {
        if (revokedBy !== null) return;
        if (!batch.isRevocation(err)) {
          // Not a rebalance: kafkajs meets the same failure at its next heartbeat and handles it there.
          this.#recordError('HEARTBEAT_FAILED', err, topic, partition, batch.messages[0]?.offset ?? '');
          return;
        }
        revokedBy = err;
        if (!current()) return;
        this.#revokedGeneration = generation;
        this.#scheduler.cancel();
      });
    }, this.#opts.heartbeatIntervalMs);
    try {
      await Promise.race([Promise.all(jobs), abandoned]);
    } finally {
      clearInterval(ticker);
    }
    await commit();
    if (!current()) return;
    const next = tracker.contiguous();
    if (next !== null) batch.seekLocal(next.toString());
    if (revokedBy !== null) throw revokedBy;
  }

  async #process(m: ConsumedMessage): Promise<Result> {
    const { topic, partition, offset } = m;
    const drainSignal = this.#abort.signal;
    const attempts = this.#opts.maxRetries + 1;
    let lastError: unknown = null;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (drainSignal.aborted) return this.#aborted(m, attempt);
      const signal = AbortSignal.any([drainSignal, AbortSignal.timeout(this.#opts.maxProcessingTimeMs)]);
      const started = performance.now();
      try {
        await this.#deps.handler(m, { signal });
        const durationMs = performance.now() - started;
        this.#deps.onMessage({ outcome: 'processed', topic, partition, offset, attempt, durationMs });
        return 'done';
      } catch (err) {
        if (drainSignal.aborted) return this.#aborted(m, attempt);
        lastError = err;
        this.#recordError('HANDLER_FAILED', err, topic, partition, offset);
        if (attempt < attempts) {
          const durationMs = performance.now() - started;
          this.#deps.onMessage({ outcome: 'retried', topic, partition, offset, attempt, durationMs });
          try {
            await abortableDelay(backoffDelay(attempt, this.#opts.retryBackoffMs), drainSignal);
          } catch {
            return this.#aborted(m, attempt);
          }
        }
      }
    }
    this.#deps.onMessage({ outcome: 'failed', topic, partition, offset, attempt: attempts, durationMs: 0 });
    return this.#deadLetter(m, lastError, attempts);
  }

  #aborted(m: ConsumedMessage, attempt: number): Result {
    const { topic, partition, offset } = m;
    this.#deps.onMessage({ outcome: 'aborted', topic, partition, offset, attempt, durationMs: 0 });
    return 'aborted';
  }

  async #deadLetter(m: ConsumedMessage, error: unknown, attempts: number): Promise<Result> {
    const dlq = `${m.topic}${this.#opts.dlqTopicSuffix}`;
    const reason = error instanceof Error ? error.message : String(error);
    try {
      await this.#deps.produce(dlq, {
        key: m.key,
        value: m.value,
        headers: {
          ...m.headers,
          'kmaint-dlq-reason': reason,
          'kmaint-dlq-error-code': error instanceof KmaintError ? error.code : 'HANDLER_FAILED',
          'kmaint-original-topic': m.topic,
          'kmaint-original-partition': String(m.partition),
          'kmaint-original-offset': m.offset,
          'kmaint-original-timestamp': m.timestamp,
          'kmaint-attempts': String(attempts),
          'kmaint-dead-lettered-at': new Date().toISOString(),
        },
      });
    } catch (err) {
      // Not dead-lettered means not finished: the offset stays uncommitted and the message comes back.
      this.#recordError('DLQ_FAILED', err, m.topic, m.partition, m.offset);
      return 'failed';
    }
    this.#deps.onMessage({
      outcome: 'deadLettered',
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      attempt: attempts,
      durationMs: 0,
    });
    return 'done';
  }

  #recordError(code: string, err: unknown, topic: string, partition: number, offset: string): void {
    const message = err instanceof Error ? err.message : String(err);
    this.#deps.onError({
      at: new Date().toISOString(),
      code: err instanceof KmaintError ? err.code : code,
      message,
      topic,
      partition,
      offset,
    });
  }
}
