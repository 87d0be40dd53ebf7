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
  PartitionAssigner,
  Producer,
} from 'kafkajs';
import type { Logger } from 'pino';
import { StallWatch } from '../core/stall-watch.ts';
import type { ConsumedMessage } from '../handler.ts';
import {
  tpKey,
  type Batch,
  type ClientChoice,
  type ConsumeOptions,
  type ConsumerSession,
  type KafkaClient,
  type KafkaClientOptions,
  type OutgoingMessage,
} from './client.ts';
import { kafkajsSecurity, kafkaSettingsProblem, type KafkaSasl, type KafkaTls } from './security.ts';

const { Kafka, KafkaJSError, PartitionAssigners, Partitioners, logLevel } = kafkajs;

/** Refuses a join once the consumer is stopping (see refusesToRejoin). */
const LEAVING = 'the consumer is leaving the group';

/**
 * kafkajs' default assigner (round robin: the same name, metadata and assignment on the wire), except that
 * a member that is leaving sends no JoinGroup. kafkajs 2.2.4 heartbeats after a fetch that found nothing,
 * even once stop() has begun, and on REBALANCE_IN_PROGRESS joins the group again without looking at
 * whether it is stopping: a drain that begins while a fetch long-polls, with another member joining, would
 * rejoin, be given partitions and leave (an extra rebalance). The join asks the assigners for their
 * metadata before it sends anything, so refusing here keeps the JoinGroup from being sent on every path
 * that rejoins. The error is retriable: kafkajs' fetch loop tries again, finds it is stopping, and leaves.
 */
export function refusesToRejoin(leaving: () => boolean): PartitionAssigner {
  return (config) => {
    const inner = PartitionAssigners.roundRobin(config);
    return {
      name: inner.name,
      version: inner.version,
      assign: (group) => inner.assign(group),
      protocol: (subscription) => {
        if (leaving()) throw new KafkaJSError(LEAVING, { retriable: true });
        return inner.protocol(subscription);
      },
    };
  };
}

/** kafkajs' default, set explicitly because the stall limit below is derived from it. */
const REBALANCE_TIMEOUT_MS = 60_000;
/**
 * Produce and admin calls give up after about 4 s of retries (kafkajs' default is ~10 s): long enough for
 * a leader election, short enough that an API client with the broker down gets its 503 quickly.
 */
const CALL_RETRY = { retries: 4, initialRetryTime: 250, maxRetryTime: 2_000 };

/** A kafkajs client (`new Kafka(...)`) an application already has. */
export type KafkajsInstance = KafkaInstance;

/** Timing a consumer session shares with the client, whichever way the client is given. */
interface SessionTiming {
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** The fetch long-poll: leaving the group waits it out once, so a drain wants it short. */
  maxWaitTimeMs?: number;
}

/**
 * How a consumer reaches Kafka: brokers to connect to (with TLS and SASL when the listener wants them),
 * or a ready kafkajs client (`new Kafka(...)`, secured as its maker chose).
 */
export type KafkaConnection = (
  { brokers: string[]; clientId?: string; tls?: KafkaTls; sasl?: KafkaSasl } | { client: KafkaInstance }
) &
  SessionTiming &
  ClientChoice;

export interface KafkajsClientOptions extends KafkaClientOptions {
  /** A ready kafkajs client to use instead of one made from `brokers` and `clientId`. */
  client?: KafkaInstance;
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
      ...kafkajsSecurity(options),
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
  interface Connected {
    producer: Producer;
    admin: Admin;
  }
  let connection: Promise<Connected> | null = null;

  /**
   * The producer and admin, connected on first use and again after a failed attempt: a broker that is
   * down at start (or when a call is made) costs that call a 503, not the process.
   */
  const ready = (): Promise<Connected> => {
    connection ??= (async () => {
      const p = kafka.producer({
        createPartitioner: Partitioners.DefaultPartitioner,
        allowAutoTopicCreation: true,
        retry: CALL_RETRY,
      });
      const a = kafka.admin({ retry: CALL_RETRY });
      try {
        await Promise.all([p.connect(), a.connect()]);
      } catch (err) {
        await Promise.all([p.disconnect(), a.disconnect()]).catch(() => undefined);
        throw err;
      }
      return { producer: p, admin: a };
    })().catch((err: unknown) => {
      connection = null;
      throw kafkaSettingsProblem(err, options) ?? asUnavailable(err, 'connect to Kafka');
    });
    return connection;
  };

  /** A call of the producer or admin, with exhausted retries and unreachable brokers turned into 503s. */
  const call = async <T>(doing: string, fn: (c: Connected) => Promise<T>): Promise<T> => {
    const c = await ready();
    try {
      return await fn(c);
    } catch (err) {
      throw asUnavailable(err, doing);
    }
  };

  return {
    async connect() {
      await ready();
    },

    async consume(opts: ConsumeOptions): Promise<ConsumerSession> {
      let leaving = false;
      const consumer = kafka.consumer({
        groupId: opts.groupId,
        partitionAssigners: [refusesToRejoin(() => leaving)],
        sessionTimeout: options.sessionTimeoutMs,
        heartbeatInterval: options.heartbeatIntervalMs,
        maxWaitTimeInMs: options.maxWaitTimeMs,
        rebalanceTimeout: REBALANCE_TIMEOUT_MS,
        allowAutoTopicCreation: false,
        // kafkajs' own restart of a crashed consumer is scheduled on a timer that a disconnect does not
        // always cancel (one that fires during the disconnect joins the group with nothing holding it),
        // and it comes back unpaused: a crash ends the session instead, and the engine joins afresh.
        retry: { retries: 5, restartOnFailure: async () => false },
      });
      const { GROUP_JOIN, CRASH, FETCH, FETCH_START, HEARTBEAT, REBALANCING } = consumer.events;
      // A healthy member is never quiet longer than a rebalance plus a session timeout (a member that
      // stops heartbeating is gone by then anyway); past that, give the session up as dead.
      const quietMs = REBALANCE_TIMEOUT_MS + options.sessionTimeoutMs;
      const watch = new StallWatch(quietMs, Date.now());
      for (const event of [FETCH_START, FETCH, HEARTBEAT, REBALANCING, GROUP_JOIN]) {
        consumer.on(event, () => watch.activity(Date.now()));
      }
      // With fromBeginning false, a partition the group never committed starts at its end at every join:
      // what is produced to it while the member is away (a drain window) would be skipped. Committing
      // that start position at assignment gives the group a position to come back to.
      let settling: Promise<void> = Promise.resolve();
      consumer.on(GROUP_JOIN, (e) => {
        const assigned: Record<string, number[]> = {};
        for (const [topic, partitions] of Object.entries(e.payload.memberAssignment))
          assigned[topic] = partitions;
        opts.onAssigned(assigned, false);
        opts.onHealth(true, `member of ${opts.groupId}`);
        if (!opts.fromBeginning) {
          settling = settling
            .then(async () => commitStartPositions(consumer, opts.groupId, assigned, (await ready()).admin))
            .catch((err: unknown) =>
              log.warn({ err, groupId: opts.groupId }, 'committing start positions failed'),
            );
        }
      });
      /** Every way this adapter ends the consumer: from here on it must not join again. */
      const disconnect = (): Promise<void> => {
        leaving = true;
        return consumer.disconnect();
      };
      const dead = Promise.withResolvers<Error>();
      let crashed: Error | null = null;
      consumer.on(CRASH, (e) => {
        crashed = e.payload.error;
        opts.onHealth(false, `consumer crashed: ${e.payload.error.message}`);
        dead.resolve(e.payload.error);
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
        void disconnect().catch(() => undefined);
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
            } catch (err) {
              if (payload.isRunning()) throw err;
            } finally {
              watch.batchEnded(Date.now());
            }
            // After a batch kafkajs heartbeats, and on REBALANCE_IN_PROGRESS joins the group again even
            // while it stops: the assigner (refusesToRejoin) keeps that join from being sent. Nothing is
            // thrown here to skip the heartbeat: kafkajs' fetch loop answers any error with its retry
            // wait (300 ms) before it sees it is stopping, and every drain would wait it out.
          },
        });
        // run() resolves after the first join, or after a crash of it (kafkajs reports that as an event).
        if (crashed !== null) throw crashed;
      } catch (err) {
        clearInterval(watchdog);
        await disconnect().catch(() => undefined);
        throw new KmaintError(
          'KAFKA_CONSUME_FAILED',
          `could not join group ${opts.groupId}: ${message(err)}`,
          {
            retriable: true,
            cause: err,
          },
        );
      }
      return session(log, consumer, opts.topics, dead.promise, watch, disconnect, () => {
        clearInterval(watchdog);
        return settling;
      });
    },

    async produce(topic: string, msg: OutgoingMessage) {
      const [meta] = await call(`accept a message for ${topic}`, ({ producer }) =>
        producer.send({
          topic,
          messages: [{ key: msg.key ?? null, value: msg.value, headers: msg.headers }],
        }),
      );
      if (meta === undefined)
        throw new KmaintError('KAFKA_PRODUCE_FAILED', `no acknowledgement from ${topic}`);
      return {
        topic: meta.topicName,
        partition: meta.partition,
        offset: meta.baseOffset ?? meta.offset ?? '-1',
      };
    },

    topicsInfo: (topics: string[]) =>
      call('describe the topics', async ({ admin: a }) => {
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
      }),

    async missingTopics(topics: string[]) {
      const existing = new Set(await call('list the topics', ({ admin: a }) => a.listTopics()));
      return topics.filter((t) => !existing.has(t));
    },

    async committedOffsets(groupId: string, topics: string[]) {
      const result = await call('read committed offsets', ({ admin: a }) =>
        a.fetchOffsets({ groupId, topics }),
      );
      const out = new Map<string, string | null>();
      for (const t of result) {
        for (const p of t.partitions)
          out.set(tpKey(t.topic, p.partition), BigInt(p.offset) < 0n ? null : p.offset);
      }
      return out;
    },

    isUnreachable,

    async close() {
      const pending = connection;
      connection = null;
      const c = await pending?.catch(() => null);
      if (c) await Promise.all([c.producer.disconnect(), c.admin.disconnect()]);
    },
  };
}

function session(
  log: Logger,
  consumer: Consumer,
  topics: string[],
  dead: Promise<Error>,
  watch: StallWatch,
  disconnect: () => Promise<void>,
  /** Stops the stall watch; resolves once the start positions of the last assignment are committed. */
  stopWatchdog: () => Promise<void>,
): ConsumerSession {
  const all = topics.map((topic) => ({ topic }));
  return {
    dead,
    // kafkajs throws from pause/resume while its consumer group is gone (a crash mid-way): the session is
    // dead then and `dead` says so; a drain must go on rather than be skipped by the throw.
    pause: () => {
      watch.pause();
      try {
        consumer.pause(all);
      } catch (err) {
        log.warn({ err }, 'pausing a consumer that is gone');
      }
    },
    resume: () => {
      watch.resume(Date.now());
      try {
        consumer.resume(all);
      } catch (err) {
        log.warn({ err }, 'resuming a consumer that is gone');
      }
    },
    // disconnect() stops the fetch loop, waits for running batch handlers (they commit before returning)
    // and for a fetch in flight, leaves the group, then closes the connections.
    leave: async () => {
      await stopWatchdog();
      await disconnect();
    },
  };
}

/**
 * Commits, for the assigned partitions the group has no committed offset for, their current end: the
 * position a consumer without fromBeginning starts at. (A message produced between the consumer's own
 * look-up and this one is fetched anyway; the processor's later commits replace this one.)
 */
async function commitStartPositions(
  consumer: Consumer,
  groupId: string,
  assigned: Record<string, number[]>,
  admin: Admin,
): Promise<void> {
  const topics = Object.keys(assigned);
  if (topics.length === 0) return;
  const committed = await admin.fetchOffsets({ groupId, topics });
  for (const { topic, partitions } of committed) {
    const mine = new Set(assigned[topic] ?? []);
    const uncommitted = partitions.filter((p) => mine.has(p.partition) && BigInt(p.offset) < 0n);
    if (uncommitted.length === 0) continue;
    const ends = new Map((await admin.fetchTopicOffsets(topic)).map((o) => [o.partition, o.high]));
    await consumer.commitOffsets(
      uncommitted.map((p) => ({ topic, partition: p.partition, offset: ends.get(p.partition) ?? '0' })),
    );
  }
}

function toBatch(payload: EachBatchPayload, opts: ConsumeOptions): Batch {
  const { batch } = payload;
  const { topic, partition } = batch;
  return {
    topic,
    partition,
    offsets: batch.messages.map((m) => m.offset),
    message: (index) => toMessage(topic, partition, batch.messages[index] as KafkaMessage),
    key: (index) => batch.messages[index]?.key ?? null,
    nextOffset: (BigInt(batch.lastOffset()) + 1n).toString(),
    heartbeat: () => payload.heartbeat(),
    isRevocation,
    async commit(offset: string) {
      // Straight to the group coordinator in this generation: unlike consumer.commitOffsets(), this path
      // still works while consumer.stop() waits for the batch handlers.
      try {
        await payload.commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset }] }] });
      } catch (err) {
        // This path has no retries of its own. A coordinator that moved or is loading the group (the
        // broker answered) is worth another try; so is a broker that does not answer, which the processor
        // tells apart (KAFKA_UNAVAILABLE) and waits for outside a drain only. A newer generation or a
        // rebalance in progress is not retriable.
        const what = `commit of ${topic}/${partition} at ${offset}: ${message(err)}`;
        if (isUnreachable(err))
          throw new KmaintError('KAFKA_UNAVAILABLE', what, { retriable: true, cause: err });
        throw new KmaintError('COMMIT_FAILED', what, { retriable: retriableCause(err), cause: err });
      }
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
  if (headers === undefined) return out;
  // Once per message: no [name, value] pair per header.
  for (const name of Object.keys(headers)) {
    const value = headers[name];
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

/** kafkajs' names for a protocol error it may recover from (leader moved, coordinator loading, ...). */
function retriableCause(err: unknown): boolean {
  for (let e = err; e instanceof Error; e = (e as Error & { cause?: unknown }).cause) {
    if ((e as { retriable?: unknown }).retriable === true) return true;
  }
  return false;
}

/**
 * kafkajs wraps exhausted retries in a non-retriable KafkaJSNumberOfRetriesExceeded: what matters is why
 * they were exhausted. An unreachable broker or a retriable cause (a leader that moved) is
 * KAFKA_UNAVAILABLE (503, try again); a refused request keeps its own error (its `type` says why).
 */
function asUnavailable(err: unknown, doing: string): unknown {
  if (err instanceof KmaintError) return err;
  const exhausted = err instanceof Error && err.name === 'KafkaJSNumberOfRetriesExceeded';
  if (isUnreachable(err) || retriableCause(err) || (exhausted && retriableCause((err as Error).cause))) {
    return new KmaintError('KAFKA_UNAVAILABLE', `Kafka did not ${doing}: ${message(err)}`, {
      retriable: true,
      cause: err,
    });
  }
  return err;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The connection a start-up check needs: what createKafkajsClient would connect with. */
export type KafkaAccess = Pick<KafkajsClientOptions, 'brokers' | 'clientId' | 'client' | 'tls' | 'sasl'>;

/**
 * One connection attempt at start, without retries: wrong TLS or SASL settings throw the KmaintError of
 * kafkaSettingsProblem, so a misconfigured consumer says why and stops instead of rejoining forever. A
 * broker that is down (or slow) passes: that is an outage, which the engine rides out. A ready client
 * is its maker's to check.
 */
export async function checkKafkaAccess(access: KafkaAccess): Promise<void> {
  if (access.client !== undefined) return;
  const admin = new Kafka({
    clientId: access.clientId,
    brokers: access.brokers,
    ...kafkajsSecurity(access),
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
  } catch (err) {
    const problem = kafkaSettingsProblem(err, access);
    if (problem) throw problem;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
