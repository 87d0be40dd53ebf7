import { abortableDelay, backoffDelay } from '@kmaint/common';
import type { Logger } from 'pino';
import { settlesWithin } from '../core/timeout.ts';
import type { ConsumerSession, KafkaClient, LeaveOptions } from '../kafka/client.ts';
import type { Processor } from '../kafka/processor.ts';
import type { Health } from './health.ts';
import type { Statistics } from './statistics.ts';

export interface MembershipOptions {
  groupId: string;
  topics: string[];
  fromBeginning: boolean;
  /** The session died (a crash, or a stall); the state machine decides what follows. */
  onLost: () => void;
  /** Whether a failed join should stop retrying (the switch asks for maintenance, or shutdown began). */
  givesUp: () => boolean;
  /** A join attempt failed and was recorded (for the member report). */
  onJoinFailed: () => void;
}

const JOIN_RETRY_BASE_MS = 500;
const JOIN_RETRY_MAX_MS = 10_000;
const LEAVE_TIMEOUT_MS = 10_000;

/**
 * The group membership: joining (retried until it works or is no longer wanted), pausing, leaving within
 * a bound, and telling the engine when the session died. It never joins on its own: the client does not
 * restart a crashed consumer behind its back (a restart it scheduled could join after a leave, with
 * nothing holding it), and a rejoin goes through the state machine like any other join.
 */
export class GroupMembership {
  readonly #kafka: KafkaClient;
  readonly #processor: Processor;
  readonly #stats: Statistics;
  readonly #health: Health;
  readonly #log: Logger;
  readonly #opts: MembershipOptions;
  #session: ConsumerSession | null = null;
  /**
   * The join attempt whose consumer the client's callbacks speak for. A consumer of an ended session can
   * still be winding down (a leave that outlived its bound): its assignments, batches and health are not
   * this session's.
   */
  #current: symbol | null = null;
  /** Aborted when the switch turns on or a shutdown begins, so a join's backoff does not hold them up. */
  #joinWait = new AbortController();
  /** The missing topics last warned about ('' when none): the warning is logged once per set. */
  #missingTopicsWarned = '';

  constructor(
    deps: { kafka: KafkaClient; processor: Processor; stats: Statistics; health: Health; logger: Logger },
    options: MembershipOptions,
  ) {
    this.#kafka = deps.kafka;
    this.#processor = deps.processor;
    this.#stats = deps.stats;
    this.#health = deps.health;
    this.#log = deps.logger;
    this.#opts = options;
  }

  /** Whether a consumer is in the group (its own events then speak for Kafka's health). */
  get joined(): boolean {
    return this.#session !== null;
  }

  /** Cuts the backoff of a join being retried short (the switch turned on, or a shutdown began). */
  interruptJoinWait(): void {
    this.#joinWait.abort();
    this.#joinWait = new AbortController();
  }

  /**
   * Joins the group; retries with backoff, for as long as it takes, until it works (true) or the switch
   * (or a shutdown) no longer wants it (false). Each failure is in /health, the errors, the member report
   * and the `joinFailed` event.
   */
  async join(): Promise<boolean> {
    this.#processor.reopen();
    const { groupId, topics, fromBeginning } = this.#opts;
    for (let attempt = 1; ; attempt++) {
      const own = Symbol('session');
      this.#current = own;
      const mine = (): boolean => this.#current === own;
      try {
        this.#session = await this.#kafka.consume({
          groupId,
          topics,
          fromBeginning,
          onBatch: (batch) => (mine() ? this.#processor.handleBatch(batch) : Promise.resolve()),
          onAssigned: (assigned, incremental) => {
            if (!mine()) return;
            this.#processor.assigned(assigned, incremental);
            this.#log.info({ assigned }, 'partitions assigned');
            this.#stats.rebalance(assigned);
          },
          onRevoking: () => {
            if (mine()) this.#processor.commitFinished();
          },
          onHealth: (healthy, detail) => {
            if (mine()) this.#health.setKafka(healthy, detail);
          },
          onCommit: this.#stats.commit,
        });
        this.#watch(this.#session);
        if (this.#missingTopicsWarned !== '') {
          this.#log.info({ topics }, 'the missing topics exist now; consuming');
          this.#missingTopicsWarned = '';
        }
        return true;
      } catch (err) {
        this.#current = null;
        await this.#joinFailed(err);
        const message = err instanceof Error ? err.message : String(err);
        this.#stats.error({ at: new Date().toISOString(), code: 'KAFKA_JOIN_FAILED', message });
        this.#stats.joinFailed(attempt, message);
        this.#opts.onJoinFailed();
        if (this.#opts.givesUp()) return false;
        const delayMs = backoffDelay(attempt, JOIN_RETRY_BASE_MS, JOIN_RETRY_MAX_MS);
        await abortableDelay(delayMs, this.#joinWait.signal).catch(() => undefined);
        if (this.#opts.givesUp()) return false;
      }
    }
  }

  pause(): void {
    this.#session?.pause();
  }

  resume(): void {
    this.#session?.resume();
  }

  /**
   * Starts leaving at once (kafkajs waits for the running batch handlers, which commit before they return,
   * and for the fetch long-poll, so that wait can overlap a drain). Await the result with `goodbye`.
   */
  beginLeave(options: LeaveOptions = {}): Promise<void> | null {
    const session = this.#session;
    this.#session = null;
    this.#current = null;
    return session?.leave(options) ?? null;
  }

  /** Leaves the group and waits for it within a bound. */
  async leave(options: LeaveOptions = {}): Promise<void> {
    const leaving = this.beginLeave(options);
    if (leaving !== null) await this.goodbye(leaving);
  }

  /**
   * With the broker unreachable kafkajs can retry its goodbye for a long time; the broker's session
   * timeout removes the member anyway, so a drain or shutdown does not wait for it beyond a bound.
   */
  async goodbye(leaving: Promise<void>): Promise<void> {
    const failed = leaving.catch((err: unknown) => this.#log.warn({ err }, 'leaving the group failed'));
    if (!(await settlesWithin(failed, LEAVE_TIMEOUT_MS))) {
      this.#log.warn({ waitedMs: LEAVE_TIMEOUT_MS }, 'leaving the group takes too long; moving on');
    }
    // "member of" would not be true any more.
    this.#health.setKafka(this.#health.kafka.healthy, `left ${this.#opts.groupId}; not a member`);
  }

  /** A session that died goes to the engine, which joins again with a fresh consumer if it should. */
  #watch(session: ConsumerSession): void {
    void session.dead.then((err) => {
      if (this.#session !== session) return;
      this.#session = null;
      this.#current = null;
      const rejoins = !this.#opts.givesUp();
      this.#log.error(
        { err },
        rejoins ? 'the Kafka consumer died; joining again' : 'the Kafka consumer died',
      );
      this.#stats.error({ at: new Date().toISOString(), code: 'KAFKA_CONSUMER_DIED', message: err.message });
      this.#opts.onLost();
    });
  }

  /**
   * kafkajs only says "This server does not host this topic-partition" when a configured topic does not
   * exist (and a consumer never creates one), and the join is retried forever: name the missing topics in
   * the health detail, and warn once per set of missing topics rather than at every retry.
   */
  async #joinFailed(err: unknown): Promise<void> {
    const { groupId, topics } = this.#opts;
    const message = err instanceof Error ? err.message : String(err);
    const missing = await this.#kafka.missingTopics(topics).catch(() => []);
    if (missing.length === 0) {
      this.#health.setKafka(false, message);
      return;
    }
    const detail = `cannot join ${groupId}: configured topics do not exist: ${missing.join(', ')}`;
    this.#health.setKafka(false, detail, missing);
    const key = missing.join(',');
    if (key !== this.#missingTopicsWarned) {
      this.#missingTopicsWarned = key;
      this.#log.warn(
        { missingTopics: missing, group: groupId },
        'configured topics do not exist; not consuming until they are created',
      );
    }
  }
}
