import { EventEmitter } from 'node:events';
import { KmaintError, type MaintenanceMode } from '@kmaint/common';
import type { Logger } from 'pino';
import type { EngineEvents } from '../core/events.ts';
import type { TopicTotals } from '../core/stats.ts';
import {
  initial,
  starting,
  step,
  type Effect,
  type Input,
  type Machine,
  type Step,
} from '../core/state-machine.ts';
import type { DrainResult, EngineState } from '../core/types.ts';
import type { MessageHandler } from '../handler.ts';
import type { KafkaClient, LeaveOptions, SentMessage, TopicInfo } from '../kafka/client.ts';
import { Processor } from '../kafka/processor.ts';
import { Health } from './health.ts';
import { GroupMembership } from './membership.ts';
import { Statistics, partitionLag } from './statistics.ts';
import type {
  Engine,
  EngineCounters,
  EngineOptions,
  EngineSnapshot,
  EngineStats,
  MemberReportSink,
  SwitchSource,
} from './types.ts';

/** What the engine works with; it opens no client itself (see factory.ts). */
export interface EngineCollaborators {
  logger: Logger;
  handler: MessageHandler;
  kafka: KafkaClient;
  switch: SwitchSource;
  reporter: MemberReportSink;
  /** Closes what was opened for the collaborators (an etcd client), once they are closed. */
  release?: () => Promise<void> | void;
}

/** The fetch long-poll when `kafka.maxWaitTimeMs` is unset: what a drain waits out at most once. */
export const DEFAULT_MAX_WAIT_MS = 250;
const DRAIN_REPORT_INTERVAL_MS = 1_000;
const NOT_CONNECTED = 'not connected yet';

/**
 * Drives the state machine: feeds it the switch and shutdown, runs the effects it asks for (drain,
 * resume, leave, stop) and announces the transitions. Messages never pass through here: the processor
 * counts into Statistics and commits through the Kafka adapter on its own.
 */
export class DrainEngine implements Engine {
  readonly events = new EventEmitter<EngineEvents>();
  readonly #opts: EngineOptions;
  readonly #log: Logger;
  readonly #kafka: KafkaClient;
  readonly #switch: SwitchSource;
  readonly #reporter: MemberReportSink;
  readonly #release: () => Promise<void> | void;
  readonly #processor: Processor;
  readonly #stats: Statistics;
  readonly #health: Health;
  readonly #group: GroupMembership;

  #machine: Machine;
  #starting: Promise<void> | null = null;
  #since = new Date();
  readonly #stopped = Promise.withResolvers<undefined>();

  constructor(options: EngineOptions, c: EngineCollaborators) {
    this.#opts = options;
    this.#log = c.logger;
    this.#kafka = c.kafka;
    this.#switch = c.switch;
    this.#reporter = c.reporter;
    this.#release = c.release ?? (() => undefined);
    this.#stats = new Statistics(this.events);
    this.#health = new Health(this.events, c.logger);
    const k = options.kafka;
    const p = options.processing;
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
        handler: c.handler,
        produce: (topic, message) => c.kafka.produce(topic, message),
        logger: c.logger,
        onReceived: this.#stats.received,
        onMessage: this.#stats.message,
        onError: this.#stats.error,
      },
    );
    this.#group = new GroupMembership(
      {
        kafka: c.kafka,
        processor: this.#processor,
        stats: this.#stats,
        health: this.#health,
        logger: c.logger,
      },
      {
        groupId: k.groupId,
        topics: k.topics,
        fromBeginning: k.offsetInitial === 'oldest',
        onLost: () => {
          this.#step({ type: 'lost' });
          this.#report();
        },
        givesUp: () => this.#machine.desired.maintenance || this.#machine.shuttingDown,
        onJoinFailed: () => this.#report(),
      },
    );
    // Until start() reads the switch the engine is on its way in: neither consuming nor in maintenance.
    this.#machine = starting();
  }

  start(): Promise<void> {
    if (this.#starting !== null) throw new KmaintError('ALREADY_STARTED', 'the engine was already started');
    this.#starting = this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    // A broker that is down at start is an outage like any other, not a reason to exit or to wait before
    // reading the switch: the join is retried with backoff, and produce and admin calls connect when made.
    // Only the first word on Kafka: a join that already reported (member, failure) knows better.
    const first = (healthy: boolean, detail: string): void => {
      if (this.#health.kafka.detail === NOT_CONNECTED) this.#health.setKafka(healthy, detail);
    };
    void this.#kafka.connect().then(
      () => first(true, 'connected'),
      (err: unknown) => first(false, `cannot connect: ${err instanceof Error ? err.message : String(err)}`),
    );
    let initialized = false;
    await this.#switch.start({
      desired: (d) => {
        this.#health.setDesired(d);
        if (d.maintenance) this.#group.interruptJoinWait();
        if (initialized) this.#step({ type: 'desired', desired: d });
      },
      invalid: (raw, error) => this.#health.invalidSwitch(raw, error),
      health: (healthy, detail) => {
        if (this.#health.setEtcd(healthy, detail)) this.#report();
      },
      restart: (reason) => this.events.emit('watchRestart', { reason }),
    });
    initialized = true;
    const desired = this.#health.desired;
    this.#log.info(
      { key: this.#opts.switchKey, desired, group: this.#opts.kafka.groupId },
      desired.maintenance ? 'starting in maintenance: not joining the group' : 'starting: joining the group',
    );
    this.#apply(initial(desired), this.#machine.state);
  }

  async shutdown(options: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#starting === null) return;
    // A signal during start: let start finish (or fail) first, so nothing it opens outlives the shutdown.
    await this.#starting.catch(() => undefined);
    this.#group.interruptJoinWait();
    this.#step({ type: 'shutdown', timeoutMs: options.timeoutMs ?? null });
    await this.#stopped.promise;
  }

  snapshot(): EngineSnapshot {
    return this.#health.snapshot(
      this.#machine,
      this.#since,
      this.#processor.inFlight,
      this.#opts.kafka.topics,
      this.#processor.blocked(),
    );
  }

  counters(): EngineCounters {
    return this.#stats.counters(this.#processor.inFlight);
  }

  messageTotals(): ReadonlyMap<string, Readonly<TopicTotals>> {
    return this.#stats.totals.topics();
  }

  async stats(): Promise<EngineStats> {
    const { topics, groupId } = this.#opts.kafka;
    const partitions = await this.#kafkaCall(() => partitionLag(this.#kafka, groupId, topics));
    return { ...this.counters(), partitions };
  }

  send(topic: string, message: string, key?: string, headers?: Record<string, string>): Promise<SentMessage> {
    return this.#kafkaCall(() => this.#kafka.produce(topic, { key: key ?? null, value: message, headers }));
  }

  topicsInfo(): Promise<TopicInfo[]> {
    return this.#kafkaCall(() => this.#kafka.topicsInfo(this.#opts.kafka.topics));
  }

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
    this.#log.info(
      { from, to, durationMs, desired: this.#health.desired },
      `maintenance state ${from} → ${to}`,
    );
    this.events.emit('transition', { from, to, durationMs, at: now.toISOString() });
    this.#report();
  }

  async #run(effect: Effect): Promise<void> {
    let joined = true;
    try {
      joined = await this.#execute(effect);
    } catch (err) {
      this.#stats.error({
        at: new Date().toISOString(),
        code: err instanceof KmaintError ? err.code : `${effect.type.toUpperCase()}_FAILED`,
        message: err instanceof Error ? err.message : String(err),
      });
      this.#log.error({ err, effect }, 'maintenance step failed; carrying on');
    }
    this.#step({ type: 'done', joined });
    if (this.#machine.stopped) this.#stopped.resolve(undefined);
  }

  /** Runs one effect; resolves false only for a join given up because the switch or a shutdown said so. */
  async #execute(effect: Effect): Promise<boolean> {
    switch (effect.type) {
      case 'drain':
        await this.#drain(effect.mode, effect.timeoutMs ?? this.#opts.drainTimeoutMs);
        return true;
      case 'resume':
        if (effect.how === 'join') return this.#group.join();
        this.#processor.reopen();
        this.#group.resume();
        return true;
      case 'leave':
        await this.#group.leave(this.#leaveOptions());
        return true;
      case 'stop':
        await this.#close();
        return true;
    }
  }

  async #drain(mode: MaintenanceMode, timeoutMs: number): Promise<void> {
    const started = performance.now();
    this.#processor.beginStop();
    // Leaving starts at once, so kafkajs' wait for the running batch handlers overlaps the drain.
    let leaving: Promise<void> | null = null;
    if (mode === 'drain') leaving = this.#group.beginLeave(this.#leaveOptions());
    else this.#group.pause();
    // The operator shows which pods are still draining and with how much: keep the report current.
    const reporting = setInterval(() => this.#report(), DRAIN_REPORT_INTERVAL_MS);
    const outcome = await this.#processor.drain(timeoutMs).finally(() => clearInterval(reporting));
    if (leaving !== null) await this.#group.goodbye(leaving);
    const result: DrainResult = { mode, durationMs: performance.now() - started, ...outcome };
    this.#health.drained(result);
    this.#log.info(result, outcome.timedOut ? 'drain timed out; the rest is redelivered later' : 'drained');
    this.events.emit('drained', result);
  }

  /**
   * A shutdown lets a static member keep its place (it comes back under the same group.instance.id, so a
   * restart moves no partition); a maintenance drain leaves for real, since drained means out of the group.
   */
  #leaveOptions(): LeaveOptions {
    return { remainInGroup: this.#machine.shuttingDown };
  }

  async #close(): Promise<void> {
    await this.#switch.close();
    await this.#reporter.close();
    await this.#release();
    await this.#kafka.close();
  }

  /**
   * Produce and admin calls also tell whether Kafka is reachable; while a consumer runs, its own events
   * speak for Kafka's health, so a successful call does not override a crashed consumer. A refused
   * request (bad topic, message too large) says nothing about health; its error goes to the caller as is.
   */
  async #kafkaCall<T>(call: () => Promise<T>): Promise<T> {
    try {
      const result = await call();
      // While a join is being retried its failure is what /health must show, not that Kafka answered.
      const joining = this.#machine.pending?.type === 'resume';
      if (!this.#health.kafka.healthy && !this.#group.joined && !joining) {
        this.#health.setKafka(true, 'reachable');
      }
      return result;
    } catch (err) {
      if (this.#kafka.isUnreachable(err)) {
        this.#health.setKafka(false, err instanceof Error ? err.message : String(err));
      }
      throw err;
    }
  }

  #report(): void {
    const last = this.#stats.lastError();
    const state = this.#machine.state;
    this.#reporter.update({
      id: this.#opts.memberId,
      pod: this.#opts.pod,
      state,
      inFlight: this.#processor.inFlight,
      drainedAt: this.#health.drainedAt,
      lastTransition: this.#since.toISOString(),
      lastError: last === undefined ? null : `${last.at} ${last.code}: ${last.message}`,
      window: state === 'running' ? null : this.#health.desired.window,
    });
  }
}
