import type { Etcd3, Watcher } from 'etcd3';
import kafkajs, { type Consumer, type ConsumerRunConfig } from 'kafkajs';
import type { Consumer as KmaintConsumer, ConsumerState } from '@kmaint/consumer';
import { DEFAULT_MAX_WAIT_MS } from '../../consumer/src/engine/index.ts';
import { benchEngine } from './engine.ts';
import type { BenchEnv } from './env.ts';
import type { Probe } from './probe.ts';

const { Kafka, logLevel } = kafkajs;

/**
 * A consumer switched by the etcd key: the kmaint engine, or the baseline of a plain kafkajs consumer
 * whose etcd watch calls stop() and run() (what a hand-written switch handler would do).
 */
export interface Subject {
  readonly label: string;
  /** The fetch long-poll (maxWaitTimeInMs) this consumer uses. */
  readonly fetchWaitMs: number;
  start(): Promise<void>;
  /** Resolves with performance.now() when the subject learns that the switch turned on. */
  whenSwitchedOn(): Promise<number>;
  /** Resolves with performance.now() when the subject reports it is stopped (maintenance). */
  whenStopped(): Promise<number>;
  /** Resolves when the subject says it consumes again. */
  whenRunning(): Promise<void>;
  close(): Promise<void>;
}

export interface SubjectSetup {
  topic: string;
  groupId: string;
  key: string;
  memberId: string;
  probe: Probe;
  workMs: number;
}

/** An engine other than the service defaults: its name in the tables and the service variables it sets. */
export interface EngineVariant {
  label: string;
  variables: Record<string, string>;
}

export class EngineSubject implements Subject {
  readonly label: string;
  readonly fetchWaitMs: number;
  readonly #engine: KmaintConsumer;

  constructor(env: BenchEnv, s: SubjectSetup, variant: EngineVariant = { label: 'kmaint', variables: {} }) {
    this.label = variant.label;
    this.#engine = benchEngine(env, {
      topic: s.topic,
      groupId: s.groupId,
      key: s.key,
      memberId: s.memberId,
      handler: (m, { signal }) => s.probe.handle(`${m.partition}/${m.offset}`, s.workMs, signal),
      variables: variant.variables,
    });
    this.fetchWaitMs = DEFAULT_MAX_WAIT_MS;
  }

  start(): Promise<void> {
    return this.#engine.start();
  }

  whenSwitchedOn(): Promise<number> {
    return new Promise((resolve) => {
      const on = (d: { maintenance: boolean }): void => {
        if (!d.maintenance) return;
        this.#engine.off('desired', on);
        resolve(performance.now());
      };
      this.#engine.on('desired', on);
    });
  }

  whenStopped(): Promise<number> {
    return this.#whenState('maintenance');
  }

  async whenRunning(): Promise<void> {
    await this.#whenState('running');
  }

  close(): Promise<void> {
    return this.#engine.stop();
  }

  #whenState(state: ConsumerState): Promise<number> {
    if (this.#engine.state === state) return Promise.resolve(performance.now());
    return new Promise((resolve) => {
      const on = (e: { to: ConsumerState }): void => {
        if (e.to !== state) return;
        this.#engine.off('transition', on);
        resolve(performance.now());
      };
      this.#engine.on('transition', on);
    });
  }
}

export class RawKafkajsSubject implements Subject {
  readonly label: string;
  readonly fetchWaitMs: number;
  readonly #consumer: Consumer;
  readonly #etcd: Etcd3;
  readonly #s: SubjectSetup;
  readonly #runConfig: ConsumerRunConfig;
  #watcher: Watcher | null = null;
  /** Transitions in the order the watch delivered them, never two at once. */
  #chain: Promise<void> = Promise.resolve();
  #stoppedAt: PromiseWithResolvers<number> = Promise.withResolvers();
  #switchedOnAt: PromiseWithResolvers<number> = Promise.withResolvers();
  #running: PromiseWithResolvers<void> = Promise.withResolvers();

  constructor(env: BenchEnv, etcd: Etcd3, s: SubjectSetup, maxWaitTimeInMs: number) {
    this.label = `kafkajs stop() maxWait ${maxWaitTimeInMs} ms`;
    this.fetchWaitMs = maxWaitTimeInMs;
    this.#s = s;
    this.#etcd = etcd;
    const kafka = new Kafka({ clientId: s.memberId, brokers: env.brokers, logLevel: logLevel.NOTHING });
    // Session and heartbeat as the engine's defaults, so only the client differs.
    this.#consumer = kafka.consumer({
      groupId: s.groupId,
      maxWaitTimeInMs,
      sessionTimeout: 30_000,
      heartbeatInterval: 3_000,
    });
    this.#runConfig = {
      autoCommit: true,
      // One message per partition at a time, like the engine's per-partition order over 3 partitions.
      partitionsConsumedConcurrently: 3,
      eachMessage: ({ partition, message }) => s.probe.handle(`${partition}/${message.offset}`, s.workMs),
    };
  }

  async start(): Promise<void> {
    await this.#consumer.connect();
    await this.#consumer.subscribe({ topics: [this.#s.topic], fromBeginning: true });
    await this.#consumer.run(this.#runConfig);
    this.#running.resolve();
    this.#watcher = await this.#etcd.watch().key(this.#s.key).create();
    this.#watcher.on('put', (kv) => {
      const on = kv.value.toString() === 'true';
      if (on) this.#switchedOnAt.resolve(performance.now());
      this.#chain = this.#chain.then(() => (on ? this.#stop() : this.#resume()));
    });
  }

  whenSwitchedOn(): Promise<number> {
    return this.#switchedOnAt.promise;
  }

  whenStopped(): Promise<number> {
    return this.#stoppedAt.promise;
  }

  whenRunning(): Promise<void> {
    return this.#running.promise;
  }

  async close(): Promise<void> {
    await this.#watcher?.cancel();
    await this.#chain;
    await this.#consumer.disconnect();
  }

  async #stop(): Promise<void> {
    this.#running = Promise.withResolvers();
    await this.#consumer.stop();
    this.#stoppedAt.resolve(performance.now());
  }

  async #resume(): Promise<void> {
    this.#stoppedAt = Promise.withResolvers();
    this.#switchedOnAt = Promise.withResolvers();
    await this.#consumer.run(this.#runConfig);
    this.#running.resolve();
  }
}
