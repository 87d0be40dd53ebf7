import { KmaintError } from '@kmaint/common';
import kafkajs from 'kafkajs';
import type {
  Admin,
  Consumer,
  EachBatchPayload,
  IHeaders,
  Kafka as KafkaInstance,
  KafkaMessage,
  LogEntry,
  Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import { StallWatch } from '../core/stall-watch.ts';
import type { ConsumedMessage } from '../handler.ts';
import {
  tpKey,
  type Batch,
  type ConsumeOptions,
  type ConsumerSession,
  type KafkaClient,
  type OutgoingMessage,
} from './client.ts';

const { Kafka, Partitioners, logLevel } = kafkajs;

/** kafkajs' default, set explicitly because the stall limit below is derived from it. */
const REBALANCE_TIMEOUT_MS = 60_000;

/** A kafkajs client (`new Kafka(...)`) an application already has. */
export type KafkajsInstance = KafkaInstance;

/** Timing a consumer session shares with the client, whichever way the client is given. */
interface SessionTiming {
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** The fetch long-poll: leaving the group waits it out once, so a drain wants it short. */
  maxWaitTimeMs?: number;
}

/** How a consumer reaches Kafka: brokers to connect to, or a ready kafkajs client (`new Kafka(...)`). */
export type KafkaConnection = ({ brokers: string[]; clientId?: string } | { client: KafkaInstance }) &
  SessionTiming;

export interface KafkajsClientOptions {
  brokers: string[];
  clientId: string;
  /** A ready kafkajs client to use instead of one made from `brokers` and `clientId`. */
  client?: KafkaInstance;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  /** The fetch long-poll: leaving the group waits it out once, so a drain wants it short. */
  maxWaitTimeMs: number;
  /** Partitions whose batches are handled at the same time (the worker pool bounds the messages). */
  partitionsConsumedConcurrently: number;
  logger: Logger;
}

/** kafkajs behind kmaint's KafkaClient: one producer and one admin for the process, a consumer per session. */
export function createKafkajsClient(options: KafkajsClientOptions): KafkaClient {
  const log = options.logger.child({ component: 'kafkajs' });
  const kafka =
    options.client ??
    new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      logLevel: logLevel.INFO,
      logCreator: () => (entry: LogEntry) => {
        const { message, ...extra } = entry.log;
        const fields = { namespace: entry.namespace, ...extra };
        // kafkajs is chatty at INFO (every join and stop); those are the engine's to tell at info.
        if (entry.level === logLevel.ERROR) log.error(fields, message);
        else if (entry.level === logLevel.WARN) log.warn(fields, message);
        else log.debug(fields, message);
      },
    });
  let producer: Producer | null = null;
  let admin: Admin | null = null;

  const ready = (): { producer: Producer; admin: Admin } => {
    if (producer === null || admin === null) {
      throw new KmaintError('KAFKA_NOT_CONNECTED', 'the Kafka client is not connected yet', {
        retriable: true,
      });
    }
    return { producer, admin };
  };

  return {
    async connect() {
      const p = kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: true,
      });
      const a = kafka.admin();
      await Promise.all([p.connect(), a.connect()]);
      producer = p;
      admin = a;
    },

    async consume(opts: ConsumeOptions): Promise<ConsumerSession> {
      const consumer = kafka.consumer({
        groupId: opts.groupId,
        sessionTimeout: options.sessionTimeoutMs,
        heartbeatInterval: options.heartbeatIntervalMs,
        maxWaitTimeInMs: options.maxWaitTimeMs,
        rebalanceTimeout: REBALANCE_TIMEOUT_MS,
        allowAutoTopicCreation: false,
      });
      const { GROUP_JOIN, CRASH, FETCH, FETCH_START, HEARTBEAT, REBALANCING } = consumer.events;
      // A healthy member is never quiet longer than a rebalance plus a session timeout (a member that
      // stops heartbeating is gone by then anyway); past that, give the session up as dead.
      const quietMs = REBALANCE_TIMEOUT_MS + options.sessionTimeoutMs;
      const watch = new StallWatch(quietMs, Date.now());
      for (const event of [FETCH_START, FETCH, HEARTBEAT, REBALANCING, GROUP_JOIN]) {
        consumer.on(event, () => watch.activity(Date.now()));
      }
      consumer.on(GROUP_JOIN, (e) => {
        const assigned: Record<string, number[]> = {};
        for (const [topic, partitions] of Object.entries(e.payload.memberAssignment))
          assigned[topic] = partitions;
        opts.onAssigned(assigned);
        opts.onHealth(true, `member of ${opts.groupId}`);
      });
      const dead = Promise.withResolvers<Error>();
      consumer.on(CRASH, (e) => {
        const { error, restart } = e.payload;
        opts.onHealth(false, `consumer crashed: ${error.message}${restart ? ' (restarting)' : ''}`);
        if (!restart) dead.resolve(error);
      });
      consumer.on(FETCH, () => opts.onHealth(true, `member of ${opts.groupId}`));
      const watchdog = setInterval(() => {
        if (!watch.stalled(Date.now())) return;
        clearInterval(watchdog);
        log.warn({ groupId: opts.groupId, quietMs }, 'the Kafka consumer went quiet; replacing it');
        opts.onHealth(false, `consumer stalled: no fetch for ${quietMs} ms`);
        dead.resolve(
          new KmaintError('KAFKA_CONSUMER_STALLED', `no fetch, heartbeat or batch for ${quietMs} ms`, {
            retriable: true,
          }),
        );
        // Whatever it still holds uncommitted is fetched again by its successor.
        void consumer.disconnect().catch(() => undefined);
      }, 5_000);
      watchdog.unref();
      void dead.promise.then(() => clearInterval(watchdog));
      try {
        await consumer.connect();
        await consumer.subscribe({ topics: opts.topics, fromBeginning: opts.fromBeginning });
        await consumer.run({
          autoCommit: false,
          eachBatchAutoResolve: false,
          partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
          eachBatch: async (payload) => {
            watch.batchStarted(Date.now());
            try {
              await opts.onBatch(toBatch(payload, opts));
            } finally {
              watch.batchEnded(Date.now());
            }
          },
        });
      } catch (err) {
        clearInterval(watchdog);
        await consumer.disconnect().catch(() => undefined);
        throw new KmaintError(
          'KAFKA_CONSUME_FAILED',
          `could not join group ${opts.groupId}: ${message(err)}`,
          {
            retriable: true,
            cause: err,
          },
        );
      }
      return session(consumer, opts.topics, dead.promise, watch, () => clearInterval(watchdog));
    },

    async produce(topic: string, msg: OutgoingMessage) {
      const [meta] = await ready().producer.send({
        topic,
        messages: [{ key: msg.key ?? null, value: msg.value, headers: msg.headers }],
      });
      if (meta === undefined)
        throw new KmaintError('KAFKA_PRODUCE_FAILED', `no acknowledgement from ${topic}`);
      return {
        topic: meta.topicName,
        partition: meta.partition,
        offset: meta.baseOffset ?? meta.offset ?? '-1',
      };
    },

    async topicsInfo(topics: string[]) {
      const { admin: a } = ready();
      const meta = await a.fetchTopicMetadata({ topics });
      return Promise.all(
        meta.topics.map(async (t) => {
          const offsets = await a.fetchTopicOffsets(t.name);
          const byPartition = new Map(offsets.map((o) => [o.partition, o]));
          return {
            topic: t.name,
            partitions: t.partitions
              .map((p) => ({
                partition: p.partitionId,
                leader: p.leader,
                replicas: p.replicas,
                isr: p.isr,
                earliestOffset: byPartition.get(p.partitionId)?.low ?? '0',
                latestOffset: byPartition.get(p.partitionId)?.high ?? '0',
              }))
              .sort((x, y) => x.partition - y.partition),
          };
        }),
      );
    },

    async missingTopics(topics: string[]) {
      const existing = new Set(await ready().admin.listTopics());
      return topics.filter((t) => !existing.has(t));
    },

    async committedOffsets(groupId: string, topics: string[]) {
      const result = await ready().admin.fetchOffsets({ groupId, topics });
      const out = new Map<string, string | null>();
      for (const t of result) {
        for (const p of t.partitions)
          out.set(tpKey(t.topic, p.partition), BigInt(p.offset) < 0n ? null : p.offset);
      }
      return out;
    },

    isUnreachable,

    async close() {
      const p = producer;
      const a = admin;
      producer = null;
      admin = null;
      await Promise.all([p?.disconnect(), a?.disconnect()]);
    },
  };
}

function session(
  consumer: Consumer,
  topics: string[],
  dead: Promise<Error>,
  watch: StallWatch,
  stopWatchdog: () => void,
): ConsumerSession {
  const all = topics.map((topic) => ({ topic }));
  return {
    dead,
    pause: () => {
      watch.pause();
      consumer.pause(all);
    },
    resume: () => {
      watch.resume(Date.now());
      consumer.resume(all);
    },
    // disconnect() stops the fetch loop, waits for running batch handlers (they commit before returning),
    // leaves the group, then closes the connections.
    leave: () => {
      stopWatchdog();
      return consumer.disconnect();
    },
  };
}

function toBatch(payload: EachBatchPayload, opts: ConsumeOptions): Batch {
  const { batch } = payload;
  const { topic, partition } = batch;
  return {
    topic,
    partition,
    messages: batch.messages.map((m) => toMessage(topic, partition, m)),
    nextOffset: (BigInt(batch.lastOffset()) + 1n).toString(),
    heartbeat: () => payload.heartbeat(),
    isRevocation,
    async commit(offset: string) {
      // Straight to the group coordinator in this generation: unlike consumer.commitOffsets(), this path
      // still works while consumer.stop() waits for the batch handlers.
      await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
      opts.onCommit(topic, partition, offset);
    },
    seekLocal(offset: string) {
      payload.resolveOffset((BigInt(offset) - 1n).toString());
    },
  };
}

function toMessage(topic: string, partition: number, m: KafkaMessage): ConsumedMessage {
  return {
    topic,
    partition,
    offset: m.offset,
    key: m.key,
    value: m.value,
    headers: headersToStrings(m.headers),
    timestamp: m.timestamp,
  };
}

function headersToStrings(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    if (value === undefined) continue;
    const last = Array.isArray(value) ? value.at(-1) : value;
    if (last !== undefined) out[name] = last.toString();
  }
  return out;
}

/** The errors after which kafkajs' runner rejoins the group (its own test, plus an unknown member id). */
const REJOIN = new Set([
  'REBALANCE_IN_PROGRESS',
  'NOT_COORDINATOR_FOR_GROUP',
  'ILLEGAL_GENERATION',
  'UNKNOWN_MEMBER_ID',
]);

function isRevocation(err: unknown): boolean {
  return REJOIN.has(String((err as { type?: unknown } | null)?.type));
}

const UNREACHABLE = new Set([
  'KafkaJSConnectionError',
  'KafkaJSConnectionClosedError',
  'KafkaJSRequestTimeoutError',
  'KafkaJSBrokerNotFound',
  'KafkaJSNoBrokerAvailableError',
]);

/** Looks through kafkajs' retry wrappers (`cause`) for a connection-level failure. */
function isUnreachable(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) {
    if (UNREACHABLE.has(e.name)) return true;
  }
  return false;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
