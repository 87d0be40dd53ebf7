import { EventEmitter } from 'node:events';
import { KmaintError, backoffDelay, type MaintenanceMode } from '@kmaint/common';
import type { Etcd3 } from 'etcd3';
import type { Logger } from 'pino';
import type { EngineEvents } from './core/events.ts';
import {
  OFF,
  initial,
  step,
  type Effect,
  type Input,
  type Machine,
  type Step,
} from './core/state-machine.ts';
import { settlesWithin } from './core/timeout.ts';
import { emptyCounters, newErrorLog, type MessageCounters } from './core/stats.ts';
import type { ComponentHealth, Desired, DrainResult, EngineState, RecordedError } from './core/types.ts';
import type { MessageHandler } from './handler.ts';
import {
  tpKey,
  type ConsumerSession,
  type KafkaClient,
  type SentMessage,
  type TopicInfo,
} from './kafka/client.ts';
import { createKafkajsClient } from './kafka/kafkajs.ts';
import { Processor } from './kafka/processor.ts';
import {
  MemberReporter,
  SwitchWatcher,
  createEtcdClient,
  type EtcdConnectionOptions,
} from '@kmaint/common/etcd';

export type { EngineEvents } from './core/events.ts';
export type { ComponentHealth, Desired, DrainResult, EngineState, RecordedError } from './core/types.ts';
export type { SentMessage, TopicInfo, PartitionInfo } from './kafka/client.ts';

/** Everything the engine needs, filled by main.ts from config (durations already in milliseconds). */
export interface EngineOptions {
  kafka: {
    brokers: string[];
    clientId: string;
    topics: string[];
    groupId: string;
    batchSize: number;
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    offsetInitial: 'oldest' | 'newest';
    enableAutoCommit: boolean;
    autoCommitIntervalMs: number;
    /** Fetch long-poll; a drain waits it out once, so keep it short (default 250). */
    maxWaitTimeMs?: number;
  };
  processing: {
    maxWorkers: number;
    maxProcessingTimeMs: number;
    retryBackoffMs: number;
    maxRetries: number;
    dlqTopicSuffix: string;
    /** 'partition' (default): one message at a time per partition; 'key': per key within a partition. */
    orderBy?: 'partition' | 'key';
  };
  drainTimeoutMs: number;
  etcd: Omit<EtcdConnectionOptions, 'callDeadlineMs'>;
  /** The switch key, e.g. /maintenance/kafka-service. */
  switchKey: string;
  /** What to do while etcd cannot be reached: keep the last known state, or enter maintenance. */
  etcdUnavailable: 'keep' | 'maintenance';
  /** This instance's id under <switchKey>/members/ (MEMBER_ID, POD_NAME or host name). */
  memberId: string;
  pod: string | null;
}

/** Collaborators; `kafka` is only given by tests that bring their own client. */
export interface EngineDeps {
  logger: Logger;
  handler: MessageHandler;
  kafka?: KafkaClient;
}

/** The engine's state as /health and /readyz show it. */
export interface EngineSnapshot {
  state: EngineState;
  /** What the switch asks for; differs from `state` while a transition is under way. */
  desired: Desired;
  /** Mode of the current (or last) maintenance; null before the first one. */
  mode: MaintenanceMode | null;
  reason: string | null;
  window: string | null;
  /** ISO time of the last transition (or of start). */
  since: string;
  inFlight: number;
  lastDrain: DrainResult | null;
  /** ISO time the last drain finished; null until one has. */
  drainedAt: string | null;
  components: { kafka: ComponentHealth; etcd: ComponentHealth };
  /** The last switch value that could not be parsed, with why and when; null if none since start. */
  invalidSwitch: { raw: string; error: string; at: string } | null;
  topics: string[];
  /** True once shutdown() has finished: nothing is consumed any more. */
  stopped: boolean;
}

export interface PartitionStats {
  topic: string;
  partition: number;
  /** The group's committed offset (next to consume); null if the group never committed one. */
  committedOffset: string | null;
  /** The partition's log end offset (high watermark). */
  endOffset: string;
  /** endOffset − committedOffset (from the earliest offset when nothing is committed). */
  lag: number;
}

/** Counters since start, as /messages/stats shows them. */
export interface EngineCounters {
  received: number;
  processed: number;
  failed: number;
  retried: number;
  deadLettered: number;
  inFlight: number;
  commits: number;
  rebalances: number;
  /** The last 10 errors, oldest first, with ISO timestamps. */
  errors: RecordedError[];
}

/** Counters plus per-partition offsets and lag read from Kafka. */
export interface EngineStats extends EngineCounters {
  partitions: PartitionStats[];
}

/** The drain engine: one owner of state, driven by the etcd switch and by shutdown(). */
export interface Engine {
  /** Typed events for metrics and logs. */
  readonly events: EventEmitter<EngineEvents>;
  /** Reads the switch, connects, and joins the group unless the switch says maintenance. */
  start(): Promise<void>;
  /** Drains exactly as maintenance (mode drain), commits, leaves the group, closes etcd and Kafka. */
  shutdown(options?: { timeoutMs?: number }): Promise<void>;
  snapshot(): EngineSnapshot;
  /** Counters without any I/O (for metrics scrapes). */
  counters(): EngineCounters;
  /** Counters plus per-partition committed offset, end offset and lag (asks Kafka). */
  stats(): Promise<EngineStats>;
  /** Produces one message; resolves with where it landed. */
  send(topic: string, message: string, key?: string, headers?: Record<string, string>): Promise<SentMessage>;
  /** Metadata and earliest/latest offsets of the configured topics. */
  topicsInfo(): Promise<TopicInfo[]>;
}

/** Builds the engine; nothing connects until start(). */
export function createEngine(options: EngineOptions, deps: EngineDeps): Engine {
  return new DrainEngine(options, deps);
}

/** The fetch long-poll when `kafka.maxWaitTimeMs` is unset: what a drain waits out at most once. */
export const DEFAULT_MAX_WAIT_MS = 250;
const JOIN_RETRY_BASE_MS = 500;
const LEAVE_TIMEOUT_MS = 10_000;
const DRAIN_REPORT_INTERVAL_MS = 1_000;
/** etcd calls give up after this long, so an unreachable etcd is noticed and reported, not awaited. */
const ETCD_CALL_DEADLINE_MS = 3_000;

class DrainEngine implements Engine {
  readonly events = new EventEmitter<EngineEvents>();
  readonly #opts: EngineOptions;
  readonly #log: Logger;
  readonly #kafka: KafkaClient;
  readonly #processor: Processor;
  #etcd: Etcd3 | null = null;
  #watcher: SwitchWatcher | null = null;
  #reporter: MemberReporter | null = null;
  #session: ConsumerSession | null = null;
  /** A join after the consumer died, if one is under way. */
  #rejoining: Promise<void> = Promise.resolve();

  #machine: Machine;
  #starting: Promise<void> | null = null;
  #desired: Desired = OFF;
  #since = new Date();
  #lastDrain: DrainResult | null = null;
  #drainedAt: string | null = null;
  #invalid: EngineSnapshot['invalidSwitch'] = null;
  #kafkaHealth: ComponentHealth = { healthy: false, detail: 'not connected yet' };
  /** The missing topics last warned about ('' when none): the warning is logged once per set. */
  #missingTopicsWarned = '';
  #etcdHealth: ComponentHealth = { healthy: false, detail: 'not connected yet' };
  readonly #counters: MessageCounters = emptyCounters();
  readonly #errors = newErrorLog();
  readonly #stopped = Promise.withResolvers<undefined>();

  constructor(options: EngineOptions, deps: EngineDeps) {
    this.#opts = options;
    this.#log = deps.logger;
    const k = options.kafka;
    const p = options.processing;
    this.#kafka =
      deps.kafka ??
      createKafkajsClient({
        brokers: k.brokers,
        clientId: k.clientId,
        sessionTimeoutMs: k.sessionTimeoutMs,
        heartbeatIntervalMs: k.heartbeatIntervalMs,
        maxWaitTimeMs: k.maxWaitTimeMs ?? DEFAULT_MAX_WAIT_MS,
        partitionsConsumedConcurrently: p.maxWorkers,
        logger: deps.logger,
      });
    this.#processor = new Processor(
      {
        maxWorkers: p.maxWorkers,
        maxProcessingTimeMs: p.maxProcessingTimeMs,
        retryBackoffMs: p.retryBackoffMs,
        maxRetries: p.maxRetries,
        dlqTopicSuffix: p.dlqTopicSuffix,
        orderBy: p.orderBy ?? 'partition',
        commitEveryMessages: k.batchSize,
        autoCommitIntervalMs: k.enableAutoCommit ? k.autoCommitIntervalMs : null,
        heartbeatIntervalMs: k.heartbeatIntervalMs,
      },
      {
        handler: deps.handler,
        produce: (topic, message) => this.#kafka.produce(topic, message),
        logger: deps.logger,
        onMessage: (e) => this.#onMessage(e),
        onError: (e) => this.#recordError(e),
      },
    );
    // Until start() reads the switch the engine is on its way in, not consuming.
    this.#machine = { ...initial(OFF).machine, pending: null };
  }

  start(): Promise<void> {
    if (this.#starting !== null) throw new KmaintError('ALREADY_STARTED', 'the engine was already started');
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    await this.#kafka.connect();
    this.#setKafkaHealth(true, 'connected');
    this.#etcd = createEtcdClient({ ...this.#opts.etcd, callDeadlineMs: ETCD_CALL_DEADLINE_MS });
    this.#reporter = new MemberReporter(this.#etcd, this.#opts.switchKey, this.#opts.memberId, this.#log);
    let initialized = false;
    this.#watcher = new SwitchWatcher(
      this.#etcd,
      { key: this.#opts.switchKey, unavailable: this.#opts.etcdUnavailable, logger: this.#log },
      {
        desired: (d) => {
          this.#reporter?.follow(d);
          this.#setDesired(d);
          if (initialized) this.#step({ type: 'desired', desired: d });
        },
        invalid: (raw, error) => {
          this.#invalid = { raw, error, at: new Date().toISOString() };
          this.events.emit('invalidSwitch', this.#invalid);
        },
        health: (healthy, detail) => this.#setEtcdHealth(healthy, detail),
        restart: (reason) => this.events.emit('watchRestart', { reason }),
      },
    );
    await this.#watcher.start();
    initialized = true;
    this.#log.info(
      { key: this.#opts.switchKey, desired: this.#desired, group: this.#opts.kafka.groupId },
      this.#desired.maintenance
        ? 'starting in maintenance: not joining the group'
        : 'starting: joining the group',
    );
    this.#apply(initial(this.#desired), this.#machine.state);
  }

  async shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#starting === null) return;
    // A signal during start: let start finish (or fail) first, so nothing it opens outlives the shutdown.
    await this.#starting.catch(() => undefined);
    this.#step({ type: 'shutdown', timeoutMs: options.timeoutMs ?? null });
    await this.#stopped.promise;
  }

  snapshot(): EngineSnapshot {
    const m = this.#machine;
    const inMaintenance = m.state !== 'running' && m.state !== 'resuming';
    return {
      state: m.state,
      desired: this.#desired,
      mode: m.mode,
      reason: inMaintenance ? this.#desired.reason : null,
      window: inMaintenance ? this.#desired.window : null,
      since: this.#since.toISOString(),
      inFlight: this.#processor.inFlight,
      lastDrain: this.#lastDrain,
      drainedAt: this.#drainedAt,
      components: { kafka: this.#kafkaHealth, etcd: this.#etcdHealth },
      invalidSwitch: this.#invalid,
      topics: [...this.#opts.kafka.topics],
      stopped: m.stopped,
    };
  }

  counters(): EngineCounters {
    return { ...this.#counters, inFlight: this.#processor.inFlight, errors: this.#errors.toArray() };
  }

  async stats(): Promise<EngineStats> {
    const { topics, groupId } = this.#opts.kafka;
    const [info, committed] = await this.#kafkaCall(() =>
      Promise.all([this.#kafka.topicsInfo(topics), this.#kafka.committedOffsets(groupId, topics)]),
    );
    const partitions: PartitionStats[] = info.flatMap((t) =>
      t.partitions.map((p) => {
        const committedOffset = committed.get(tpKey(t.topic, p.partition)) ?? null;
        const from = BigInt(committedOffset ?? p.earliestOffset);
        return {
          topic: t.topic,
          partition: p.partition,
          committedOffset,
          endOffset: p.latestOffset,
          lag: Math.max(0, Number(BigInt(p.latestOffset) - from)),
        };
      }),
    );
    return { ...this.counters(), partitions };
  }

  send(topic: string, message: string, key?: string, headers?: Record<string, string>): Promise<SentMessage> {
    return this.#kafkaCall(() => this.#kafka.produce(topic, { key: key ?? null, value: message, headers }));
  }

  topicsInfo(): Promise<TopicInfo[]> {
    return this.#kafkaCall(() => this.#kafka.topicsInfo(this.#opts.kafka.topics));
  }

  // ---- the state machine's owner ----

  #step(input: Input): void {
    this.#apply(step(this.#machine, input), this.#machine.state);
  }

  #apply(next: Step, before: EngineState): void {
    this.#machine = next.machine;
    if (next.machine.state !== before) this.#transition(before, next.machine.state);
    if (next.effect !== null) void this.#run(next.effect);
  }

  #transition(from: EngineState, to: EngineState): void {
    const now = new Date();
    const durationMs = now.getTime() - this.#since.getTime();
    this.#since = now;
    this.#log.info({ from, to, durationMs, desired: this.#desired }, `maintenance state ${from} → ${to}`);
    this.events.emit('transition', { from, to, durationMs, at: now.toISOString() });
    this.#report();
  }

  async #run(effect: Effect): Promise<void> {
    try {
      await this.#execute(effect);
    } catch (err) {
      this.#recordError({
        at: new Date().toISOString(),
        code: err instanceof KmaintError ? err.code : `${effect.type.toUpperCase()}_FAILED`,
        message: err instanceof Error ? err.message : String(err),
      });
      this.#log.error({ err, effect }, 'maintenance step failed; carrying on');
    }
    this.#step({ type: 'done' });
    if (this.#machine.stopped) this.#stopped.resolve(undefined);
  }

  async #execute(effect: Effect): Promise<void> {
    switch (effect.type) {
      case 'drain':
        return this.#drain(effect.mode, effect.timeoutMs ?? this.#opts.drainTimeoutMs);
      case 'resume':
        return effect.how === 'unpause' ? this.#unpause() : this.#join();
      case 'leave':
        return this.#leave();
      case 'stop':
        return this.#close();
    }
  }

  async #drain(mode: MaintenanceMode, timeoutMs: number): Promise<void> {
    const started = performance.now();
    await this.#rejoining;
    this.#processor.beginStop();
    const session = this.#session;
    // Leaving starts at once: kafkajs waits for the running batch handlers (which commit before they
    // return) and for the fetch long-poll, so that wait overlaps the drain instead of following it.
    let leaving: Promise<void> | null = null;
    if (mode === 'drain') {
      this.#session = null;
      leaving = session?.leave() ?? null;
    } else {
      session?.pause();
    }
    // The operator shows which pods are still draining and with how much: keep the report current.
    const reporting = setInterval(() => this.#report(), DRAIN_REPORT_INTERVAL_MS);
    const outcome = await this.#processor.drain(timeoutMs).finally(() => clearInterval(reporting));
    if (leaving !== null) await this.#awaitGoodbye(leaving);
    const result: DrainResult = { mode, durationMs: performance.now() - started, ...outcome };
    this.#lastDrain = result;
    this.#drainedAt = new Date().toISOString();
    this.#log.info(result, outcome.timedOut ? 'drain timed out; the rest is redelivered later' : 'drained');
    this.events.emit('drained', result);
  }

  async #unpause(): Promise<void> {
    this.#processor.reopen();
    this.#session?.resume();
  }

  /**
   * kafkajs gives up on a consumer after a crash it deems fatal; while the switch wants consuming, join
   * again with a fresh one (a drain or shutdown that begins meanwhile waits for this and then leaves).
   */
  #watchSession(session: ConsumerSession): void {
    void session.dead.then((err) => {
      if (this.#session !== session) return;
      this.#session = null;
      this.#log.error({ err }, 'the Kafka consumer died; joining again');
      this.#recordError({ at: new Date().toISOString(), code: 'KAFKA_CONSUMER_DIED', message: err.message });
      if (this.#machine.state !== 'running' || this.#machine.pending !== null) return;
      this.#rejoining = this.#join();
    });
  }

  async #leave(): Promise<void> {
    await this.#rejoining;
    const session = this.#session;
    this.#session = null;
    if (session !== null) await this.#awaitGoodbye(session.leave());
  }

  /**
   * With the broker unreachable kafkajs can retry its goodbye for a long time; the broker's session
   * timeout removes the member anyway, so a drain or shutdown does not wait for it beyond a bound.
   */
  async #awaitGoodbye(leaving: Promise<void>): Promise<void> {
    const failed = leaving.catch((err: unknown) => this.#log.warn({ err }, 'leaving the group failed'));
    if (!(await settlesWithin(failed, LEAVE_TIMEOUT_MS))) {
      this.#log.warn({ waitedMs: LEAVE_TIMEOUT_MS }, 'leaving the group takes too long; moving on');
    }
  }

  /** Joins the group; retries until it works or the switch (or shutdown) no longer wants it. */
  async #join(): Promise<void> {
    this.#processor.reopen();
    const { groupId, topics, offsetInitial } = this.#opts.kafka;
    for (let attempt = 1; ; attempt++) {
      try {
        this.#session = await this.#kafka.consume({
          groupId,
          topics,
          fromBeginning: offsetInitial === 'oldest',
          onBatch: (batch) => this.#processor.handleBatch(batch),
          onAssigned: (assigned) => {
            this.#processor.assigned();
            this.#counters.rebalances += 1;
            this.#log.info({ assigned }, 'partitions assigned');
            this.events.emit('rebalance', { assigned });
          },
          onHealth: (healthy, detail) => this.#setKafkaHealth(healthy, detail),
          onCommit: (topic, partition, offset) => {
            this.#counters.commits += 1;
            this.events.emit('commit', { topic, partition, offset });
          },
        });
        this.#watchSession(this.#session);
        if (this.#missingTopicsWarned !== '') {
          this.#log.info({ topics }, 'the missing topics exist now; consuming');
          this.#missingTopicsWarned = '';
        }
        return;
      } catch (err) {
        await this.#joinFailed(err, topics);
        this.#recordError({
          at: new Date().toISOString(),
          code: 'KAFKA_JOIN_FAILED',
          message: err instanceof Error ? err.message : String(err),
        });
        if (this.#machine.desired.maintenance || this.#machine.shuttingDown) return;
        await new Promise((r) => setTimeout(r, backoffDelay(attempt, JOIN_RETRY_BASE_MS, 10_000)));
      }
    }
  }

  /**
   * kafkajs only says "This server does not host this topic-partition" when a configured topic does not
   * exist (and a consumer never creates one), and the join is retried forever: name the missing topics in
   * the health detail, and warn once per set of missing topics rather than at every retry.
   */
  async #joinFailed(err: unknown, topics: string[]): Promise<void> {
    const message = err instanceof Error ? err.message : String(err);
    const missing = await this.#kafka.missingTopics(topics).catch(() => []);
    if (missing.length === 0) {
      this.#setKafkaHealth(false, message);
      return;
    }
    const detail = `cannot join ${this.#opts.kafka.groupId}: configured topics do not exist: ${missing.join(', ')}`;
    this.#setKafkaHealth(false, detail, missing);
    const key = missing.join(',');
    if (key !== this.#missingTopicsWarned) {
      this.#missingTopicsWarned = key;
      this.#log.warn(
        { missingTopics: missing, group: this.#opts.kafka.groupId },
        'configured topics do not exist; not consuming until they are created',
      );
    }
  }

  async #close(): Promise<void> {
    await this.#watcher?.close();
    await this.#reporter?.close();
    this.#etcd?.close();
    await this.#kafka.close();
  }

  // ---- bookkeeping ----

  #setDesired(d: Desired): void {
    if (JSON.stringify(d) === JSON.stringify(this.#desired)) return;
    this.#desired = d;
    this.events.emit('desired', d);
  }

  #onMessage(e: EngineEvents['message'][0]): void {
    const c = this.#counters;
    switch (e.outcome) {
      case 'received':
        c.received += 1;
        break;
      case 'processed':
        c.processed += 1;
        break;
      case 'failed':
        c.failed += 1;
        break;
      case 'retried':
        c.retried += 1;
        break;
      case 'deadLettered':
        c.deadLettered += 1;
        break;
      case 'aborted':
        break;
    }
    this.events.emit('message', e);
  }

  #recordError(e: RecordedError): void {
    this.#errors.push(e);
    this.events.emit('errorRecorded', e);
  }

  #setKafkaHealth(healthy: boolean, detail: string, missingTopics?: string[]): void {
    const changed = healthy !== this.#kafkaHealth.healthy;
    this.#kafkaHealth =
      missingTopics === undefined ? { healthy, detail } : { healthy, detail, missingTopics };
    if (changed) this.events.emit('kafkaHealth', this.#kafkaHealth);
  }

  #setEtcdHealth(healthy: boolean, detail: string): void {
    const changed = healthy !== this.#etcdHealth.healthy;
    this.#etcdHealth = { healthy, detail };
    if (changed) {
      this.#log[healthy ? 'info' : 'warn']({ detail }, healthy ? 'etcd reachable' : 'etcd unreachable');
      this.events.emit('etcdHealth', this.#etcdHealth);
      if (healthy) this.#report();
    }
  }

  /**
   * Produce and admin calls also tell whether Kafka is reachable; while a consumer runs, its own events
   * speak for Kafka's health, so a successful call does not override a crashed consumer. A refused
   * request (bad topic, message too large) says nothing about health; its error goes to the caller as is.
   */
  async #kafkaCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      if (!this.#kafkaHealth.healthy && this.#session === null) this.#setKafkaHealth(true, 'reachable');
      return result;
    } catch (err) {
      if (this.#kafka.isUnreachable(err)) {
        this.#setKafkaHealth(false, err instanceof Error ? err.message : String(err));
      }
      throw err;
    }
  }

  #report(): void {
    const last = this.#errors.toArray().at(-1);
    this.#reporter?.update({
      id: this.#opts.memberId,
      pod: this.#opts.pod,
      state: this.#machine.state,
      inFlight: this.#processor.inFlight,
      drainedAt: this.#drainedAt,
      lastTransition: this.#since.toISOString(),
      lastError: last === undefined ? null : `${last.at} ${last.code}: ${last.message}`,
      window: this.#machine.state === 'running' ? null : this.#desired.window,
    });
  }
}
