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
  /** A batch arrived (called once per batch, not per message). */
  onReceived: (topic: string, partition: number, offsets: readonly string[]) => void;
  /** What became of one attempt; `durationMs` is its handler time (processed and retried only). */
  onMessage: (
    outcome: Exclude<MessageOutcome, 'received'>,
    topic: string,
    partition: number,
    offset: string,
    attempt: number,
    durationMs: number,
  ) => void;
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

/**
 * Tries of one commit that fails retriably; with the default backoff (capped below) they span about seven
 * seconds, what a coordinator takes to move or a restarted broker to load the group.
 */
const COMMIT_ATTEMPTS = 8;
const COMMIT_RETRY_MAX_MS = 2_000;

/** Longest wait before a held partition's message is tried again. */
const BLOCKED_RETRY_MAX_MS = 30_000;

export interface DrainOutcome {
  timedOut: boolean;
  /** Messages still running when the timeout struck; aborted and left uncommitted for redelivery. */
  leftInFlight: number;
}

type Result = 'done' | 'failed' | 'aborted';

/** What an attempt's error is while it has none (a handler may reject with anything, undefined too). */
const SUCCEEDED = Symbol('succeeded');

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
  /** A drain or a revocation cut it: no further message of it starts (they are fetched again). */
  cut = false;
  sinceCommit = 0;
  lastCommitAt = Date.now();
  /** The commit under way, if any; `commitAgain` asks it for one more round when it is done. */
  committing: Promise<void> | null = null;
  commitAgain = false;
  /** A commit is due and waits for the next turn of the event loop. */
  commitSoon = false;
  #open: number;

  constructor(batch: Batch, tracker: OffsetTracker, generation: number) {
    this.batch = batch;
    this.tracker = tracker;
    this.generation = generation;
    this.#open = batch.offsets.length;
  }

  /** `count` more messages ran or were dropped. */
  settle(count = 1): void {
    this.#open -= count;
    if (this.#open === 0) this.settled.resolve(undefined);
  }
}

/**
 * Consecutive messages of one batch in one lane, by index (`from` up to, not including, `to`), as the
 * scheduler queues them: with partition ordering a whole batch is one item, so the pool is entered once
 * per batch rather than once per message.
 */
interface Item {
  run: BatchRun;
  from: number;
  to: number;
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
  /** The batches being handled, so that a drain or a revocation can cut the running ones too. */
  readonly #runs = new Set<BatchRun>();
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
  /**
   * Aborts with a drain timeout or a revocation of the current generation: made once per generation
   * (AbortSignal.any per message was a tenth of the message path's time, with its garbage).
   */
  #stopSignal = AbortSignal.any([this.#abort.signal, this.#revoke.signal]);
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
    if (this.#stopping || revoked || batch.offsets.length === 0) return Promise.resolve();
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
    this.#cut();
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

  /**
   * The partitions this member holds now. With the classic protocol every assignment follows the
   * revocation of everything: a new generation begins. With KIP-848 (`incremental`) only the partitions
   * missing from `assignment` were taken away: their batches are cut (what finished is committed, the
   * rest is the next owner's to fetch) and the others carry on in their generation.
   */
  assigned(assignment: Record<string, number[]> = {}, incremental = false): void {
    if (incremental) {
      const kept = new Set(Object.entries(assignment).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)));
      for (const run of this.#runs)
        if (!kept.has(`${run.batch.topic}/${run.batch.partition}`)) run.cut = true;
      return;
    }
    this.#generation += 1;
    this.#revoke = new AbortController();
    this.#stopSignal = AbortSignal.any([this.#abort.signal, this.#revoke.signal]);
  }

  /**
   * Commits now what each running batch has finished: the client is about to hand partitions back, and a
   * commit sent before its acknowledgement reaches the coordinator before the next owner starts.
   */
  commitFinished(): void {
    for (const run of this.#runs) void this.#commit(run);
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
    this.#stopSignal = AbortSignal.any([this.#abort.signal, this.#revoke.signal]);
    this.#abandon = Promise.withResolvers<undefined>();
    // A handler that ignored its abort may still hold a lane of the old pool: start with a fresh one.
    this.#scheduler = this.#newScheduler();
  }

  #newScheduler(): LaneScheduler<Item> {
    return new LaneScheduler(this.#opts.maxWorkers, (item: Item) => this.#runItem(item));
  }

  async #handle(batch: Batch): Promise<void> {
    const { topic, partition, offsets } = batch;
    const run = new BatchRun(batch, new OffsetTracker(offsets, batch.nextOffset), this.#generation);
    this.#deps.onReceived(topic, partition, offsets);
    const partitionLane = `${topic}/${partition}`;
    const held = this.#blocked.get(partitionLane);
    const heldHere = held !== undefined && held.offset === offsets[0];
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
          this.#recordError('HEARTBEAT_FAILED', err, topic, partition, offsets[0] ?? '');
          return;
        }
        revokedBy = err;
        if (!this.#current(run)) return;
        this.#revokedGeneration = run.generation;
        this.#revoke.abort(err);
        this.#cut();
      });
    }, this.#opts.heartbeatIntervalMs);
    this.#runs.add(run);
    try {
      if (heldHere) {
        // The refetch of a held partition: wait (bounded, and cut by a drain or revocation), then try the
        // held message alone; the ones after it come with the next fetch once it is done.
        const delayMs = backoffDelay(held.failures, this.#opts.retryBackoffMs, BLOCKED_RETRY_MAX_MS);
        const cut = AbortSignal.any([this.#stopSignal, this.#stop.signal]);
        await abortableDelay(delayMs, cut).catch(() => undefined);
        run.settle(offsets.length - 1);
        // Cut short: it stays held and uncommitted, and is fetched again after the resume or rebalance.
        if (cut.aborted) run.settle();
        else this.#scheduler.submit(partitionLane, { run, from: 0, to: 1 });
      } else if (this.#opts.orderBy === 'partition') {
        this.#scheduler.submit(partitionLane, { run, from: 0, to: offsets.length });
      } else {
        // Per key: consecutive messages of one key go in as one item.
        let from = 0;
        let lane = '';
        for (let index = 0; index < offsets.length; index++) {
          const key = `${partitionLane}/${batch.key(index)?.toString('hex') ?? ''}`;
          if (index > 0 && key !== lane) {
            this.#scheduler.submit(lane, { run, from, to: index });
            from = index;
          }
          lane = key;
        }
        this.#scheduler.submit(lane, { run, from, to: offsets.length });
      }
      await Promise.race([run.settled.promise, this.#abandon.promise]);
    } finally {
      clearInterval(ticker);
      this.#runs.delete(run);
    }
    await this.#commit(run);
    if (!this.#current(run)) return;
    const next = run.tracker.contiguous();
    if (next !== null) batch.seekLocal(next.toString());
    if (revokedBy !== null) throw revokedBy;
  }

  /**
   * The scheduler's work: the item's messages one after the other, each through its attempts and its
   * bookkeeping. Hands back the rest when another lane waits for a slot. Never rejects. The attempts run
   * here rather than in a function of their own: that would be one more promise and await per message.
   */
  async #runItem(item: Item): Promise<Item | undefined> {
    const { run, to } = item;
    for (let index = item.from; index < to; index++) {
      // Cut by a drain or revocation, or its partition is held at an earlier message (running it now would
      // break the order and run it again with every refetch): the rest stays uncommitted, is fetched again.
      if (run.cut || (run.blockedAt !== null && index > run.blockedAt)) {
        run.settle(to - index);
        return undefined;
      }
      if (index > item.from && this.#scheduler.contended) return { run, from: index, to };
      const m = run.batch.message(index);
      // A drain timeout or a revocation: a member that is losing the partition stops retrying it (its
      // successor fetches it again) rather than outlive the rebalance timeout and be evicted. (The
      // composite signal is for waits; its `aborted` getter re-reads its sources, so checks use those.)
      const timedOut = this.#abort.signal;
      const revoked = this.#revoke.signal;
      const drainSignal = this.#stopSignal;
      let result: Result | null = null;
      try {
        for (let attempt = 1; result === null; attempt++) {
          if (timedOut.aborted || revoked.aborted) {
            result = this.#aborted(m, attempt);
            break;
          }
          const started = performance.now();
          // Aborted by MAX_PROCESSING_TIME or by the drain timeout (Deadlines.abortAll).
          const ctx = this.#deadlines.start(started);
          let error: unknown = SUCCEEDED;
          try {
            await this.#deps.handler(m, ctx);
          } catch (err) {
            error = err;
          } finally {
            this.#deadlines.end(ctx);
          }
          const durationMs = performance.now() - started;
          if (error === SUCCEEDED) {
            this.#deps.onMessage('processed', m.topic, m.partition, m.offset, attempt, durationMs);
            result = 'done';
          } else {
            const failure = { error, attempt, aborted: ctx.aborted, durationMs };
            result = await this.#failedAttempt(m, failure, timedOut, revoked, drainSignal);
          }
        }
      } catch (err) {
        // Only a throwing listener gets here; the message is then left unfinished, so it comes back.
        this.#recordError('PROCESSING_FAILED', err, m.topic, m.partition, m.offset);
        result = 'failed';
      }
      this.#finished(run, index, m, result);
    }
    return undefined;
  }

  /**
   * After a failed attempt: null to try again (after the backoff), or how the message ends: aborted by a
   * drain timeout or revocation, or dead-lettered once it is out of attempts or cannot succeed.
   */
  async #failedAttempt(
    m: ConsumedMessage,
    failure: { error: unknown; attempt: number; aborted: boolean; durationMs: number },
    timedOut: AbortSignal,
    revoked: AbortSignal,
    drainSignal: AbortSignal,
  ): Promise<Result | null> {
    const { error, attempt, durationMs } = failure;
    const { topic, partition, offset } = m;
    if (timedOut.aborted || revoked.aborted) return this.#aborted(m, attempt);
    this.#recordError('HANDLER_FAILED', error, topic, partition, offset);
    // The handler's own KmaintError marked not retriable (a poison message, say) cannot succeed later:
    // dead-letter it now. An attempt that was aborted (it ran out of time) is retried as usual.
    const hopeless = !failure.aborted && !isRetriable(error);
    if (!hopeless && attempt <= this.#opts.maxRetries) {
      this.#deps.onMessage('retried', topic, partition, offset, attempt, durationMs);
      try {
        await abortableDelay(backoffDelay(attempt, this.#opts.retryBackoffMs), drainSignal);
      } catch {
        return this.#aborted(m, attempt);
      }
      return null;
    }
    this.#deps.onMessage('failed', topic, partition, offset, attempt, 0);
    return this.#deadLetter(m, error, attempt);
  }

  /** The bookkeeping of a message that ran: its offset, its partition's hold, the commit it makes due. */
  #finished(run: BatchRun, index: number, m: ConsumedMessage, result: Result): void {
    if (result === 'done') {
      run.tracker.finish(index);
      if (this.#blocked.size > 0) {
        const lane = `${m.topic}/${m.partition}`;
        if (this.#blocked.get(lane)?.offset === m.offset) this.#blocked.delete(lane);
      }
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
      this.#commitSoon(run);
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

  /** Drops the queued messages of every batch and cuts the running ones: all are fetched again. */
  #cut(): void {
    for (const { run, from, to } of this.#scheduler.cancel()) run.settle(to - from);
    for (const run of this.#runs) run.cut = true;
  }

  #current(run: BatchRun): boolean {
    return run.generation === this.#generation;
  }

  /**
   * Commits the batch's contiguous finished offset, one commit after the other: asked while one is under
   * way, that one goes another round when it is done (with what finished by then), so the promise
   * returned resolves once everything finished before the call is committed.
   */
  #commit(run: BatchRun): Promise<void> {
    if (run.committing !== null) {
      run.commitAgain = true;
      return run.committing;
    }
    const rounds = async (): Promise<void> => {
      do {
        run.commitAgain = false;
        await this.#commitOnce(run);
      } while (run.commitAgain);
      run.committing = null;
    };
    run.committing = rounds();
    return run.committing;
  }

  /**
   * A commit at the next turn of the event loop, with what finished by then. Messages whose handlers
   * finish at once run back to back without that turn (one chain of promise jobs), so a commit sent at
   * once could not even be answered before the batch ends, and the batch would then wait for it before
   * its own final commit; a slow handler lets the loop turn, and its commits go out as soon as they are due.
   */
  #commitSoon(run: BatchRun): void {
    if (run.commitSoon) return;
    run.commitSoon = true;
    setImmediate(() => {
      run.commitSoon = false;
      void this.#commit(run);
    });
  }

  /**
   * One commit of what finished, sent again (with what finished by then) after a failure the client calls
   * retriable: a batch of fast handlers commits once, at its end, so a commit lost to a coordinator move
   * would leave the whole batch uncommitted, and the rejoin that follows fetches it all again. A broker
   * that does not answer (KAFKA_UNAVAILABLE) is waited for outside a drain, for as long as this generation
   * lasts: a broker restart outlasts the eight tries, and everything that finished meanwhile would be
   * processed again by whoever fetches from the committed offset. A drain does not wait out an outage (its
   * messages are fetched again after it). A failure that is not retriable (the group moved on) is left to
   * the next owner, which fetches from the committed offset; so is one the drain timeout cuts short.
   */
  async #commitOnce(run: BatchRun): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      const next = run.tracker.pendingCommit();
      if (next === null || !this.#current(run)) return;
      let waitSignal: AbortSignal;
      try {
        await run.batch.commit(next.toString());
        run.tracker.markCommitted(next);
        return;
      } catch (err) {
        const { topic, partition } = run.batch;
        this.#recordError('COMMIT_FAILED', err, topic, partition, next.toString());
        const unreachable = err instanceof KmaintError && err.code === 'KAFKA_UNAVAILABLE';
        const again = unreachable
          ? !this.#stopping && !this.#revoke.signal.aborted
          : isRetriable(err) && attempt < COMMIT_ATTEMPTS;
        this.#deps.logger.warn(
          { topic, partition, offset: next.toString(), attempt, err },
          again ? 'commit failed; sending it again' : 'commit failed; left to the next commit or owner',
        );
        if (!again) return;
        // The wait for a broker that is away ends with a drain or a revocation (one more try, then it is
        // left); any wait ends with the drain timeout.
        waitSignal = unreachable
          ? AbortSignal.any([this.#stopSignal, this.#stop.signal])
          : this.#abort.signal;
      }
      const delayMs = backoffDelay(attempt, this.#opts.retryBackoffMs, COMMIT_RETRY_MAX_MS);
      await abortableDelay(delayMs, waitSignal).catch(() => undefined);
      if (this.#abort.signal.aborted) return;
    }
  }

  #aborted(m: ConsumedMessage, attempt: number): Result {
    this.#deps.onMessage('aborted', m.topic, m.partition, m.offset, attempt, 0);
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
    this.#deps.onMessage('deadLettered', m.topic, m.partition, m.offset, attempts, 0);
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
