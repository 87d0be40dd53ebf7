import { pino } from 'pino';
import type { Registry } from 'prom-client';
import type { EngineEvents } from './core/events.ts';
import { createEngine } from './engine/factory.ts';
import type { Engine, EngineCounters, EngineOptions, EngineSnapshot, EngineStats } from './engine/types.ts';
import type { SentMessage, TopicInfo } from './kafka/client.ts';
import { checkKafkaAccess, type KafkaAccess } from './kafka/kafkajs.ts';
import { checkPlatformaticAccess } from './kafka/platformatic.ts';
import { createMetrics } from './metrics.ts';
import { toEngineOptions, validateOptions, type ConsumerOptions } from './options.ts';

export type { ConsumerOptions } from './options.ts';

export type ConsumerState = EngineSnapshot['state'];
export type ConsumerEvents = EngineEvents;

/** The state as probes and dashboards want it. */
export interface ConsumerHealth extends EngineSnapshot {
  /** The process works: true unless stopped. */
  live: boolean;
  /** Consuming: state `running` and not stopping. */
  ready: boolean;
}

export interface Consumer {
  /** Connects, reads the switch and joins the group unless the switch asks for maintenance. */
  start(): Promise<void>;
  /** Drains like a maintenance (in-flight messages finish, their offsets commit), leaves, closes. */
  stop(options?: { timeoutMs?: number }): Promise<void>;
  /** running | draining | maintenance | resuming. */
  readonly state: ConsumerState;
  on<E extends keyof ConsumerEvents>(event: E, listener: (...args: ConsumerEvents[E]) => void): this;
  off<E extends keyof ConsumerEvents>(event: E, listener: (...args: ConsumerEvents[E]) => void): this;
  health(): ConsumerHealth;
  /** Counters since start, without I/O. */
  counters(): EngineCounters;
  /** Counters plus per-partition committed offset, end offset and lag (asks Kafka). */
  stats(): Promise<EngineStats>;
  /** Produces one message on the consumer's connection. */
  send(
    topic: string,
    value: string,
    options?: { key?: string; headers?: Record<string, string> },
  ): Promise<SentMessage>;
  /** Partitions and offsets of the consumed topics. */
  topics(): Promise<TopicInfo[]>;
  /** The registry holding the kmaint_* metrics (the given one, or the consumer's own). */
  readonly registry: Registry;
}

/** Builds a consumer; nothing connects until start(). Throws KmaintError INVALID_OPTIONS on bad options. */
export function createConsumer(options: ConsumerOptions): Consumer {
  validateOptions(options);
  const logger = options.logger ?? pino({ level: 'info', base: { component: 'kmaint-consumer' } });
  const engineOptions = toEngineOptions(options);
  const engine = createEngine(engineOptions, {
    logger,
    handler: options.handler,
  });
  const registry = createMetrics(engine, { registry: options.registry });
  return new KmaintConsumer(engine, registry, engineOptions.kafka);
}

class KmaintConsumer implements Consumer {
  readonly #engine: Engine;
  readonly registry: Registry;
  #stopping = false;

  readonly #kafka: KafkaAccess & Pick<EngineOptions['kafka'], 'adapter' | 'groupProtocol'>;

  constructor(
    engine: Engine,
    registry: Registry,
    kafka: KafkaAccess & Pick<EngineOptions['kafka'], 'adapter' | 'groupProtocol'>,
  ) {
    this.#engine = engine;
    this.registry = registry;
    this.#kafka = kafka;
  }

  async start(): Promise<void> {
    // Wrong TLS or SASL settings end the start with their reason; a broker that is down does not.
    await (this.#kafka.adapter === 'platformatic'
      ? checkPlatformaticAccess(this.#kafka)
      : checkKafkaAccess(this.#kafka));
    return this.#engine.start();
  }

  stop(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#stopping = true;
    return this.#engine.shutdown(options);
  }

  get state(): ConsumerState {
    return this.#engine.snapshot().state;
  }

  on<E extends keyof ConsumerEvents>(event: E, listener: (...args: ConsumerEvents[E]) => void): this {
    (this.#engine.events.on as (e: E, l: typeof listener) => unknown)(event, listener);
    return this;
  }

  off<E extends keyof ConsumerEvents>(event: E, listener: (...args: ConsumerEvents[E]) => void): this {
    (this.#engine.events.off as (e: E, l: typeof listener) => unknown)(event, listener);
    return this;
  }

  health(): ConsumerHealth {
    const s = this.#engine.snapshot();
    return { ...s, live: !s.stopped, ready: s.state === 'running' && !this.#stopping && !s.stopped };
  }

  counters(): EngineCounters {
    return this.#engine.counters();
  }

  stats(): Promise<EngineStats> {
    return this.#engine.stats();
  }

  send(
    topic: string,
    value: string,
    options: { key?: string; headers?: Record<string, string> } = {},
  ): Promise<SentMessage> {
    return this.#engine.send(topic, value, options.key, options.headers);
  }

  topics(): Promise<TopicInfo[]> {
    return this.#engine.topicsInfo();
  }
}
