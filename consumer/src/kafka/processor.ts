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

/** A partition held at a message that could neither be processed nor dead-lettered. */
export interface BlockedPartition {
  topic: string;
  partition: number;
  /** The offset it is held at: nothing after it is processed until this one is. */
  offset: string;
  /** ISO time it was first held there. */
  since: string;
  /** Why the last attempt to finish it failed. */
  reason: string;
  /** Refetches of it that failed again. */
  failures: number;
}

/** Longest wait before a held partition's message is tried again. */
const BLOCKED_RETRY_MAX_MS = 30_000;

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
  /** Index of a message that failed for good (DLQ down): later ones of its partition are not run. */
  blockedAt: number | null = null;
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
   * Counts group generations (assignments) and processing sessions (reopen). A batch belongs to the
   * generation it started in; once the group or the session moved on it neither commits (the partition
   * may be someone else's now, or committed past) nor stops the new generation.
   */
  #generation = 0;
  /** The generation in which a rebalance was seen: its remaining batches are left to the next owner. */
  #revokedGeneration = -1;
  /** Aborted by a drain timeout: every handler signal and backoff wait follows it. */
  #abort = new AbortController();
  /** Aborted when the current generation's partitions are revoked: retries and backoff stop then. */
  #revoke = new AbortController();
  /** Aborted when a drain begins: the wait before a held partition's retry does not hold it up. */
  #stop = new AbortController();
  /** Partitions held at a message that failed and could not be dead-lettered, by `topic/partition`. */
  readonly #blocked = new Map<string, BlockedPartition>();
  #lastDlqError = 'processing failed';
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

  /** The partitions held at a message that can be neither processed nor dead-lettered. */
  blocked(): BlockedPartition[] {
    return [...this.#blocked.values()].map((b) => ({ ...b }));
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
    this.#stop.abort();
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
        'handlers ignored their abort signal or commits hang; committing without them',
      );
      this.#abandon.resolve(undefined);
      // A commit that hangs (the broker went away) is not awaited past one more grace period: what it
      // would have committed is fetched again by the next owner.
      await settlesWithin(settled(), ABANDON_GRACE_MS);
    }
    return { timedOut: true, leftInFlight };
  }

  /** The group assigned partitions: a new generation begins. */
  assigned(): void {
    this.#generation += 1;
    this.#revoke = new AbortController();
  }

  /** Takes messages again after a drain (resume or rejoin). */
  reopen(): void {
    // A session of its own: a handler the drain left behind that finishes now must not commit its old
    // batch, whose offsets this session may already have committed past.
    this.#generation += 1;
    this.#stopping = false;
    this.#revokedGeneration = -1;
    this.#abort = new AbortController();
    this.#revoke = new AbortController();
    this.#stop = new AbortController();
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
    const held = this.#blocked.get(partitionLane);
    const heldHere = held !== undefined && held.offset === messages[0]?.offset;
    if (held !== undefined && !heldHere) this.#blocked.delete(partitionLane);

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
        this.#revoke.abort(err);
        this.#dropQueued();
      });
    }, this.#opts.heartbeatIntervalMs);
    if (heldHere) {
      // The refetch of a held partition: wait (bounded, and cut by a drain or revocation), then try the
      // held message alone; the ones after it come with the next fetch once it is done.
      const delayMs = backoffDelay(held.failures, this.#opts.retryBackoffMs, BLOCKED_RETRY_MAX_MS);
      const cut = AbortSignal.any([this.#stopSignal(), this.#stop.signal]);
      await abortableDelay(delayMs, cut).catch(() => undefined);
      // Cut short: it stays held and uncommitted, and is fetched again after the resume or rebalance.
      if (cut.aborted) run.settle();
      else this.#scheduler.submit(partitionLane, { run, index: 0 });
      for (let index = 1; index < messages.length; index++) run.settle();
    } else {
      for (let index = 0; index < messages.length; index++) {
        const key = messages[index]?.key?.toString('hex') ?? '';
        this.#scheduler.submit(byKey ? `${partitionLane}/${key}` : partitionLane, { run, index });
      }
    }
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
    if (run.blockedAt !== null && index > run.blockedAt) {
      // Its partition is held at an earlier message: running it now would break the order and run it
      // again with every refetch.
      run.settle();
      return;
    }
    let result: Result;
    try {
      result = await this.#process(m);
    } catch (err) {
      // Only a throwing listener gets here; the message is then left unfinished, so it comes back.
      this.#recordError('PROCESSING_FAILED', err, m.topic, m.partition, m.offset);
      result = 'failed';
    }
    const lane = `${m.topic}/${m.partition}`;
    if (result === 'done') {
      run.tracker.finish(index);
      if (this.#blocked.get(lane)?.offset === m.offset) this.#blocked.delete(lane);
    } else if (result === 'failed') {
      run.tracker.fail(index);
      this.#hold(run, index, m);
    }
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

  /** Holds the partition at `m`, which failed and could not be dead-lettered (or a listener threw). */
  #hold(run: BatchRun, index: number, m: ConsumedMessage): void {
    run.blockedAt = run.blockedAt === null ? index : Math.min(run.blockedAt, index);
    const lane = `${m.topic}/${m.partition}`;
    const before = this.#blocked.get(lane);
    const last = this.#lastDlqError;
    if (before?.offset === m.offset) {
      this.#blocked.set(lane, { ...before, failures: before.failures + 1, reason: last });
      return;
    }
    this.#blocked.set(lane, {
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      since: new Date().toISOString(),
      reason: last,
      failures: 1,
    });
    this.#deps.logger.warn(
      { topic: m.topic, partition: m.partition, offset: m.offset, reason: last },
      'partition held at a message that can be neither processed nor dead-lettered',
    );
    this.#recordError('PARTITION_BLOCKED', new Error(last), m.topic, m.partition, m.offset);
  }

  /** Aborts with a drain timeout or a revocation of the current generation. */
  #stopSignal(): AbortSignal {
    return AbortSignal.any([this.#abort.signal, this.#revoke.signal]);
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
    // A drain timeout or a revocation: a member that is losing the partition stops retrying it (its
    // successor fetches it again) rather than outlive the rebalance timeout and be evicted.
    const drainSignal = this.#stopSignal();
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
      this.#lastDlqError = `dead-letter topic ${dlq} unavailable: ${err instanceof Error ? err.message : String(err)}`;
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
