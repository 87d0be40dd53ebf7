import { KmaintError } from '@kmaint/common';
import type { Logger } from 'pino';
import type { MessageOutcome } from '../core/events.ts';
import { OffsetTracker } from '../core/offset-tracker.ts';
import { LaneScheduler } from '../core/scheduler.ts';
import { settlesWithin } from '../core/timeout.ts';
import type { RecordedError } from '../core/types.ts';
import { abortableDelay, backoffDelay, isRetriable } from '@kmaint/common';
import type { ConsumedMessage, MessageHandler } from '../handler.ts';
import type { Batch, OutgoingMessage, SentMessage } from './client.ts';
import { Deadlines } from './deadlines.ts';

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

/** One fetched batch on its way through the pool. */
class BatchRun {
  readonly batch: Batch;
  readonly tracker: OffsetTracker;
  /** The group generation it started in: it never commits for a later one. */
  readonly generation: number;
  /** Resolves once every message has run or was dropped. */
  readonly settled = Promise.withResolvers<undefined>();
  sinceCommit = 0;
  lastCommitAt = Date.now();
  committing: Promise<void> = Promise.resolve();
  #open: number;

  constructor(batch: Batch, tracker: OffsetTracker, generation: number) {
    this.batch = batch;
    this.tracker = tracker;
    this.generation = generation;
    this.#open = batch.messages.length;
  }

  /** One more message ran or was dropped. */
  settle(): void {
    this.#open -= 1;
    if (this.#open === 0) this.settled.resolve(undefined);
  }
}

/** A message of a batch, by its index, as the scheduler queues it. */
interface Item {
  run: BatchRun;
  index: number;
}

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
  #scheduler: LaneScheduler<Item>;
  readonly #deadlines: Deadlines;
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
    this.#scheduler = this.#newScheduler();
    this.#deadlines = new Deadlines(options.maxProcessingTimeMs);
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
    this.#dropQueued();
  }

  /** Waits for in-flight messages and the commits of their batches, aborting them past `timeoutMs`. */
  async drain(timeoutMs: number): Promise<DrainOutcome> {
    this.beginStop();
    const settled = (): Promise<unknown> =>
      Promise.all([...this.#batches].map((b) => b.catch(() => undefined)));
    if (await settlesWithin(settled(), timeoutMs)) return { timedOut: false, leftInFlight: 0 };
    const leftInFlight = this.#scheduler.running;
    const reason = new KmaintError('DRAIN_TIMEOUT', `drain timeout of ${timeoutMs} ms reached`);
    this.#abort.abort(reason);
    this.#deadlines.abortAll(reason);
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
    this.#scheduler = this.#newScheduler();
  }

  #newScheduler(): LaneScheduler<Item> {
    return new LaneScheduler(this.#opts.maxWorkers, (item: Item) => this.#runItem(item));
  }

  async #handle(batch: Batch): Promise<void> {
    const { topic, partition, messages } = batch;
    const run = new BatchRun(
      batch,
      new OffsetTracker(
        messages.map((m) => m.offset),
        batch.nextOffset,
      ),
      this.#generation,
    );
    for (const m of messages) {
      this.#deps.onMessage({
        outcome: 'received',
        topic,
        partition,
        offset: m.offset,
        attempt: 0,
        durationMs: 0,
      });
    }
    const partitionLane = `${topic}/${partition}`;
    const byKey = this.#opts.orderBy === 'key';
    for (let index = 0; index < messages.length; index++) {
      const lane = byKey ? `${partitionLane}/${messages[index]?.key?.toString('hex') ?? ''}` : partitionLane;
      this.#scheduler.submit(lane, { run, index });
    }

    // kafkajs only heartbeats between batches; a long batch must keep the membership alive itself, and a
    // rejected heartbeat is how a rebalance shows up. kafkajs rebalances eagerly (every partition is
    // revoked): so stop taking messages everywhere, let the running ones finish, commit, and give the
    // partitions up promptly. A rejection that reaches a batch of an older generation changes nothing.
    let revokedBy: unknown = null;
    const ticker = setInterval(() => {
      batch.heartbeat().catch((err: unknown) => {
        if (revokedBy !== null) return;
        if (!batch.isRevocation(err)) {
          // Not a rebalance: kafkajs meets the same failure at its next heartbeat and handles it there.
          this.#recordError('HEARTBEAT_FAILED', err, topic, partition, messages[0]?.offset ?? '');
          return;
        }
        revokedBy = err;
        if (!this.#current(run)) return;
        this.#revokedGeneration = run.generation;
        this.#dropQueued();
      });
    }, this.#opts.heartbeatIntervalMs);
    try {
      await Promise.race([run.settled.promise, this.#abandon.promise]);
    } finally {
      clearInterval(ticker);
    }
    await this.#commit(run);
    if (!this.#current(run)) return;
    const next = run.tracker.contiguous();
    if (next !== null) batch.seekLocal(next.toString());
    if (revokedBy !== null) throw revokedBy;
  }

  /** The scheduler's work: one message through its attempts, then its bookkeeping. Never rejects. */
  async #runItem({ run, index }: Item): Promise<void> {
    const m = run.batch.messages[index] as ConsumedMessage;
    let result: Result;
    try {
      result = await this.#process(m);
    } catch (err) {
      // Only a throwing listener gets here; the message is then left unfinished, so it comes back.
      this.#recordError('PROCESSING_FAILED', err, m.topic, m.partition, m.offset);
      result = 'failed';
    }
    if (result === 'done') run.tracker.finish(index);
    else if (result === 'failed') run.tracker.fail(index);
    run.sinceCommit += 1;
    const auto = this.#opts.autoCommitIntervalMs;
    const now = auto === null ? 0 : Date.now();
    const due =
      auto === null ? run.sinceCommit >= this.#opts.commitEveryMessages : now - run.lastCommitAt >= auto;
    if (due) {
      run.sinceCommit = 0;
      run.lastCommitAt = now;
      void this.#commit(run);
    }
    run.settle();
  }

  /** Drops the queued messages of every batch: they stay uncommitted and are fetched again. */
  #dropQueued(): void {
    for (const { run } of this.#scheduler.cancel()) run.settle();
  }

  #current(run: BatchRun): boolean {
    return run.generation === this.#generation;
  }

  /** Commits the batch's contiguous finished offset, one commit after the other. */
  #commit(run: BatchRun): Promise<void> {
    run.committing = run.committing.then(async () => {
      const next = run.tracker.pendingCommit();
      if (next === null || !this.#current(run)) return;
      try {
        await run.batch.commit(next.toString());
        run.tracker.markCommitted(next);
      } catch (err) {
        this.#recordError('COMMIT_FAILED', err, run.batch.topic, run.batch.partition, next.toString());
      }
    });
    return run.committing;
  }

  async #process(m: ConsumedMessage): Promise<Result> {
    const { topic, partition, offset } = m;
    const drainSignal = this.#abort.signal;
    const attempts = this.#opts.maxRetries + 1;
    let lastError: unknown = null;
    let tried = attempts;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (drainSignal.aborted) return this.#aborted(m, attempt);
      // Aborted by MAX_PROCESSING_TIME or by the drain timeout (Deadlines.abortAll).
      const ctx = this.#deadlines.start();
      const started = performance.now();
      let failed = false;
      try {
        await this.#deps.handler(m, ctx);
      } catch (err) {
        failed = true;
        lastError = err;
      } finally {
        this.#deadlines.end(ctx);
      }
      const durationMs = performance.now() - started;
      if (!failed) {
        this.#deps.onMessage({ outcome: 'processed', topic, partition, offset, attempt, durationMs });
        return 'done';
      }
      if (drainSignal.aborted) return this.#aborted(m, attempt);
      this.#recordError('HANDLER_FAILED', lastError, topic, partition, offset);
      tried = attempt;
      // The handler's own KmaintError marked not retriable (a poison message, say) cannot succeed later:
      // dead-letter it now. An attempt that was aborted (it ran out of time) is retried as usual.
      if (!ctx.aborted && !isRetriable(lastError)) break;
      if (attempt < attempts) {
        this.#deps.onMessage({ outcome: 'retried', topic, partition, offset, attempt, durationMs });
        try {
          await abortableDelay(backoffDelay(attempt, this.#opts.retryBackoffMs), drainSignal);
        } catch {
          return this.#aborted(m, attempt);
        }
      }
    }
    this.#deps.onMessage({ outcome: 'failed', topic, partition, offset, attempt: tried, durationMs: 0 });
    return this.#deadLetter(m, lastError, tried);
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
